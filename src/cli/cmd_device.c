/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_device.c - `modax device add|list|show|set-type|set-limits`.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/clock.h"
#include "modax/command.h"
#include "modax/status.h"
#include "modax/validate.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: modax device add TENANT DEVICE [--type TYPE]\n"
                 "       modax device list TENANT\n"
                 "       modax device show TENANT DEVICE\n"
                 "       modax device set-type TENANT DEVICE TYPE\n"
                 "       modax device set-limits TENANT DEVICE LIMITS_JSON\n"
                 "       modax device add TENANT DEVICE [--type TYPE] --secret [--out DIR]\n"
                 "       modax device add TENANT DEVICE [--type TYPE] --cert [--out DIR]\n"
                 "                        [--days N] [--backdate-days N]\n"
                 "       modax device revoke TENANT DEVICE\n"
                 "       modax device rotate-secret TENANT DEVICE\n\n"
                 "A device publishes on modax/TENANT/DEVICE/...; the ingest accepts only\n"
                 "registered devices (unless ingest.auto_register is on).\n"
                 "A device's type (e.g. press; [A-Za-z0-9_-]{1,64}) lets rules target every\n"
                 "device of that type (see 'modax rule --help'); set-type with \"\" clears it.\n"
                 "A device's safety limits name the parameters operators may command and\n"
                 "their ranges, e.g. '{\"speed_pct\":{\"min\":0,\"max\":100}}'; a command\n"
                 "outside them is refused before it is sent ('{}': no commands).\n\n"
                 "Broker credentials (the broker knows a device by its id: user name = client\n"
                 "id = DEVICE, so an id with credentials is unique across tenants):\n"
                 "--secret makes a random secret and prints it once, alone on the first line\n"
                 "of stdout (the store keeps its argon2id hash; with --out also into\n"
                 "DIR/DEVICE.secret, mode 0600), then the device's broker settings.\n"
                 "--cert issues a client certificate (CN = DEVICE, signed by the CA of\n"
                 "'modax ca init', valid N days (365), from N days ago with --backdate-days)\n"
                 "into DIR/DEVICE.crt and DIR/DEVICE.key (0600; DIR: .), then the settings.\n"
                 "revoke makes the broker refuse the device; rotate-secret gives it a new\n"
                 "secret, printed once (the old one stops working; a revocation is lifted).\n");
}

static void print_time(const char *label, int64_t ms)
{
    char iso[40];

    if (ms <= 0) {
        printf("%s-\n", label);
        return;
    }
    mdx_format_iso_ms(ms, iso, sizeof(iso));
    printf("%s%s\n", label, iso);
}

static int print_device(void *arg, const struct mdx_device_info *d)
{
    char seen[40] = "never";

    (void)arg;
    if (d->last_seen_ms > 0) {
        mdx_format_iso_ms(d->last_seen_ms, seen, sizeof(seen));
    }
    printf("%-24s type=%-16s last_seen=%s%s\n", d->device, d->type[0] != '\0' ? d->type : "-",
           seen, d->auto_registered ? " (auto)" : "");
    return MDX_OK;
}

static int print_sensor(void *arg, const char *name)
{
    (void)arg;
    printf("  sensor %s\n", name);
    return MDX_OK;
}

static int print_event(void *arg, const struct mdx_event *ev)
{
    char iso[40];

    (void)arg;
    mdx_format_iso_ms(ev->ts_ms, iso, sizeof(iso));
    printf("  event %s %s %s\n", iso, mdx_msg_kind_name(ev->kind), ev->body);
    return MDX_OK;
}

static int show(struct mdx_store *st, const char *tenant, const char *device)
{
    static struct mdx_device_config cfg; /* 8 KiB: not on the stack */
    struct mdx_device_info d;
    int rc = mdx_store_device_get(st, tenant, device, &d);

    if (rc != MDX_OK) {
        return rc;
    }
    printf("tenant:     %s\ndevice:     %s\ntype:       %s\n", d.tenant, d.device,
           d.type[0] != '\0' ? d.type : "-");
    print_time("created:    ", d.created_ms);
    print_time("last seen:  ", d.last_seen_ms);
    printf("registered: %s\n", d.auto_registered ? "automatically (first message)" : "by operator");
    printf("status:     %s\n", d.status[0] != '\0' ? d.status : "-");
    printf("e-stop:     %s\n", d.emergency_stop ? "ACTIVE" : "no");
    rc = mdx_store_device_config_get(st, tenant, device, &cfg);
    if (rc != MDX_OK) {
        return rc;
    }
    printf("limits:     %s\nmetadata:   %s\n", cfg.limits, cfg.meta);
    rc = mdx_store_sensor_list(st, tenant, device, print_sensor, NULL);
    if (rc == MDX_OK) {
        rc = mdx_store_event_list(st, tenant, device, 10, print_event, NULL);
    }
    return rc;
}

