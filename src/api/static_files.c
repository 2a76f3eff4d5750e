/* SPDX-License-Identifier: Apache-2.0 */
/*
 * static_files.c - the dashboard's built files under api.web_dir, for GET
 * paths outside /api/: "/" is index.html, a path without an extension that
 * names no file is index.html too (the app's own routes).
 *
 * Nothing outside web_dir is ever opened: the decoded path is refused when
 * a segment is empty, "." or "..", or starts with a dot, or when it holds a
 * backslash, a control character or a '%' left encoded (%00); the file is
 * then opened with openat2(RESOLVE_BENEATH) below web_dir's descriptor
 * (a realpath() prefix check on kernels without openat2), and must be a
 * regular file. Files are sent from their descriptor (constant memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/api_int.h"
#include "api/reply.h"

#define PATH_MAX_LEN 1024

struct ctype {
    const char *ext;
    const char *type;
};

static const struct ctype ctypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".txt", "text/plain; charset=utf-8"},
    {NULL, NULL},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot != NULL && strchr(dot, '/') == NULL) {
        for (const struct ctype *c = ctypes; c->ext != NULL; c++) {
            if (strcmp(dot, c->ext) == 0) {
                return c->type;
            }
        }
    }
    return "application/octet-stream";
}

/* 0 if 'url' is a path we may look up below web_dir, else -1. */
static int path_safe(const char *url)
{
    const char *seg = url + 1;

    if (url[0] != '/' || strlen(url) > PATH_MAX_LEN) {
        return -1;
    }
    for (const char *p = url; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '\\' || c == '%') {
            return -1;
        }
    }
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash != NULL ? (size_t)(slash - seg) : strlen(seg);
        /* An empty segment is only allowed last ("/" or "/dir/"). */
        if ((len == 0 && slash != NULL) || (len > 0 && seg[0] == '.')) {
            return -1;
        }
        if (slash == NULL) {
            return 0;
        }
        seg = slash + 1;
    }
}

/* Opens 'rel' below 'dfd' without leaving it; -1 with errno. */
static int open_beneath(int dfd, const char *root, const char *rel)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    char full[PATH_MAX_LEN + PATH_MAX], real_root[PATH_MAX], real[PATH_MAX];
    long fd = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
    size_t n;

    if (fd >= 0 || errno != ENOSYS) {
        return (int)fd;
    }
    /* No openat2: resolve both and check that the file is inside the root. */
    snprintf(full, sizeof(full), "%s/%s", root, rel);
    if (realpath(root, real_root) == NULL || realpath(full, real) == NULL) {
        return -1;
    }
    n = strlen(real_root);
    if (strncmp(real, real_root, n) != 0 || real[n] != '/') {
        errno = EACCES;
        return -1;
    }
    return open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

/* Sends the regular file 'rel' below web_dir; 0 if sent, -1 if there is none. */
static int send_file(struct api_req *r, int dfd, const char *root, const char *rel)
{
    struct MHD_Response *resp;
    struct stat st;
    int fd = open_beneath(dfd, root, rel);

    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* takes fd */
    if (resp == NULL) {
        close(fd);
        api_error(r, 500, "internal", "out of memory");
        return 0;
    }
    MHD_add_response_header(resp, "Content-Type", content_type(rel));
    /* Built assets carry a content hash in their names; the rest is checked each time. */
    MHD_add_response_header(resp, "Cache-Control", strncmp(rel, "assets/", 7) == 0
                                                       ? "public, max-age=31536000, immutable"
                                                       : "no-cache");
    /* The dashboard calls only its own origin. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                            "img-src 'self' data:; frame-ancestors 'none'");
    api_reply_response(r, 200, resp); /* adds nosniff, no referrer, no framing */
    return 0;
}

void api_static_serve(struct api_req *r)
{
    const char *root = r->api->conf->web_dir;
    char rel[PATH_MAX_LEN + 16];
    const char *last;
    size_t len;
    int dfd;

    if (path_safe(r->url) != 0) {
        api_error(r, 404, "not_found", "not found");
        return;
    }
    if (root == NULL || root[0] == '\0') {
        api_error(r, 404, "not_found", "no dashboard here: api.web_dir is not set");
        return;
    }
    dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        api_error(r, 404, "not_found",
                  "the dashboard is not built: api.web_dir '%s' does not exist; build the "
                  "dashboard (web/) into it", root);
        return;
    }
    len = strlen(r->url + 1);
    snprintf(rel, sizeof(rel), "%s%s", r->url + 1,
             len == 0 || r->url[len] == '/' ? "index.html" : "");
    if (send_file(r, dfd, root, rel) != 0) {
        last = strrchr(r->url, '/');
        /* An app route ("/devices/press-1"), not a file: the app itself. */
        if (strchr(last, '.') != NULL || send_file(r, dfd, root, "index.html") != 0) {
            api_error(r, 404, "not_found", "no such file: %.200s", r->url);
        }
    }
    close(dfd);
}
