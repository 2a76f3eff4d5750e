/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_ca.c - `modax ca init|server-cert`: the project's device CA (ca.h)
 * and the broker's server certificate for its TLS listener.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/ca.h"
#include "modax/status.h"

#define PATH_LEN 4096

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax ca init [--dir DIR]\n"
            "       modax ca server-cert --cn HOST [--ip ADDRESS] [--days N] [--dir DIR]\n"
            "                            [--out DIR]\n\n"
            "init creates the device CA: an EC P-256 key (DIR/ca.key, mode 0600) and a\n"
            "self-signed certificate (DIR/ca.crt, CN \"MODAX device CA\", 10 years). DIR is\n"
            "auth.ca_dir unless --dir is given. An existing CA is never overwritten.\n"
            "Devices' client certificates come from 'modax device add ... --cert'.\n\n"
            "server-cert issues the broker's certificate for its TLS listener, signed by\n"
            "the CA: CN and subjectAltName HOST (plus IP ADDRESS with --ip), valid N days\n"
            "(825), into OUT/broker.crt and OUT/broker.key (0600; OUT defaults to the CA\n"
            "folder), and prints the mosquitto.conf lines of the listener.\n\n"
            "Exit codes: 0 done, 1 failure, 2 bad arguments, 3 no CA, 4 the files exist.\n");
}

static int init(const char *dir)
{
    int rc = mdx_ca_init(dir);

    switch (rc) {
    case MDX_OK:
        printf("device CA created: %s/%s (key, mode 0600) and %s/%s (certificate)\n", dir,
               MDX_CA_KEY_FILE, dir, MDX_CA_CERT_FILE);
        break;
    case MDX_EEXIST:
        fprintf(stderr, "modax ca init: a CA exists already in '%s'; it is not overwritten "
                        "(remove it yourself to start over: every issued certificate then "
                        "stops working)\n", dir);
        break;
    case MDX_EIO:
        fprintf(stderr, "modax ca init: cannot create the CA files in '%s': check that the "
                        "folder is writable\n", dir);
        break;
    default: fprintf(stderr, "modax ca init: %s\n", mdx_strerror(rc));
    }
    return rc;
}

static int server_cert(const char *dir, const char *out, const char *cn, const char *ip,
                       int64_t days)
{
    struct mdx_cert_req req = {MDX_CERT_SERVER, cn, ip, 0, days};
    char crt[PATH_LEN], key[PATH_LEN], fp[MDX_CERT_FP_LEN + 1];
    int rc;

    if (snprintf(crt, sizeof(crt), "%s/broker.crt", out) >= (int)sizeof(crt) ||
        snprintf(key, sizeof(key), "%s/broker.key", out) >= (int)sizeof(key)) {
        fprintf(stderr, "modax ca server-cert: --out is too long\n");
        return MDX_EINVAL;
    }
    rc = mdx_ca_issue(dir, &req, crt, key, fp);
    switch (rc) {
    case MDX_OK:
        printf("broker certificate %s (sha256 %s) and key %s\n\n"
               "# mosquitto.conf, TLS listener with client certificates:\n"
               "cafile %s/%s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n"
               "use_identity_as_username true\n",
               crt, fp, key, dir, MDX_CA_CERT_FILE, crt, key);
        break;
    case MDX_ENOTFOUND:
        fprintf(stderr, "modax ca server-cert: no CA in '%s'; create it with 'modax ca init'\n",
                dir);
        break;
    case MDX_EEXIST:
        fprintf(stderr, "modax ca server-cert: %s or %s exists already; it is not "
                        "overwritten\n", crt, key);
        break;
    case MDX_EINVAL:
        fprintf(stderr, "modax ca server-cert: --cn must be a host name ([A-Za-z0-9.-]), --ip "
                        "an IPv4 or IPv6 address, --days 1..36500\n");
        break;
    default: fprintf(stderr, "modax ca server-cert: %s\n", mdx_strerror(rc));
    }
    return rc;
}

int cmd_ca(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"out", required_argument, NULL, 'o'},
        {"cn", required_argument, NULL, 'c'},  {"ip", required_argument, NULL, 'i'},
        {"days", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *out = NULL, *cn = NULL, *ip = NULL, *days_s = NULL, *sub;
    struct cli_conf conf;
    int64_t days = 825;
    int rc, status;

    if (!cli_subcommand(argc, argv, usage, &sub, &status)) {
        return status;
    }
    while ((rc = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (rc) {
        case 'd': dir = optarg; break;
        case 'o': out = optarg; break;
        case 'c': cn = optarg; break;
        case 'i': ip = optarg; break;
        case 'n': days_s = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_usage_error(usage);
        }
    }
    if (optind != argc - 1 ||
        (strcmp(sub, "init") == 0 && (out || cn || ip || days_s)) ||
        (strcmp(sub, "server-cert") == 0 && cn == NULL) ||
        (strcmp(sub, "init") != 0 && strcmp(sub, "server-cert") != 0)) {
        return cli_usage_error(usage);
    }
    if (days_s != NULL && (days = cli_parse_positive(days_s)) < 0) {
        fprintf(stderr, "modax ca server-cert: --days '%s' is not a whole number > 0\n", days_s);
        return CLI_USAGE;
    }
    if (cli_conf_load(&conf) != CLI_OK) {
        return CLI_USAGE;
    }
    if (dir == NULL) {
        dir = conf.auth.ca_dir;
    }
    if (strcmp(sub, "init") == 0) {
        rc = init(dir);
    } else {
        rc = server_cert(dir, out != NULL ? out : dir, cn, ip, days);
    }
    cli_conf_fini(&conf);
    return cli_exit_for(rc);
}
