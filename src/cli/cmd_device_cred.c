/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_device_cred.c - the broker credentials of `modax device` (issue 6):
 * `device add ... --secret|--cert`, `device revoke` and `device
 * rotate-secret`. A secret is printed once, alone on the first line of
 * stdout, and never logged; the store keeps its argon2id hash. A client
 * certificate and its key go into files (key 0600); the store keeps the
 * certificate's SHA-256. Then the settings the device needs are printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "modax/ca.h"
#include "modax/clock.h"
#include "modax/secret.h"
#include "modax/status.h"
#include "modax/validate.h"

#define PATH_LEN 4096
#define DAY_S 86400

struct add_opts {
    const char *tenant, *device, *type, *out;
    int secret, cert;
    int64_t days, backdate_days;
};

int cli_device_cred_handles(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "revoke") == 0 || strcmp(argv[1], "rotate-secret") == 0)) {
        return 1;
    }
    for (int i = 2; argc >= 2 && strcmp(argv[1], "add") == 0 && i < argc; i++) {
        if (strcmp(argv[i], "--secret") == 0 || strcmp(argv[i], "--cert") == 0) {
            return 1;
        }
    }
    return 0;
}

/* Writes the secret into a new file of mode 0600. */
static int write_secret_file(const char *path, const char *secret)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t n = strlen(secret);
    int ok;

    if (fd < 0) {
        return errno == EEXIST ? MDX_EEXIST : MDX_EIO;
    }
    ok = write(fd, secret, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        unlink(path);
    }
    return ok ? MDX_OK : MDX_EIO;
}

/*
 * modax-edge simulates devices named PREFIX + %04u (see `modax-edge --help`):
 * splits 'device' that way, or returns 0 if it is not such a name.
 */
static int edge_split(const char *device, char *prefix, size_t len, unsigned *number)
{
    size_t n = strlen(device), d = n;
    unsigned long v = 0;

    while (d > 0 && device[d - 1] >= '0' && device[d - 1] <= '9') {
        d--;
    }
    /* The edge agent takes prefixes of up to 24 characters (MDX_EDGE_PREFIX_MAX). */
    if (n - d < 4 || n - d > 9 || (n - d > 4 && device[d] == '0') || d >= len || d > 24) {
        return 0;
    }
    for (size_t i = d; i < n; i++) {
        v = v * 10 + (unsigned long)(device[i] - '0');
    }
    if (v == 0) {
        return 0;
    }
    memcpy(prefix, device, d);
    prefix[d] = '\0';
    *number = (unsigned)v;
    return 1;
}

static void print_topics(const char *tenant, const char *device)
{
    printf("# publishes: modax/%s/%s/sensor_data, .../safety, .../status, .../command_ack\n"
           "# subscribes: modax/%s/%s/commands\n",
           tenant, device, tenant, device);
}

static void print_secret_settings(const struct cli_conf *c, const char *tenant,
                                  const char *device, const char *secret_file)
{
    char prefix[MDX_NAME_MAX + 1];
    unsigned number;
    const char *file = secret_file != NULL ? secret_file : "SECRET_FILE";

    printf("# device %s/%s: broker user name and client id %s, the secret on the line above\n"
           "# (shown only this once%s)\n",
           tenant, device, device,
           secret_file != NULL ? "; also saved in the file below, mode 0600" : "");
    printf("host = %s\nport = %lld\nclient_id = %s\nusername = %s\npassword_file = %s\n",
           c->auth.broker_host, (long long)c->auth.broker_port, device, device, file);
    print_topics(tenant, device);
    if (edge_split(device, prefix, sizeof(prefix), &number)) {
        printf("# edge agent:\nmodax-edge --host %s --port %lld --tenant %s --prefix %s "
               "--first %u --machines 1 --client-id %s --username %s --password-file %s\n",
               c->auth.broker_host, (long long)c->auth.broker_port, tenant, prefix, number,
               device, device, file);
    } else {
        printf("# modax-edge simulates devices named PREFIX + 4 digits (e.g. m-0001); for this "
               "device use the settings above\n");
    }
}

