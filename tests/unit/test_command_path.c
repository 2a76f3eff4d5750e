/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_command_path.c - the command paths' configuration (command.path,
 * command.tenant_paths, the azure and pubsub keys: the start-up errors) and
 * the IoT Hub SAS token against known answers.
 *
 * The known answers: Microsoft's documentation shows SAS tokens only with
 * the key left out, so no published example has every input and the
 * output. The expected signatures were computed independently of our code
 * with the OpenSSL command line, e.g. for the service token:
 *   printf 'myhub.azure-devices.net\n1767225600' |
 *     openssl dgst -sha256 -mac HMAC -macopt key:testkey-modax-iothub-sas-kat-001 -binary |
 *     base64
 * (the key's base64, as a connection string carries it, is
 * dGVzdGtleS1tb2RheC1pb3RodWItc2FzLWthdC0wMDE=), then url-encoded by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "modax/command_path.h"
#include "modax/status.h"

#define KEY_B64 "dGVzdGtleS1tb2RheC1pb3RodWItc2FzLWthdC0wMDE="
#define CONN "HostName=myhub.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=" KEY_B64

static int published(void *arg, const char *topic, const void *payload, size_t len)
{
    (void)arg;
    (void)topic;
    (void)payload;
    (void)len;
    return MDX_OK;
}

/* A configuration as the key table's defaults leave it. */
static struct mdx_command_conf conf_default(void)
{
    struct mdx_command_conf c = {
        .path = "mqtt",
        .tenant_paths = "",
        .azure_connection_string = NULL,
        .azure_endpoint = "",
        .azure_ca_file = "",
        .azure_response_timeout_s = 30,
        .azure_connect_timeout_s = 0,
        .azure_token_ttl_s = 3600,
        .pubsub_project = "",
        .pubsub_topic = "modax-commands",
        .pubsub_endpoint = "https://pubsub.googleapis.com",
        .pubsub_credentials = "auto",
        .pubsub_key_file = "",
        .pubsub_token_file = "",
        .pubsub_metadata_host = "metadata.google.internal",
        .pubsub_timeout_ms = 10000,
    };
    return c;
}

static void test_sas_token_service_kat(void)
{
    char tok[512];

    CHECK_EQ_INT(mdx_iothub_sas_token("myhub.azure-devices.net", KEY_B64, "service", 1767225600,
                                      tok, sizeof(tok)),
                 MDX_OK);
    CHECK_STR(tok, "SharedAccessSignature sr=myhub.azure-devices.net"
                   "&sig=gsHzJ9xU%2BzeWhfMg%2F5xORugKQQcUcvHwrmOTKlQ5HRQ%3D&se=1767225600"
                   "&skn=service");
}

/*
 * A device-scoped resource, url-encoded with upper-case hex and its case kept, as
 * Microsoft's C SDK does; no policy, no skn. The string to sign is that of the SDK's unit
 * test (Azure/azure-sdk-for-c, sdk/tests/iot/hub/test_az_iot_hub_client_sas.c); the
 * signature for this key is the one the project's cloud reference computed with OpenSSL
 * and Python (and we again with the OpenSSL command line), not a Microsoft-published value.
 */
static void test_sas_token_device_kat(void)
{
    char tok[512];

    CHECK_EQ_INT(mdx_iothub_sas_token("myiothub.azure-devices.net/devices/my_device",
                                      "q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE=", "",
                                      1578941692, tok, sizeof(tok)),
                 MDX_OK);
    CHECK_STR(tok, "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
                   "&sig=Aa91XduWM2CE%2BvowhV%2FIDuTSR3%2FhJXo%2BoItFWxIw%2BHA%3D&se=1578941692");
    /* The device id's case is kept: what is signed is what is sent. */
    CHECK_EQ_INT(mdx_iothub_sas_token("myhub.azure-devices.net/devices/Press-1", KEY_B64, "", 1,
                                      tok, sizeof(tok)),
                 MDX_OK);
    CHECK(strstr(tok, "sr=myhub.azure-devices.net%2Fdevices%2FPress-1&") != NULL);
}

static void test_sas_token_bad_input(void)
{
    char tok[512], small[40];

    CHECK_EQ_INT(mdx_iothub_sas_token("myhub.azure-devices.net", "not base64!", "s", 1, tok,
                                      sizeof(tok)),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_iothub_sas_token("myhub.azure-devices.net", KEY_B64, "s", 1, small,
                                      sizeof(small)),
                 MDX_ERANGE);
}

/* Creating the paths fails with 'why' containing 'want'. */
static void check_refused(const struct mdx_command_conf *c, const char *want)
{
    char why[256] = "";
    struct mdx_command_paths *p = mdx_command_paths_create(c, published, NULL, why, sizeof(why));

    CHECK(p == NULL);
    mdx_command_paths_destroy(p);
    if (strstr(why, want) == NULL) {
        fprintf(stderr, "  reason '%s' does not say '%s'\n", why, want);
        CHECK(0);
    }
    CHECK(strstr(why, KEY_B64) == NULL); /* never the secret */
}

