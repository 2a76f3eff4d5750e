/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet_ids.c - the per-machine broker identities of the fleet simulator;
 * see fleet_ids.h.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "fleet_ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_ 1024

/* The machine of the run whose device id is 'dev', or -1. */
static long machine_of(const struct fleet_ids *f, const char *dev)
{
    uint32_t i;

    for (i = 0; i < f->n; i++) {
        if (strcmp(f->device[i], dev) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Reads "DEVICE SECRET" lines into f->secret. 0, or -1 with a message. */
static int read_secrets(struct fleet_ids *f, const char *path)
{
    FILE *in = fopen(path, "r");
    struct stat st;
    char line[LINE_MAX_];
    unsigned lineno = 0;
    uint32_t i;
    int rc = 0;

    if (in == NULL) {
        fprintf(stderr, "modax-edge: cannot read secrets file %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(in), &st) != 0 || (st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
        fprintf(stderr,
                "modax-edge: secrets file %s is readable by others; chmod 600 it first\n", path);
        fclose(in);
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), in) != NULL) {
        char *dev, *secret, *rest, *save = NULL;
        long m;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(in)) {
            fprintf(stderr, "modax-edge: %s line %u: too long\n", path, lineno);
            rc = -1;
            break;
        }
        dev = strtok_r(line, " \t\r\n", &save);
        if (dev == NULL || dev[0] == '#') {
            continue;
        }
        secret = strtok_r(NULL, " \t\r\n", &save);
        rest = strtok_r(NULL, " \t\r\n", &save);
        if (secret == NULL || rest != NULL || strlen(secret) >= FLEET_SECRET_MAX) {
            /* Never echo the line: it holds a secret. */
            fprintf(stderr, "modax-edge: %s line %u: expected DEVICE SECRET\n", path, lineno);
            rc = -1;
            break;
        }
        m = machine_of(f, dev);
        if (m < 0) {
            continue; /* another process's machine */
        }
        if (f->secret[m][0] != '\0') {
            fprintf(stderr, "modax-edge: %s line %u: second secret for %s\n", path, lineno, dev);
            rc = -1;
            break;
        }
        snprintf(f->secret[m], FLEET_SECRET_MAX, "%s", secret);
    }
    explicit_bzero(line, sizeof(line));
    fclose(in);
    for (i = 0; rc == 0 && i < f->n; i++) {
        if (f->secret[i][0] == '\0') {
            fprintf(stderr, "modax-edge: no secret for %s in %s\n", f->device[i], path);
            rc = -1;
        }
    }
    return rc;
}

/* DIR/DEVICE.crt and .key for every machine. 0, or -1 with a message. */
static int find_certs(struct fleet_ids *f, const char *dir)
{
    uint32_t i;

    for (i = 0; i < f->n; i++) {
        int a = snprintf(f->cert[i], FLEET_PATH_MAX, "%s/%s.crt", dir, f->device[i]);
        int b = snprintf(f->key[i], FLEET_PATH_MAX, "%s/%s.key", dir, f->device[i]);

        if (a < 0 || a >= FLEET_PATH_MAX || b < 0 || b >= FLEET_PATH_MAX) {
            fprintf(stderr, "modax-edge: --cert-dir path too long\n");
            return -1;
        }
        if (access(f->cert[i], R_OK) != 0 || access(f->key[i], R_OK) != 0) {
            fprintf(stderr, "modax-edge: cannot read %s or %s: %s\n", f->cert[i], f->key[i],
                    strerror(errno));
            return -1;
        }
    }
    return 0;
}

int fleet_ids_load(struct fleet_ids *f, const struct mdx_edge_conf *c, const char *secrets_path,
                   const char *cert_dir)
{
    uint32_t i;

    memset(f, 0, sizeof(*f));
    f->n = c->machines;
    f->idents = calloc(f->n, sizeof(*f->idents));
    f->device = calloc(f->n, sizeof(*f->device));
    f->will = calloc(f->n, sizeof(*f->will));
    if (secrets_path != NULL) {
        f->secret = calloc(f->n, sizeof(*f->secret));
    } else {
        f->cert = calloc(f->n, sizeof(*f->cert));
        f->key = calloc(f->n, sizeof(*f->key));
    }
    if (f->idents == NULL || f->device == NULL || f->will == NULL ||
        (secrets_path != NULL ? f->secret == NULL : (f->cert == NULL || f->key == NULL))) {
        fprintf(stderr, "modax-edge: out of memory for %u identities\n", f->n);
        return -1;
    }
    for (i = 0; i < f->n; i++) {
        snprintf(f->device[i], sizeof(f->device[i]), "%s%04u", c->prefix, c->first + i);
        if (c->profile->topic(&c->link, f->device[i], "status", f->will[i], sizeof(f->will[i])) !=
            0) {
            f->will[i][0] = '\0';
        }
    }
    if (secrets_path != NULL ? read_secrets(f, secrets_path) != 0 : find_certs(f, cert_dir) != 0) {
        return -1;
    }
    for (i = 0; i < f->n; i++) {
        struct mdx_posix_ident *id = &f->idents[i];

        id->client_id = f->device[i];
        id->will_topic = f->will[i][0] != '\0' ? f->will[i] : NULL;
        if (f->secret != NULL) {
            id->username = f->device[i];
            id->password = f->secret[i];
        } else {
            id->certfile = f->cert[i];
            id->keyfile = f->key[i];
        }
    }
    return 0;
}

void fleet_ids_wipe(struct fleet_ids *f)
{
    if (f->secret != NULL) {
        explicit_bzero(f->secret, (size_t)f->n * sizeof(*f->secret));
    }
}

void fleet_ids_free(struct fleet_ids *f)
{
    fleet_ids_wipe(f);
    free(f->idents);
    free(f->device);
    free(f->will);
    free(f->secret);
    free(f->cert);
    free(f->key);
    memset(f, 0, sizeof(*f));
}
