/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_objstore_local.c - the local-directory object store (issue 3):
 * put/get/head/del/list, atomic replacement, keys that would escape the
 * root, a full disk and a broken directory.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/objstore.h"
#include "modax/status.h"
#include "support/support.h"

static char dir[512], root[600];

static struct mdx_objstore *open_local(const char *name)
{
    struct mdx_objstore_conf conf = {.kind = "local"};
    int err = 0;
    struct mdx_objstore *os;

    tmp_make(dir, sizeof(dir), name);
    snprintf(root, sizeof(root), "%s/objects", dir);
    conf.local_dir = root;
    os = mdx_objstore_open(&conf, &err);
    CHECK(os != NULL && err == MDX_OK);
    return os;
}

static void done(struct mdx_objstore *os)
{
    mdx_objstore_close(os);
    tmp_remove(dir);
}

static void put_get_head_delete(void)
{
    struct mdx_objstore *os = open_local("os-basic");
    const char *key = "tenant=a/device=d/date=2025-01-01/points-1.csv.gz";
    struct mdx_obj_info info = {0, 0, ""};
    void *data = NULL;
    size_t len = 0;
    char path[1024];
    struct stat sb;

    CHECK(os->ops->head(os->impl, key, &info) == MDX_ENOTFOUND);
    CHECK(os->ops->get(os->impl, key, &data, &len, 100) == MDX_ENOTFOUND);
    CHECK(os->ops->put(os->impl, key, "hello", 5, "Cool") == MDX_OK);
    CHECK(os->ops->head(os->impl, key, &info) == MDX_OK);
    CHECK_EQ_INT(info.size, 5);
    CHECK(info.mtime_ms > 0);
    CHECK(os->ops->get(os->impl, key, &data, &len, 100) == MDX_OK);
    CHECK(len == 5 && memcmp(data, "hello", 5) == 0);
    mdx_free(data);
    CHECK(os->ops->get(os->impl, key, &data, &len, 4) == MDX_ERANGE);
    CHECK(data == NULL);
    /* Replaced as a whole. */
    CHECK(os->ops->put(os->impl, key, "hi", 2, NULL) == MDX_OK);
    CHECK(os->ops->get(os->impl, key, &data, &len, 100) == MDX_OK);
    CHECK(len == 2 && memcmp(data, "hi", 2) == 0);
    mdx_free(data);
    /* An empty object is an object. */
    CHECK(os->ops->put(os->impl, "empty", "", 0, NULL) == MDX_OK);
    CHECK(os->ops->head(os->impl, "empty", &info) == MDX_OK && info.size == 0);
    /* Deleting removes the emptied partition folders, and a missing object is fine. */
    CHECK(os->ops->del(os->impl, key) == MDX_OK);
    CHECK(os->ops->del(os->impl, key) == MDX_OK);
    CHECK(os->ops->head(os->impl, key, &info) == MDX_ENOTFOUND);
    snprintf(path, sizeof(path), "%s/tenant=a", root);
    CHECK(stat(path, &sb) != 0);
    CHECK(stat(root, &sb) == 0);
    /* A folder is not an object. */
    CHECK(os->ops->put(os->impl, "x/y", "1", 1, NULL) == MDX_OK);
    CHECK(os->ops->head(os->impl, "x", &info) == MDX_ENOTFOUND);
    CHECK(os->ops->get(os->impl, "x", &data, &len, 10) == MDX_ENOTFOUND);
    done(os);
}

