/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_local.c - the local-directory object store: one file per object.
 *
 * Key "a/b/c.csv.gz" is the file ROOT/a/b/c.csv.gz. Keys are checked so
 * that no key reaches outside ROOT: no "..", "." or other segment starting
 * with '.', no leading '/', no empty segment, no control byte, at most
 * KEY_MAX bytes. A put writes a hidden temp file in the target directory,
 * fsyncs it, renames it over the key and fsyncs the directory, so a reader
 * sees the old object or the new one, never a part, even after a crash.
 * Temp files start with '.', which no key segment may, so a listing never
 * shows them. ENOSPC/EDQUOT/EFBIG are MDX_EFULL; EACCES/EPERM/EROFS are
 * MDX_EDENIED.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modax/alloc.h"
#include "modax/objstore.h"
#include "modax/status.h"

#define KEY_MAX 1024
#define PATH_BYTES 4096
#define LIST_DEPTH_MAX 32   /* directory levels a listing descends */

struct local {
    char *root;
    char err[256];          /* last failure: a path and strerror, never a secret */
};

static atomic_uint tmp_seq;

static int status_of(int e)
{
    switch (e) {
    case ENOENT: return MDX_ENOTFOUND;
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return MDX_EFULL;
    case EACCES:
    case EPERM:
    case EROFS: return MDX_EDENIED;
    case ENOMEM: return MDX_ENOMEM;
    case EINTR:
    case EAGAIN: return MDX_EAGAIN;
    default: return MDX_EIO;
    }
}

/* Records errno 'e' for 'what' on 'path' and returns its status. */
static int fail(struct local *l, const char *what, const char *path, int e)
{
    if (snprintf(l->err, sizeof(l->err), "%s %s: %s", what, path, strerror(e)) < 0) {
        l->err[0] = '\0';
    }
    return status_of(e);
}

/* 1 if 'key' is a safe relative path; 'partial' allows "" and a trailing '/' (list prefixes). */
static int key_valid(const char *key, int partial)
{
    size_t len = strnlen(key, KEY_MAX + 1);
    int seg_start = 1;

    if (len > KEY_MAX || (len == 0 && !partial)) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c < 0x20 || c == 0x7f || c == '\\') {
            return 0;
        }
        if (seg_start && (c == '/' || c == '.')) {
            return 0; /* leading '/', empty segment, "." / ".." / hidden names */
        }
        seg_start = c == '/';
    }
    return partial || !seg_start || len == 0;
}

static int path_of(const struct local *l, const char *key, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", l->root, key);

    return n > 0 && (size_t)n < len ? MDX_OK : MDX_EINVAL;
}

/* Creates every directory of 'path' up to its last '/', below the root. */
static int make_parents(struct local *l, char *path)
{
    size_t root_len = strlen(l->root);

    for (char *p = path + root_len + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            int rc = fail(l, "mkdir", path, errno);
            *p = '/';
            return rc;
        }
        *p = '/';
    }
    return MDX_OK;
}

static int fsync_dir_of(struct local *l, char *path)
{
    char *slash = strrchr(path, '/');
    int fd, rc = MDX_OK;

    *slash = '\0';
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        rc = fail(l, "fsync", path, errno);
    }
    if (fd >= 0) {
        close(fd);
    }
    *slash = '/';
    return rc;
}