static void print_cert_settings(const struct cli_conf *c, const char *tenant, const char *device,
                                const char *crt, const char *key, const char *fp)
{
    printf("# device %s/%s: client certificate (CN %s, sha256 %s)\n", tenant, device, device, fp);
    printf("host = %s\nport = %lld\nclient_id = %s\ncafile = %s/%s\ncertfile = %s\n"
           "keyfile = %s\n",
           c->auth.broker_host, (long long)c->auth.broker_tls_port, device, c->auth.ca_dir,
           MDX_CA_CERT_FILE, crt, key);
    print_topics(tenant, device);
    printf("# e.g.: mosquitto_pub -h %s -p %lld --cafile %s/%s --cert %s --key %s -i %s "
           "-t modax/%s/%s/status -m online\n",
           c->auth.broker_host, (long long)c->auth.broker_tls_port, c->auth.ca_dir,
           MDX_CA_CERT_FILE, crt, key, device, tenant, device);
}

/* Refuses a device id the broker could not tell apart: another tenant's or an identity's. */
static int name_free(struct mdx_store *st, const char *tenant, const char *device)
{
    struct mdx_device_cred cred;
    struct mdx_broker_identity id;
    int rc = mdx_store_device_cred_get(st, device, &cred);

    if (rc == MDX_OK && strcmp(cred.tenant, tenant) != 0) {
        fprintf(stderr, "modax device add: device id '%s' has broker credentials in tenant "
                        "'%s' already; the broker knows devices by id alone, so pick another "
                        "id\n", device, cred.tenant);
        return MDX_EEXIST;
    }
    if (rc != MDX_OK && rc != MDX_ENOTFOUND) {
        return rc;
    }
    rc = mdx_store_identity_get(st, device, &id);
    if (rc == MDX_OK) {
        fprintf(stderr, "modax device add: '%s' is the name of a broker identity (see 'modax "
                        "identity list'); pick another device id\n", device);
        return MDX_EEXIST;
    }
    return rc == MDX_ENOTFOUND ? MDX_OK : rc;
}

static void say_store_error(const char *what, const struct add_opts *o, int rc)
{
    switch (rc) {
    case MDX_ENOTFOUND:
        fprintf(stderr, "modax device %s: no such tenant '%s'; see 'modax tenant list'\n", what,
                o->tenant);
        break;
    case MDX_EEXIST:
        fprintf(stderr, "modax device %s: device '%s' exists already in tenant '%s' (or its "
                        "id is taken at the broker)\n", what, o->device, o->tenant);
        break;
    default: fprintf(stderr, "modax device %s: %s\n", what, mdx_strerror(rc));
    }
}

