/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.h - status codes shared by every module.
 *
 * Functions that can fail return MDX_OK (0) or a negative MDX_E* code.
 * Verdicts (accept/reject, done/retry) have their own enums elsewhere.
 */
#ifndef MODAX_STATUS_H
#define MODAX_STATUS_H

enum mdx_status {
    MDX_OK = 0,
    MDX_ENOMEM = -1,   /* allocation failed */
    MDX_EINVAL = -2,   /* invalid argument or input */
    MDX_EIO = -3,      /* file or device I/O failed */
    MDX_EBUSY = -4,    /* resource locked or busy; retry later */
    MDX_ENOTFOUND = -5,/* no such object */
    MDX_EEXIST = -6,   /* object exists already */
    MDX_EFULL = -7,    /* bounded container or disk full */
    MDX_ECONF = -8,    /* configuration invalid */
    MDX_ESTORE = -9,   /* store failed (not retryable) */
    MDX_EAGAIN = -10,  /* temporary failure; retry */
    MDX_ECONN = -11,   /* network connection failed */
    MDX_ERANGE = -12,  /* value out of range */
    MDX_ECORRUPT = -13,/* stored data failed its check */
    MDX_ESTOPPED = -14,/* the component is shutting down */
    MDX_EDENIED = -15  /* refused by a peer: credentials, permissions, clock skew */
};

/* Name of 'status', e.g. "busy". Static string; never NULL. */
const char *mdx_strerror(int status);

/* True for failures worth retrying later (busy, full disk, I/O, lost connection). */
int mdx_status_is_transient(int status);

#endif