static void *local_create(const struct mdx_objstore_conf *conf, int *err)
{
    struct local *l;
    size_t len;

    if (conf->local_dir == NULL || conf->local_dir[0] == '\0') {
        *err = MDX_ECONF;
        return NULL;
    }
    l = mdx_calloc(1, sizeof(*l));
    if (l == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    l->root = mdx_strdup(conf->local_dir);
    if (l->root == NULL) {
        mdx_free(l);
        *err = MDX_ENOMEM;
        return NULL;
    }
    len = strlen(l->root);
    while (len > 1 && l->root[len - 1] == '/') {
        l->root[--len] = '\0';
    }
    /* Only the last level is created: a missing parent is a configuration mistake. */
    if (mkdir(l->root, 0755) != 0 && errno != EEXIST) {
        *err = status_of(errno);
        mdx_free(l->root);
        mdx_free(l);
        return NULL;
    }
    *err = MDX_OK;
    return l;
}

static void local_destroy(void *os)
{
    struct local *l = os;

    if (l == NULL) {
        return;
    }
    mdx_free(l->root);
    mdx_free(l);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int local_put(void *os, const char *key, const void *data, size_t len, const char *tier)
{
    struct local *l = os;
    char path[PATH_BYTES], tmp[PATH_BYTES];
    char *slash;
    int fd = -1, rc;

    (void)tier; /* a directory has one tier */
    if (!key_valid(key, 0) || path_of(l, key, path, sizeof(path)) != MDX_OK) {
        snprintf(l->err, sizeof(l->err), "invalid object key");
        return MDX_EINVAL;
    }
    rc = make_parents(l, path);
    if (rc != MDX_OK) {
        return rc;
    }
    slash = strrchr(path, '/');
    if (snprintf(tmp, sizeof(tmp), "%.*s/.tmp-%ld-%u", (int)(slash - path), path, (long)getpid(),
                 atomic_fetch_add(&tmp_seq, 1)) >= (int)sizeof(tmp)) {
        return MDX_EINVAL;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail(l, "create", tmp, errno);
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = fail(l, "write", tmp, errno);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = fail(l, "close", tmp, errno);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = fail(l, "rename", path, errno);
        goto fail;
    }
    return fsync_dir_of(l, path);

fail:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return rc;
}

static int local_get(void *os, const char *key, void **data, size_t *len, size_t max)
{
    struct local *l = os;
    char path[PATH_BYTES];
    struct stat sb;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd, rc = MDX_OK;

    *data = NULL;
    *len = 0;
    if (!key_valid(key, 0) || path_of(l, key, path, sizeof(path)) != MDX_OK) {
        snprintf(l->err, sizeof(l->err), "invalid object key");
        return MDX_EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(l, "open", path, errno);
    }
    if (fstat(fd, &sb) != 0) {
        rc = fail(l, "stat", path, errno);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = MDX_ENOTFOUND;
        goto out;
    }
    if ((uint64_t)sb.st_size > max) {
        if (snprintf(l->err, sizeof(l->err), "%s: larger than %zu bytes", path, max) < 0) {
            l->err[0] = '\0';
        }
        rc = MDX_ERANGE;
        goto out;
    }
    buf = mdx_malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        rc = MDX_ENOMEM;
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = n < 0 ? fail(l, "read", path, errno) : MDX_EIO;
            goto out;
        }
        got += (size_t)n;
    }
    *data = buf;
    *len = got;
    buf = NULL;

out:
    mdx_free(buf);
    close(fd);
    return rc;
}

static int local_head(void *os, const char *key, struct mdx_obj_info *info)
{
    struct local *l = os;
    char path[PATH_BYTES];
    struct stat sb;

    if (!key_valid(key, 0) || path_of(l, key, path, sizeof(path)) != MDX_OK) {
        snprintf(l->err, sizeof(l->err), "invalid object key");
        return MDX_EINVAL;
    }
    if (stat(path, &sb) != 0) {
        return errno == ENOTDIR ? MDX_ENOTFOUND : fail(l, "stat", path, errno);
    }
    if (!S_ISREG(sb.st_mode)) {
        return MDX_ENOTFOUND;
    }
    info->size = (int64_t)sb.st_size;
    info->mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    info->sha256[0] = '\0'; /* no tiers here: the archiver reads the file back */
    return MDX_OK;
}

static int local_del(void *os, const char *key)
{
    struct local *l = os;
    char path[PATH_BYTES];
    size_t root_len = strlen(l->root);
    char *slash;

    if (!key_valid(key, 0) || path_of(l, key, path, sizeof(path)) != MDX_OK) {
        snprintf(l->err, sizeof(l->err), "invalid object key");
        return MDX_EINVAL;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        return errno == ENOTDIR ? MDX_OK : fail(l, "unlink", path, errno);
    }
    /* Empty partition directories go too; a directory that is not empty stays. */
    while ((slash = strrchr(path, '/')) != NULL && (size_t)(slash - path) > root_len) {
        *slash = '\0';
        if (rmdir(path) != 0) {
            break;
        }
    }
    return MDX_OK;
}