static void keys_that_escape_the_root_are_refused(void)
{
    static const char *const bad[] = {
        "../evil", "a/../../evil", "/etc/passwd", "a//b", "a/./b", ".", "..", ".hidden",
        "a/.tmp-1", "a/", "", "a\\b", "a\nb", "a\tb", "a/\x7f", NULL,
    };
    struct mdx_objstore *os = open_local("os-keys");
    struct mdx_obj_info info;
    void *data = NULL;
    size_t len;
    char longkey[1100];

    for (int i = 0; bad[i] != NULL; i++) {
        CHECK(os->ops->put(os->impl, bad[i], "x", 1, NULL) == MDX_EINVAL);
        CHECK(os->ops->get(os->impl, bad[i], &data, &len, 10) == MDX_EINVAL);
        CHECK(os->ops->head(os->impl, bad[i], &info) == MDX_EINVAL);
        CHECK(os->ops->del(os->impl, bad[i]) == MDX_EINVAL);
    }
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK(os->ops->put(os->impl, longkey, "x", 1, NULL) == MDX_EINVAL);
    CHECK(access("/tmp/evil", F_OK) != 0 || 1);
    {
        char p[1024];
        snprintf(p, sizeof(p), "%s/evil", dir);
        CHECK(access(p, F_OK) != 0);
    }
    CHECK(strcmp(os->ops->last_error(os->impl), "invalid object key") == 0);
    done(os);
}

struct listed {
    char keys[16][128];
    int64_t sizes[16];
    int n;
};

static int on_key(void *arg, const char *key, const struct mdx_obj_info *info)
{
    struct listed *l = arg;

    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
        l->sizes[l->n] = info->size;
    }
    l->n++;
    return MDX_OK;
}

static int stop_at_two(void *arg, const char *key, const struct mdx_obj_info *info)
{
    (void)key;
    (void)info;
    return ++*(int *)arg == 2 ? MDX_ESTOPPED : MDX_OK;
}

static void list_is_recursive_sorted_and_filtered(void)
{
    struct mdx_objstore *os = open_local("os-list");
    struct listed l;
    char stray[1024];
    FILE *f;
    int n = 0;

    CHECK(os->ops->put(os->impl, "t=b/d=1/x", "1", 1, NULL) == MDX_OK);
    CHECK(os->ops->put(os->impl, "t=a/d=2/y", "22", 2, NULL) == MDX_OK);
    CHECK(os->ops->put(os->impl, "t=a/d=1/z", "333", 3, NULL) == MDX_OK);
    CHECK(os->ops->put(os->impl, "t=a-c", "4444", 4, NULL) == MDX_OK);
    CHECK(os->ops->put(os->impl, "t=a/d=1/a", "5", 1, NULL) == MDX_OK);
    /* A temp file of an interrupted put is never listed. */
    snprintf(stray, sizeof(stray), "%s/t=a/d=1/.tmp-99-1", root);
    f = fopen(stray, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fclose(f);
    }

    memset(&l, 0, sizeof(l));
    CHECK(os->ops->list(os->impl, "", on_key, &l) == MDX_OK);
    CHECK_EQ_INT(l.n, 5);
    CHECK_STR(l.keys[0], "t=a-c");
    CHECK_STR(l.keys[1], "t=a/d=1/a");
    CHECK_STR(l.keys[2], "t=a/d=1/z");
    CHECK_STR(l.keys[3], "t=a/d=2/y");
    CHECK_STR(l.keys[4], "t=b/d=1/x");
    CHECK_EQ_INT(l.sizes[2], 3);

    memset(&l, 0, sizeof(l));
    CHECK(os->ops->list(os->impl, "t=a/", on_key, &l) == MDX_OK);
    CHECK_EQ_INT(l.n, 3);
    memset(&l, 0, sizeof(l));
    CHECK(os->ops->list(os->impl, "t=a/d=1/", on_key, &l) == MDX_OK);
    CHECK_EQ_INT(l.n, 2);
    memset(&l, 0, sizeof(l));
    CHECK(os->ops->list(os->impl, "t=a", on_key, &l) == MDX_OK);
    CHECK_EQ_INT(l.n, 4); /* a plain prefix, not a folder */
    memset(&l, 0, sizeof(l));
    CHECK(os->ops->list(os->impl, "nothing/", on_key, &l) == MDX_OK);
    CHECK_EQ_INT(l.n, 0);
    CHECK(os->ops->list(os->impl, "../", on_key, &l) == MDX_EINVAL);
    CHECK(os->ops->list(os->impl, "", stop_at_two, &n) == MDX_ESTOPPED);
    CHECK_EQ_INT(n, 2);
    done(os);
}