static void test_unknown_path_name(void)
{
    struct mdx_command_conf c = conf_default();

    c.path = "carrier-pigeon";
    check_refused(&c, "command.path 'carrier-pigeon' is not a command path");
    c = conf_default();
    c.tenant_paths = "acme=mqtt, globex = pigeon";
    check_refused(&c, "'pigeon' of tenant globex is not a command path");
    c.tenant_paths = "acme";
    check_refused(&c, "'acme' is not tenant=path");
    c.tenant_paths = "=azure";
    check_refused(&c, "is not tenant=path");
    c.tenant_paths = "acme=mqtt,acme=pubsub";
    check_refused(&c, "tenant acme is named twice");
}

static void test_azure_without_credentials(void)
{
    struct mdx_command_conf c = conf_default();

    c.tenant_paths = "acme=azure";
    check_refused(&c, "MODAX_COMMAND_AZURE_CONNECTION_STRING");
    c.azure_connection_string = "";
    check_refused(&c, "MODAX_COMMAND_AZURE_CONNECTION_STRING_FILE");
    c.azure_connection_string = "HostName=myhub.azure-devices.net;SharedAccessKey=" KEY_B64;
    check_refused(&c, "SharedAccessKeyName=");
    c.azure_connection_string = "HostName=h;SharedAccessKeyName=service;SharedAccessKey=%%%";
    check_refused(&c, "SharedAccessKey is not base64");
    /* A device's connection string has no policy: refused as well. */
    c.azure_connection_string = "HostName=h;DeviceId=d1;SharedAccessKey=" KEY_B64;
    check_refused(&c, "not a device's");
}

static void test_pubsub_without_project(void)
{
    struct mdx_command_conf c = conf_default();

    c.path = "pubsub";
    check_refused(&c, "command.pubsub.project");
    c.pubsub_project = "projects/p";
    check_refused(&c, "ids, not paths");
}

/* Google credentials come from the one provider: a bad key file stops the start, named. */
static void test_pubsub_bad_credentials(void)
{
    struct mdx_command_conf c = conf_default();
    char path[] = "/tmp/modax-test-cmdkey-XXXXXX";
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    if (fd < 0) {
        return;
    }
    CHECK(write(fd, "not json", 8) == 8);
    close(fd);
    unsetenv("PUBSUB_EMULATOR_HOST");
    c.path = "pubsub";
    c.pubsub_project = "plant-1";
    c.pubsub_credentials = "service_account";
    check_refused(&c, "command.pubsub");           /* no key file named */
    c.pubsub_key_file = "/nonexistent/modax-key.json";
    check_refused(&c, "/nonexistent/modax-key.json");
    c.pubsub_key_file = path;
    check_refused(&c, "JSON");
    c.pubsub_credentials = "carrier-pigeon";
    check_refused(&c, "carrier-pigeon");
    unlink(path);
}

static void test_tenants_take_their_path(void)
{
    struct mdx_command_conf c = conf_default();
    struct mdx_command_paths *p;
    char why[256] = "";

    c.tenant_paths = " acme = azure ,globex=pubsub";
    c.azure_connection_string = CONN;
    c.pubsub_project = "plant-1";
    p = mdx_command_paths_create(&c, published, NULL, why, sizeof(why));
    CHECK(p != NULL);
    if (p == NULL) {
        fprintf(stderr, "  %s\n", why);
        return;
    }
    CHECK_STR(mdx_command_path_name(p, "acme"), "azure");
    CHECK_STR(mdx_command_path_name(p, "globex"), "pubsub");
    CHECK_STR(mdx_command_path_name(p, "initech"), "mqtt");
    CHECK_STR(mdx_command_path_name(p, "acm"), "mqtt");
    mdx_command_paths_destroy(p);
    /* No configuration: everyone on mqtt. */
    p = mdx_command_paths_create(NULL, published, NULL, why, sizeof(why));
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(mdx_command_path_name(p, "acme"), "mqtt");
    }
    mdx_command_paths_destroy(p);
}

/* The mqtt path without a link (a process that has none) is a start-up error too. */
static void test_mqtt_needs_a_link(void)
{
    struct mdx_command_conf c = conf_default();
    char why[256] = "";
    struct mdx_command_paths *p = mdx_command_paths_create(&c, NULL, NULL, why, sizeof(why));

    CHECK(p == NULL);
    CHECK(strstr(why, "no MQTT link") != NULL);
}

static const struct mdx_test tests[] = {
    {"sas_token_service_kat", test_sas_token_service_kat},
    {"sas_token_device_kat", test_sas_token_device_kat},
    {"sas_token_bad_input", test_sas_token_bad_input},
    {"unknown_path_name", test_unknown_path_name},
    {"azure_without_credentials", test_azure_without_credentials},
    {"pubsub_without_project", test_pubsub_without_project},
    {"pubsub_bad_credentials", test_pubsub_bad_credentials},
    {"tenants_take_their_path", test_tenants_take_their_path},
    {"mqtt_needs_a_link", test_mqtt_needs_a_link},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
