/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_cloud.h - test hooks of the S3 and Azure Blob object stores.
 *
 * Only tests call these: they shift the signing clock (to provoke the
 * servers' clock-skew refusal), shrink list pages (to exercise
 * continuation), and show the URLs a store builds. Internal to src/archive
 * and tests/.
 */
#ifndef MODAX_ARCHIVE_OBJSTORE_CLOUD_H
#define MODAX_ARCHIVE_OBJSTORE_CLOUD_H

#include <stdint.h>

/*
 * 'os' is a store made by mdx_objstore_s3.create. Requests are signed at
 * now + clock_offset_ms; list pages ask for at most page_keys keys
 * (0 keeps the default, 1000).
 */
void mdx_s3_test_hooks(void *os, int64_t clock_offset_ms, int page_keys);
/* The URL the store uses for 'key' (encoded), a new string the caller frees. */
char *mdx_s3_test_url(void *os, const char *key);

/* The same for a store made by mdx_objstore_azure.create (default page 5000). */
void mdx_azure_test_hooks(void *os, int64_t clock_offset_ms, int page_keys);
char *mdx_azure_test_url(void *os, const char *key);

#endif