int cmd_device(int argc, char **argv)
{
    struct cli_conf conf;
    struct mdx_store *st;
    const char *type;
    int rc, status;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return CLI_OK;
    }
    if (cli_device_cred_handles(argc, argv)) {
        return cmd_device_cred(argc, argv);
    }
    if (!((argc == 4 && strcmp(argv[1], "add") == 0) ||
          (argc == 6 && strcmp(argv[1], "add") == 0 && strcmp(argv[4], "--type") == 0) ||
          (argc == 3 && strcmp(argv[1], "list") == 0) ||
          (argc == 4 && strcmp(argv[1], "show") == 0) ||
          (argc == 5 && strcmp(argv[1], "set-type") == 0) ||
          (argc == 5 && strcmp(argv[1], "set-limits") == 0))) {
        return cli_usage_error(usage);
    }
    if (strcmp(argv[1], "set-limits") == 0) {
        char why[200];

        if (mdx_limits_check(argv[4], why, sizeof(why)) != MDX_OK) {
            fprintf(stderr, "modax device set-limits: %s\n", why);
            return CLI_USAGE;
        }
    }
    type = argc == 6 ? argv[5] : argc == 5 && strcmp(argv[1], "set-type") == 0 ? argv[4] : NULL;
    if (type != NULL && type[0] != '\0' && !mdx_valid_segment(type, strlen(type))) {
        fprintf(stderr, "modax device %s: type '%s' is not a valid name; use "
                        "[A-Za-z0-9_-]{1,64}\n", argv[1], type);
        return CLI_USAGE;
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
    }
    if (strcmp(argv[1], "add") == 0) {
        rc = mdx_store_device_add(st, argv[2], argv[3], 0);
        if (rc == MDX_OK && type != NULL) {
            rc = mdx_store_device_set_type(st, argv[2], argv[3], type);
        }
        if (rc == MDX_OK) {
            printf("device %s/%s added; it publishes on modax/%s/%s/sensor_data\n", argv[2],
                   argv[3], argv[2], argv[3]);
        }
    } else if (strcmp(argv[1], "set-type") == 0) {
        rc = mdx_store_device_set_type(st, argv[2], argv[3], type);
        if (rc == MDX_OK) {
            printf("device %s/%s: type %s\n", argv[2], argv[3],
                   type[0] != '\0' ? type : "cleared");
        }
    } else if (strcmp(argv[1], "set-limits") == 0) {
        rc = mdx_store_device_config_set(st, argv[2], argv[3], NULL, argv[4]);
        if (rc == MDX_OK) {
            printf("device %s/%s: limits %s\n", argv[2], argv[3], argv[4]);
        }
    } else if (strcmp(argv[1], "list") == 0) {
        rc = mdx_store_tenant_exists(st, argv[2]);
        if (rc == MDX_OK) {
            rc = mdx_store_device_list(st, argv[2], print_device, NULL);
        }
    } else {
        rc = show(st, argv[2], argv[3]);
    }
    switch (rc) {
    case MDX_OK: break;
    case MDX_ENOTFOUND:
        fprintf(stderr, "modax device %s: no such %s; see 'modax tenant list' and 'modax device "
                        "list TENANT'\n", argv[1], strcmp(argv[1], "add") == 0 ? "tenant" : "tenant or device");
        break;
    case MDX_EEXIST:
        fprintf(stderr, "modax device add: device '%s' exists already in tenant '%s'\n", argv[3],
                argv[2]);
        break;
    case MDX_EINVAL:
        fprintf(stderr, "modax device %s: invalid name; use [A-Za-z0-9_-]{1,64}\n", argv[1]);
        break;
    default:
        fprintf(stderr, "modax device %s: %s\n", argv[1], mdx_strerror(rc));
    }
    return cli_finish(&conf, st, rc);
}