struct keys {
    char **v;
    size_t n, cap;
};

static int keys_add(struct keys *k, const char *key)
{
    char **v = mdx_grow(k->v, &k->cap, k->n + 1, sizeof(*v), 64);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    k->v = v;
    k->v[k->n] = mdx_strdup(key);
    if (k->v[k->n] == NULL) {
        return MDX_ENOMEM;
    }
    k->n++;
    return MDX_OK;
}

/* Collects the keys of regular files below ROOT/rel (rel "" or ending in '/') that start with prefix. */
static int walk(struct local *l, char *rel, size_t rel_len, const char *prefix, struct keys *out,
                int depth)
{
    char path[PATH_BYTES];
    DIR *d;
    struct dirent *e;
    int rc = MDX_OK;

    if (depth > LIST_DEPTH_MAX || path_of(l, rel, path, sizeof(path)) != MDX_OK) {
        return MDX_OK;
    }
    d = opendir(path);
    if (d == NULL) {
        return errno == ENOENT || errno == ENOTDIR ? MDX_OK : fail(l, "opendir", path, errno);
    }
    while (rc == MDX_OK && (e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name), plen = strlen(prefix);
        size_t cmp;
        unsigned char type;

        if (e->d_name[0] == '.' || rel_len + nl + 2 > KEY_MAX) {
            continue; /* ".", "..", temp files; nothing a key can name */
        }
        memcpy(rel + rel_len, e->d_name, nl + 1);
        /* Prune: the name so far must agree with the prefix where both have bytes. */
        cmp = rel_len + nl < plen ? rel_len + nl : plen;
        if (memcmp(rel, prefix, cmp) != 0) {
            continue;
        }
        type = e->d_type;
        if (type == DT_UNKNOWN) {
            struct stat sb;
            if (path_of(l, rel, path, sizeof(path)) == MDX_OK && lstat(path, &sb) == 0) {
                type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : DT_UNKNOWN;
            }
        }
        if (type == DT_DIR) {
            rel[rel_len + nl] = '/';
            rel[rel_len + nl + 1] = '\0';
            rc = walk(l, rel, rel_len + nl + 1, prefix, out, depth + 1);
        } else if (type == DT_REG) {
            if (rel_len + nl >= plen && key_valid(rel, 0)) {
                rc = keys_add(out, rel);
            }
        }
    }
    closedir(d);
    return rc;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int local_list(void *os, const char *prefix,
                      int (*fn)(void *arg, const char *key, const struct mdx_obj_info *info),
                      void *arg)
{
    struct local *l = os;
    struct keys k = {NULL, 0, 0};
    char rel[KEY_MAX + 2];
    int rc;

    if (prefix == NULL) {
        prefix = "";
    }
    if (!key_valid(prefix, 1)) {
        snprintf(l->err, sizeof(l->err), "invalid key prefix");
        return MDX_EINVAL;
    }
    rel[0] = '\0';
    rc = walk(l, rel, 0, prefix, &k, 0);
    if (rc == MDX_OK && k.n > 1) {
        qsort(k.v, k.n, sizeof(*k.v), cmp_key);
    }
    for (size_t i = 0; i < k.n && rc == MDX_OK; i++) {
        struct mdx_obj_info info = {0, 0, ""};

        rc = local_head(l, k.v[i], &info);
        if (rc == MDX_ENOTFOUND) {
            rc = MDX_OK; /* deleted meanwhile */
            continue;
        }
        if (rc == MDX_OK) {
            rc = fn(arg, k.v[i], &info);
        }
    }
    for (size_t i = 0; i < k.n; i++) {
        mdx_free(k.v[i]);
    }
    mdx_free(k.v);
    return rc;
}

static const char *local_last_error(void *os)
{
    const struct local *l = os;

    return l->err[0] != '\0' ? l->err : "no error";
}

const struct mdx_objstore_ops mdx_objstore_local = {
    .name = "local",
    .create = local_create,
    .destroy = local_destroy,
    .put = local_put,
    .get = local_get,
    .head = local_head,
    .del = local_del,
    .list = local_list,
    .last_error = local_last_error,
};
