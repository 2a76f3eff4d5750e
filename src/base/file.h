/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.h - a small file read whole into a string (file.c), the way
 * secrets and tokens are kept: *_FILE secrets of the config, projected
 * service-account tokens of EKS and AKS.
 */
#ifndef MODAX_BASE_FILE_H
#define MODAX_BASE_FILE_H

#include <stddef.h>

/*
 * Reads 'path' into a new string *out (the caller wipes it with
 * mdx_memzero and frees it), its trailing CR and LF cut; the read buffer
 * is wiped. MDX_OK; MDX_ENOTFOUND when it cannot be opened (errno says
 * why); MDX_EIO on a read error; MDX_EFULL when it holds more than 'max'
 * bytes; MDX_ENOMEM.
 */
int mdx_read_secret_file(const char *path, size_t max, char **out);
/*
 * A token file (a cloud's projected service-account token): its text, a
 * new string the caller wipes and frees, or NULL with "<what> PATH is
 * empty|too long|unreadable" in 'why'.
 */
char *mdx_read_token_file(const char *what, const char *path, size_t max, char *why,
                          size_t why_len);

#endif