/* Registers the device with a new secret. */
static int add_secret(struct cli_conf *c, struct mdx_store *st, const struct add_opts *o)
{
    struct mdx_argon2_cost cost = mdx_auth_cost(&c->auth);
    char secret[MDX_SECRET_TEXT_MAX], hash[MDX_SECRET_HASH_MAX], path[PATH_LEN];
    const char *file = NULL;
    int rc = mdx_secret_generate(secret);

    if (rc == MDX_OK) {
        rc = mdx_secret_hash(secret, &cost, hash, sizeof(hash));
    }
    if (rc != MDX_OK) {
        fprintf(stderr, "modax device add: cannot make a secret: %s (check auth.argon2_*)\n",
                mdx_strerror(rc));
        OPENSSL_cleanse(secret, sizeof(secret));
        return rc;
    }
    if (o->out != NULL) {
        if (snprintf(path, sizeof(path), "%s/%s.secret", o->out, o->device) >= (int)sizeof(path)) {
            rc = MDX_EINVAL;
        } else if (access(path, F_OK) == 0) {
            rc = MDX_EEXIST;
        }
        if (rc != MDX_OK) {
            fprintf(stderr, "modax device add: %s exists already or --out is too long; it is "
                            "not overwritten\n", path);
            OPENSSL_cleanse(secret, sizeof(secret));
            return rc;
        }
        file = path;
    }
    rc = mdx_store_device_add(st, o->tenant, o->device, 0);
    if (rc == MDX_OK && o->type != NULL) {
        rc = mdx_store_device_set_type(st, o->tenant, o->device, o->type);
    }
    if (rc == MDX_OK) {
        rc = mdx_store_device_cred_set(st, o->tenant, o->device, hash, NULL, mdx_now_ms());
        if (rc != MDX_OK) {
            mdx_store_device_delete(st, o->tenant, o->device);
        }
    }
    if (rc == MDX_OK && file != NULL) {
        rc = write_secret_file(file, secret);
        if (rc != MDX_OK) {
            mdx_store_device_delete(st, o->tenant, o->device);
            fprintf(stderr, "modax device add: cannot write %s; the device was not added\n",
                    file);
            OPENSSL_cleanse(secret, sizeof(secret));
            return rc;
        }
    }
    if (rc == MDX_OK) {
        printf("%s\n", secret);
        print_secret_settings(c, o->tenant, o->device, file);
    } else {
        say_store_error("add", o, rc);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

/* Registers the device with a new client certificate. */
static int add_cert(struct cli_conf *c, struct mdx_store *st, const struct add_opts *o)
{
    const char *out = o->out != NULL ? o->out : ".";
    char crt[PATH_LEN], key[PATH_LEN], fp[MDX_CERT_FP_LEN + 1];
    struct mdx_cert_req req = {MDX_CERT_CLIENT, o->device, NULL, 0, o->days};
    int rc;

    if (snprintf(crt, sizeof(crt), "%s/%s.crt", out, o->device) >= (int)sizeof(crt) ||
        snprintf(key, sizeof(key), "%s/%s.key", out, o->device) >= (int)sizeof(key)) {
        fprintf(stderr, "modax device add: --out is too long\n");
        return MDX_EINVAL;
    }
    if (access(crt, F_OK) == 0 || access(key, F_OK) == 0) {
        fprintf(stderr, "modax device add: %s or %s exists already; it is not overwritten\n",
                crt, key);
        return MDX_EEXIST;
    }
    req.not_before_s = (int64_t)time(NULL) - o->backdate_days * DAY_S;
    rc = mdx_store_device_add(st, o->tenant, o->device, 0);
    if (rc == MDX_OK && o->type != NULL) {
        rc = mdx_store_device_set_type(st, o->tenant, o->device, o->type);
    }
    if (rc != MDX_OK) {
        say_store_error("add", o, rc);
        return rc;
    }
    rc = mdx_ca_issue(c->auth.ca_dir, &req, crt, key, fp);
    if (rc != MDX_OK) {
        mdx_store_device_delete(st, o->tenant, o->device);
        if (rc == MDX_ENOTFOUND) {
            fprintf(stderr, "modax device add: no device CA in '%s'; create it with 'modax ca "
                            "init' (or set auth.ca_dir)\n", c->auth.ca_dir);
        } else {
            fprintf(stderr, "modax device add: cannot issue the certificate into %s: %s; the "
                            "device was not added\n", out, mdx_strerror(rc));
        }
        return rc;
    }
    rc = mdx_store_device_cred_set(st, o->tenant, o->device, NULL, fp, mdx_now_ms());
    if (rc != MDX_OK) {
        mdx_store_device_delete(st, o->tenant, o->device);
        unlink(crt);
        unlink(key);
        say_store_error("add", o, rc);
        return rc;
    }
    printf("certificate %s\nkey %s (mode 0600)\n", crt, key);
    print_cert_settings(c, o->tenant, o->device, crt, key, fp);
    return MDX_OK;
}

static int parse_add(int argc, char **argv, struct add_opts *o)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},  {"secret", no_argument, NULL, 's'},
        {"cert", no_argument, NULL, 'c'},        {"out", required_argument, NULL, 'o'},
        {"days", required_argument, NULL, 'd'},  {"backdate-days", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const char *days = NULL, *back = NULL;
    int ch;

    memset(o, 0, sizeof(*o));
    o->days = 365;
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (ch) {
        case 't': o->type = optarg; break;
        case 's': o->secret = 1; break;
        case 'c': o->cert = 1; break;
        case 'o': o->out = optarg; break;
        case 'd': days = optarg; break;
        case 'b': back = optarg; break;
        default: return CLI_USAGE;
        }
    }
    if (optind != argc - 3 || o->secret == o->cert || (o->secret && (days || back))) {
        fprintf(stderr, "modax device add: give TENANT DEVICE and one of --secret or --cert "
                        "(--days and --backdate-days go with --cert)\n");
        return CLI_USAGE;
    }
    o->tenant = argv[1 + optind];
    o->device = argv[2 + optind];
    if ((days != NULL && ((o->days = cli_parse_positive(days)) < 0 || o->days > 36500)) ||
        (back != NULL && strcmp(back, "0") != 0 && (o->backdate_days = cli_parse_positive(back)) < 0)) {
        fprintf(stderr, "modax device add: --days must be 1..36500 and --backdate-days a whole "
                        "number >= 0\n");
        return CLI_USAGE;
    }
    if (!cli_valid_name(o->tenant) || !cli_valid_name(o->device)) {
        fprintf(stderr, "modax device add: invalid tenant or device name; use "
                        "[A-Za-z0-9_-]{1,64}\n");
        return CLI_USAGE;
    }
    if (o->type != NULL && o->type[0] != '\0' && !cli_valid_name(o->type)) {
        fprintf(stderr, "modax device add: type '%s' is not a valid name; use "
                        "[A-Za-z0-9_-]{1,64}\n", o->type);
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int revoke_device(struct mdx_store *st, const char *tenant, const char *device)
{
    struct mdx_device_cred cred;
    struct mdx_device_info d;
    int rc = mdx_store_device_get(st, tenant, device, &d);

    if (rc == MDX_OK) {
        rc = mdx_store_device_cred_get(st, device, &cred);
        if (rc == MDX_OK && strcmp(cred.tenant, tenant) != 0) {
            rc = MDX_ENOTFOUND;
        }
        if (rc == MDX_ENOTFOUND) {
            fprintf(stderr, "modax device revoke: device %s/%s has no broker credentials; "
                            "nothing to revoke\n", tenant, device);
            return rc;
        }
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax device revoke: no device '%s' in tenant '%s'\n", device, tenant);
        return rc;
    }
    if (rc == MDX_OK && cred.revoked_ms > 0) {
        fprintf(stderr, "modax device revoke: device %s/%s is revoked already\n", tenant, device);
        return MDX_EEXIST;
    }
    if (rc == MDX_OK) {
        rc = mdx_store_device_revoke(st, tenant, device, mdx_now_ms());
    }
    if (rc == MDX_OK) {
        printf("device %s/%s revoked: the broker refuses it from now on (give it new "
               "credentials with 'modax device rotate-secret')\n", tenant, device);
    } else {
        fprintf(stderr, "modax device revoke: %s\n", mdx_strerror(rc));
    }
    return rc;
}

static int rotate(struct cli_conf *c, struct mdx_store *st, const char *tenant,
                  const char *device)
{
    struct mdx_argon2_cost cost = mdx_auth_cost(&c->auth);
    char secret[MDX_SECRET_TEXT_MAX], hash[MDX_SECRET_HASH_MAX];
    struct mdx_device_info d;
    int rc = mdx_store_device_get(st, tenant, device, &d);

    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax device rotate-secret: no device '%s' in tenant '%s'\n", device,
                tenant);
        return rc;
    }
    if (rc == MDX_OK) {
        rc = mdx_secret_generate(secret);
    }
    if (rc == MDX_OK) {
        rc = mdx_secret_hash(secret, &cost, hash, sizeof(hash));
    }
    if (rc == MDX_OK) {
        rc = mdx_store_device_cred_set(st, tenant, device, hash, NULL, mdx_now_ms());
        if (rc == MDX_EEXIST) {
            fprintf(stderr, "modax device rotate-secret: device id '%s' is taken at the broker "
                            "by another tenant's device or an identity\n", device);
        }
    }
    if (rc == MDX_OK) {
        printf("%s\n", secret);
        print_secret_settings(c, tenant, device, NULL);
        printf("# the old secret no longer works (a revocation is lifted too)\n");
    } else if (rc != MDX_EEXIST) {
        fprintf(stderr, "modax device rotate-secret: %s\n", mdx_strerror(rc));
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

int cmd_device_cred(int argc, char **argv)
{
    struct add_opts o;
    struct cli_conf conf;
    struct mdx_store *st;
    int rc, status;

    if (strcmp(argv[1], "add") == 0) {
        status = parse_add(argc, argv, &o);
        if (status != CLI_OK) {
            return status;
        }
    } else if (argc != 4 || !cli_valid_name(argv[2]) || !cli_valid_name(argv[3])) {
        fprintf(stderr, "usage: modax device %s TENANT DEVICE (names: [A-Za-z0-9_-]{1,64})\n",
                argv[1]);
        return CLI_USAGE;
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
    }
    if (strcmp(argv[1], "add") == 0) {
        rc = name_free(st, o.tenant, o.device);
        if (rc != MDX_OK && rc != MDX_EEXIST) {
            fprintf(stderr, "modax device add: %s\n", mdx_strerror(rc));
        }
        if (rc == MDX_OK) {
            rc = o.secret ? add_secret(&conf, st, &o) : add_cert(&conf, st, &o);
        }
    } else if (strcmp(argv[1], "revoke") == 0) {
        rc = revoke_device(st, argv[2], argv[3]);
    } else {
        rc = rotate(&conf, st, argv[2], argv[3]);
    }
    return cli_finish(&conf, st, rc);
}
