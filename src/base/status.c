/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.c - names of the status codes.
 */
#include "modax/status.h"

const char *mdx_strerror(int status)
{
    switch (status) {
    case MDX_OK: return "ok";
    case MDX_ENOMEM: return "out of memory";
    case MDX_EINVAL: return "invalid input";
    case MDX_EIO: return "input/output error";
    case MDX_EBUSY: return "busy or locked";
    case MDX_ENOTFOUND: return "not found";
    case MDX_EEXIST: return "already exists";
    case MDX_EFULL: return "full";
    case MDX_ECONF: return "invalid configuration";
    case MDX_ESTORE: return "store error";
    case MDX_EAGAIN: return "temporary failure";
    case MDX_ECONN: return "connection failed";
    case MDX_ERANGE: return "out of range";
    case MDX_ECORRUPT: return "corrupt data";
    case MDX_ESTOPPED: return "stopped";
    case MDX_EDENIED: return "denied";
    default: return "unknown error";
    }
}

int mdx_status_is_transient(int status)
{
    return status == MDX_EBUSY || status == MDX_EFULL || status == MDX_EIO ||
           status == MDX_EAGAIN || status == MDX_ECONN;
}