static void disk_full_is_reported_and_leaves_nothing(void)
{
    struct mdx_objstore *os = open_local("os-full");
    pid_t pid;
    int status = 0;
    struct listed l;
    DIR *d;
    struct dirent *e;
    char path[1024];
    int files = 0;

    CHECK(os->ops->put(os->impl, "k/old", "old", 3, NULL) == MDX_OK);
    pid = fork();
    if (pid == 0) {
        /* ENOSPC without root: writes beyond RLIMIT_FSIZE fail with EFBIG. */
        struct rlimit rl = {4096, 4096};
        static char big[65536];
        int rc1, rc2;

        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        rc1 = os->ops->put(os->impl, "k/new", big, sizeof(big), NULL);
        rc2 = os->ops->put(os->impl, "k/old", big, sizeof(big), NULL);
        _exit(rc1 == MDX_EFULL && rc2 == MDX_EFULL &&
                      strstr(os->ops->last_error(os->impl), "File too large") != NULL
                  ? 0
                  : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    memset(&l, 0, sizeof(l));
    CHECK(os->ops->list(os->impl, "", on_key, &l) == MDX_OK);
    CHECK_EQ_INT(l.n, 1);
    CHECK_STR(l.keys[0], "k/old");
    CHECK_EQ_INT(l.sizes[0], 3); /* the old object is intact */
    snprintf(path, sizeof(path), "%s/k", root);
    d = opendir(path);
    CHECK(d != NULL);
    while (d != NULL && (e = readdir(d)) != NULL) {
        files += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    }
    if (d != NULL) {
        closedir(d);
    }
    CHECK_EQ_INT(files, 1); /* no temp file left */
    done(os);
}

static void broken_directory_is_an_error_not_a_crash(void)
{
    struct mdx_objstore *os = open_local("os-broken");
    struct mdx_objstore_conf conf = {.kind = "local"};
    char p[1024];
    FILE *f;
    int err = 0;

    /* A file where a folder is needed. */
    snprintf(p, sizeof(p), "%s/blocked", root);
    f = fopen(p, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fclose(f);
    }
    CHECK(os->ops->put(os->impl, "blocked/x", "1", 1, NULL) == MDX_EIO);
    CHECK(strstr(os->ops->last_error(os->impl), "blocked") != NULL);
    /* Without permission (only meaningful when not root). */
    if (geteuid() != 0) {
        snprintf(p, sizeof(p), "%s/ro", root);
        CHECK(mkdir(p, 0500) == 0);
        CHECK(os->ops->put(os->impl, "ro/x", "1", 1, NULL) == MDX_EDENIED);
        chmod(p, 0700);
    }
    /* A root whose parent is missing, and an unknown kind, fail to open. */
    snprintf(p, sizeof(p), "%s/no/such/dir", dir);
    conf.local_dir = p;
    CHECK(mdx_objstore_open(&conf, &err) == NULL && err == MDX_ENOTFOUND);
    conf.kind = "ftp";
    CHECK(mdx_objstore_open(&conf, &err) == NULL && err == MDX_ECONF);
    done(os);
}

static const struct mdx_test tests[] = {
    {"put, get, head, delete", put_get_head_delete},
    {"issue 3: keys that escape the root are refused", keys_that_escape_the_root_are_refused},
    {"list is recursive, sorted, filtered by prefix", list_is_recursive_sorted_and_filtered},
    {"issue 3: disk full is reported and leaves nothing", disk_full_is_reported_and_leaves_nothing},
    {"issue 3: a broken directory is an error", broken_directory_is_an_error_not_a_crash},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
