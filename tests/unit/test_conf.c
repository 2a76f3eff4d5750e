/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_conf.c - config loading from real files and environment variables:
 * precedence, types, bounds, secrets, required keys and the reference
 * output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/conf.h"
#include "modax/status.h"

struct mqtt_conf {
    char *host;
    int64_t port;
    int tls;
    double ratio;
    char *password;
    char *client_id;
};

static const struct mdx_conf_key mqtt_keys[] = {
    MDX_CONF_STR("mqtt.host", "localhost", struct mqtt_conf, host, "Broker host name"),
    MDX_CONF_INT("mqtt.port", "1883", 1, 65535, struct mqtt_conf, port, "Broker TCP port"),
    MDX_CONF_BOOL("mqtt.tls", "false", struct mqtt_conf, tls, "Use TLS | mutual TLS"),
    MDX_CONF_DBL("mqtt.ratio", "0.5", 0.25, 0.75, struct mqtt_conf, ratio, "A fraction"),
    MDX_CONF_SECRET("mqtt.password", struct mqtt_conf, password,
                    "Environment or *_file only; refused in the config file"),
    MDX_CONF_STR("mqtt.client_id", "modax # ingest", struct mqtt_conf, client_id,
                 "Client id prefix"),
    MDX_CONF_END};

struct store_conf {
    char *url;
    int64_t chunk_points;
};

static const struct mdx_conf_key store_keys[] = {
    MDX_CONF_STR("store.url", NULL, struct store_conf, url, "Store URL"),
    MDX_CONF_INT("store.chunk_points", "256", 16, 1000000, struct store_conf, chunk_points,
                 "Points per chunk"),
    MDX_CONF_END};

static struct mqtt_conf mq;
static struct store_conf st;
static char err[512];
static char path[64];
static char secret_path[64];

static const struct mdx_conf_section mqtt_only[] = {{"mqtt", mqtt_keys, &mq}};
static const struct mdx_conf_section both[] = {{"mqtt", mqtt_keys, &mq},
                                               {"store", store_keys, &st}};

static const char *const env_vars[] = {
    "MODAX_MQTT_HOST",      "MODAX_MQTT_PORT",     "MODAX_MQTT_TLS",
    "MODAX_MQTT_RATIO",     "MODAX_MQTT_PASSWORD", "MODAX_MQTT_PASSWORD_FILE",
    "MODAX_MQTT_CLIENT_ID", "MODAX_STORE_URL",     "MODAX_STORE_CHUNK_POINTS",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++) {
        unsetenv(env_vars[i]);
    }
}

/* Writes 'text' to a new temporary file; its name is left in 'out'. */
static void write_file(char *out, size_t len, const char *text)
{
    int fd;

    snprintf(out, len, "/tmp/modax-conf-XXXXXX");
    fd = mkstemp(out);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
        close(fd);
    }
}

/* Loads 'text' as the config file of 'secs'. */
static int load_text(const struct mdx_conf_section *secs, size_t n, const char *text)
{
    int rc;

    write_file(path, sizeof(path), text);
    rc = mdx_conf_load(secs, n, path, err, sizeof(err));
    unlink(path);
    return rc;
}

static void fini_all(void)
{
    mdx_conf_fini(&both[0]);
    mdx_conf_fini(&both[1]);
    clear_env();
}

static void defaults_apply_without_a_file(void)
{
    clear_env();
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_OK);
    CHECK_STR(mq.host, "localhost");
    CHECK_EQ_INT(mq.port, 1883);
    CHECK_EQ_INT(mq.tls, 0);
    CHECK(mq.ratio == 0.5);
    CHECK(mq.password == NULL);
    CHECK_STR(mq.client_id, "modax # ingest");
    fini_all();
}

static void file_values_replace_defaults(void)
{
    clear_env();
    CHECK_EQ_INT(load_text(mqtt_only, 1,
                           "# broker\n"
                           "\n"
                           "   mqtt.host=broker.example.com   \n"
                           "\tmqtt.port =  8883 # TLS port\n"
                           "mqtt.tls = yes\n"
                           "mqtt.ratio = 0.25\n"),
                 MDX_OK);
    CHECK_STR(mq.host, "broker.example.com");
    CHECK_EQ_INT(mq.port, 8883);
    CHECK_EQ_INT(mq.tls, 1);
    CHECK(mq.ratio == 0.25);
    fini_all();
}

static void quoted_values_keep_spaces_hashes_and_escaped_quotes(void)
{
    clear_env();
    CHECK_EQ_INT(load_text(mqtt_only, 1,
                           "mqtt.host = \"  spaced # not a comment \"  # a comment\n"
                           "mqtt.client_id = \"say \\\"hi\\\" c:\\\\x\"\n"
                           "mqtt.port = \"1884\"\n"),
                 MDX_OK);
    CHECK_STR(mq.host, "  spaced # not a comment ");
    CHECK_STR(mq.client_id, "say \"hi\" c:\\x");
    CHECK_EQ_INT(mq.port, 1884);
    fini_all();

    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = \"\"\n"), MDX_OK);
    CHECK_STR(mq.host, "");
    fini_all();

    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = a#b\n"), MDX_OK);
    CHECK_STR(mq.host, "a#b"); /* '#' starts a comment only after whitespace */
    fini_all();
}

static void malformed_lines_are_refused_with_their_line_number(void)
{
    clear_env();
    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = a\nmqtt.port 1883\n"), MDX_ECONF);
    CHECK(strstr(err, ":2: expected `key = value`") != NULL);
    CHECK(mq.host == NULL); /* a failed load leaves no strings behind */

    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = \"open\n"), MDX_ECONF);
    CHECK(strstr(err, ":1: missing closing quote") != NULL);

    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = \"a\" b\n"), MDX_ECONF);
    CHECK(strstr(err, ":1: text after the closing quote") != NULL);

    CHECK_EQ_INT(load_text(mqtt_only, 1, " = 5\n"), MDX_ECONF);
    CHECK(strstr(err, ":1: missing key") != NULL);
    fini_all();
}

static void env_override_beats_file_and_default(void)
{
    clear_env();
    setenv("MODAX_MQTT_HOST", "from-env", 1);
    setenv("MODAX_MQTT_TLS", "on", 1);
    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = from-file\nmqtt.port = 1999\n"), MDX_OK);
    CHECK_STR(mq.host, "from-env");
    CHECK_EQ_INT(mq.port, 1999);
    CHECK_EQ_INT(mq.tls, 1);
    fini_all();
}

static void env_values_are_checked_and_named_in_errors(void)
{
    clear_env();
    setenv("MODAX_MQTT_PORT", "70000", 1);
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_ECONF);
    CHECK_STR(err, "config: MODAX_MQTT_PORT: mqtt.port: 70000 is above the maximum 65535");
    setenv("MODAX_MQTT_PORT", " 80", 1);
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_ECONF);
    CHECK(strstr(err, "is not an integer") != NULL);
    fini_all();
}

static void bounds_errors_name_file_line_key_and_limit(void)
{
    clear_env();
    setenv("MODAX_STORE_URL", "sqlite:x", 1);
    CHECK_EQ_INT(load_text(both, 2, "mqtt.host = h\n\nstore.chunk_points = 0\n"), MDX_ECONF);
    {
        char want[256];
        snprintf(want, sizeof(want), "config: %s:3: store.chunk_points: 0 is below the minimum 16",
                 path);
        CHECK_STR(err, want);
    }
    CHECK(st.url == NULL && mq.host == NULL);

    CHECK_EQ_INT(load_text(both, 2, "store.chunk_points = 1000001\n"), MDX_ECONF);
    CHECK(strstr(err, ":1: store.chunk_points: 1000001 is above the maximum 1000000") != NULL);

    CHECK_EQ_INT(load_text(both, 2, "store.chunk_points = 99999999999999999999\n"), MDX_ECONF);
    CHECK(strstr(err, "is above the maximum") != NULL);

    CHECK_EQ_INT(load_text(both, 2, "store.chunk_points = -99999999999999999999\n"), MDX_ECONF);
    CHECK(strstr(err, "is below the minimum") != NULL);

    CHECK_EQ_INT(load_text(both, 2, "store.chunk_points = 12abc\n"), MDX_ECONF);
    CHECK(strstr(err, "store.chunk_points: \"12abc\" is not an integer") != NULL);

    CHECK_EQ_INT(load_text(both, 2, "store.chunk_points =\n"), MDX_ECONF);
    CHECK(strstr(err, "is not an integer") != NULL);

    CHECK_EQ_INT(load_text(both, 2, "store.chunk_points = 16\n"), MDX_OK);
    CHECK_EQ_INT(st.chunk_points, 16);
    fini_all();
}

static void doubles_must_be_finite_and_within_bounds(void)
{
    static const char *const bad[] = {"mqtt.ratio = nan\n",  "mqtt.ratio = inf\n",
                                      "mqtt.ratio = 1.5\n",  "mqtt.ratio = -0.1\n",
                                      "mqtt.ratio = 0.5x\n", "mqtt.ratio = \n",
                                      /* fractional bounds are kept, not cut to 0..0 */
                                      "mqtt.ratio = 0.2\n",  "mqtt.ratio = 0.76\n"};

    clear_env();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(load_text(mqtt_only, 1, bad[i]), MDX_ECONF);
        CHECK(strstr(err, ":1: mqtt.ratio: ") != NULL);
    }
    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.ratio = 3e-1\n"), MDX_OK);
    CHECK(mq.ratio == 0.3);
    fini_all();
}

static void bool_accepts_the_usual_words_only(void)
{
    static const struct {
        const char *text;
        int value;
    } good[] = {{"true", 1},  {"TRUE", 1}, {"yes", 1}, {"on", 1}, {"1", 1},
                {"false", 0}, {"No", 0},   {"off", 0}, {"0", 0}};
    static const char *const bad[] = {"2", "y", "enabled", "", "truee"};

    clear_env();
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setenv("MODAX_MQTT_TLS", good[i].text, 1);
        CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_OK);
        CHECK_EQ_INT(mq.tls, good[i].value);
        mdx_conf_fini(&mqtt_only[0]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("MODAX_MQTT_TLS", bad[i], 1);
        CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_ECONF);
        CHECK(strstr(err, "is not a boolean") != NULL);
    }
    fini_all();
}

static void unknown_key_is_named_with_its_line(void)
{
    clear_env();
    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = a\n# x\nmqtt.hots = b\n"), MDX_ECONF);
    CHECK(strstr(err, ":3: unknown key \"mqtt.hots\"") != NULL);
    CHECK(strncmp(err, "config: /tmp/modax-conf-", 24) == 0);
    fini_all();
}

static void secret_in_file_is_refused_without_echoing_it(void)
{
    clear_env();
    CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = a\nmqtt.password = hunter2\n"), MDX_ECONF);
    CHECK(strstr(err, ":2: mqtt.password is a secret") != NULL);
    CHECK(strstr(err, "MODAX_MQTT_PASSWORD_FILE") != NULL);
    CHECK(strstr(err, "hunter2") == NULL);
    CHECK(mq.password == NULL);
    fini_all();
}

static void secret_comes_from_env(void)
{
    clear_env();
    setenv("MODAX_MQTT_PASSWORD", "s3cret value", 1);
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_OK);
    CHECK_STR(mq.password, "s3cret value");
    mdx_conf_fini(&mqtt_only[0]);
    CHECK(mq.password == NULL && mq.host == NULL && mq.client_id == NULL);
    fini_all();
}

static void secret_comes_from_file_without_trailing_newline(void)
{
    clear_env();
    write_file(secret_path, sizeof(secret_path), "pa ss\nword\r\n\n");
    setenv("MODAX_MQTT_PASSWORD_FILE", secret_path, 1);
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_OK);
    CHECK_STR(mq.password, "pa ss\nword");
    mdx_conf_fini(&mqtt_only[0]);

    setenv("MODAX_MQTT_PASSWORD", "other", 1);
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_ECONF);
    CHECK(strstr(err, "set only one") != NULL);
    CHECK(mq.password == NULL);
    unlink(secret_path);

    unsetenv("MODAX_MQTT_PASSWORD");
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_ECONF);
    CHECK(strstr(err, "MODAX_MQTT_PASSWORD_FILE: cannot open") != NULL);
    fini_all();
}

static void required_key_missing_is_an_error(void)
{
    clear_env();
    CHECK_EQ_INT(load_text(both, 2, "mqtt.host = a\n"), MDX_ECONF);
    CHECK(strstr(err, "store.url is required") != NULL);
    CHECK(strstr(err, "MODAX_STORE_URL") != NULL);
    CHECK(mq.host == NULL);

    CHECK_EQ_INT(load_text(both, 2, "store.url = sqlite:/var/lib/modax.db\n"), MDX_OK);
    CHECK_STR(st.url, "sqlite:/var/lib/modax.db");
    CHECK_EQ_INT(st.chunk_points, 256);
    fini_all();

    setenv("MODAX_STORE_URL", "", 1); /* set, even if empty */
    CHECK_EQ_INT(mdx_conf_load(both, 2, NULL, err, sizeof(err)), MDX_OK);
    CHECK_STR(st.url, "");
    fini_all();
}

static void missing_file_is_an_error(void)
{
    clear_env();
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, "/nonexistent/modax.conf", err, sizeof(err)),
                 MDX_ECONF);
    CHECK(strstr(err, "config: /nonexistent/modax.conf: ") != NULL);
    fini_all();
}

static void allocation_failure_is_reported_and_leaks_nothing(void)
{
    clear_env();
    for (long n = 0; n < 3; n++) {
        mdx_alloc_fail_after(n);
        CHECK_EQ_INT(load_text(mqtt_only, 1, "mqtt.host = a\n"), MDX_ECONF);
        mdx_alloc_fail_after(-1);
        CHECK(strstr(err, "out of memory") != NULL);
        CHECK(mq.host == NULL && mq.client_id == NULL);
    }
    fini_all();
}

static void env_name_is_upper_case_with_underscores(void)
{
    char buf[64];
    char small[10];

    mdx_conf_env_name("store.sqlite.path", buf, sizeof(buf));
    CHECK_STR(buf, "MODAX_STORE_SQLITE_PATH");
    mdx_conf_env_name("api.tls-cert", buf, sizeof(buf));
    CHECK_STR(buf, "MODAX_API_TLS_CERT");
    mdx_conf_env_name("mqtt.host", small, sizeof(small));
    CHECK_STR(small, "MODAX_MQT");
}

/* Reads the whole of 'f' into 'buf'. */
static void slurp(FILE *f, char *buf, size_t len)
{
    size_t n;

    rewind(f);
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
}

static void markdown_reference_lists_every_key_and_no_secret(void)
{
    static char out[8192];
    FILE *f = tmpfile();

    clear_env();
    setenv("MODAX_MQTT_PASSWORD", "hunter2", 1);
    CHECK_EQ_INT(mdx_conf_load(mqtt_only, 1, NULL, err, sizeof(err)), MDX_OK);
    mdx_conf_describe(both, 2, 1, f);
    slurp(f, out, sizeof(out));
    fclose(f);

    CHECK(strstr(out, "### mqtt\n\n| key | env | default | range | description |\n") != NULL);
    CHECK(
        strstr(out, "| `mqtt.port` | `MODAX_MQTT_PORT` | `1883` | 1..65535 | Broker TCP port |") !=
        NULL);
    CHECK(strstr(out, "| `mqtt.tls` | `MODAX_MQTT_TLS` | `false` | true/false | Use TLS \\| mutual "
                      "TLS |") != NULL);
    CHECK(strstr(out, "`MODAX_MQTT_PASSWORD`<br>`MODAX_MQTT_PASSWORD_FILE` | *secret*") != NULL);
    CHECK(strstr(out, "| `store.url` | `MODAX_STORE_URL` | *required* |") != NULL);
    CHECK(strstr(out, "### store") != NULL);
    CHECK(strstr(out, "hunter2") == NULL);
    fini_all();
}

static void example_file_loads_back_with_the_defaults(void)
{
    static char out[8192], edited[8192];
    FILE *f = tmpfile();
    size_t j = 0;

    clear_env();
    mdx_conf_describe(mqtt_only, 1, 0, f);
    slurp(f, out, sizeof(out));
    fclose(f);

    CHECK(strstr(out, "# Broker TCP port (1..65535)\n#mqtt.port = 1883\n") != NULL);
    CHECK(strstr(out, "#mqtt.client_id = \"modax # ingest\"\n") != NULL);
    CHECK(strstr(out, "# mqtt.password is a secret: set MODAX_MQTT_PASSWORD or "
                      "MODAX_MQTT_PASSWORD_FILE") != NULL);

    /* Uncomment every "#key = value" line; the file must then load. */
    for (const char *p = out; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
        const char *start = p;
        if (p[0] == '#' && p[1] >= 'a' && p[1] <= 'z' && memchr(p, '=', len) != NULL) {
            start++;
            len--;
        }
        if (j + len < sizeof(edited)) {
            memcpy(edited + j, start, len);
            j += len;
        }
        p = nl != NULL ? nl + 1 : p + strlen(p);
    }
    edited[j] = '\0';
    CHECK(strstr(edited, "\nmqtt.port = 1883\n") != NULL);
    CHECK_EQ_INT(load_text(mqtt_only, 1, edited), MDX_OK);
    CHECK_STR(mq.client_id, "modax # ingest");
    CHECK_EQ_INT(mq.port, 1883);
    fini_all();
}

static const struct mdx_test tests[] = {
    {"defaults apply without a file", defaults_apply_without_a_file},
    {"file values replace defaults; comments and blanks skipped", file_values_replace_defaults},
    {"quoted values keep spaces, hashes and escaped quotes",
     quoted_values_keep_spaces_hashes_and_escaped_quotes},
    {"malformed lines are refused with their line number",
     malformed_lines_are_refused_with_their_line_number},
    {"env override beats file and default", env_override_beats_file_and_default},
    {"env values are checked and named in errors", env_values_are_checked_and_named_in_errors},
    {"bounds errors name file, line, key and limit", bounds_errors_name_file_line_key_and_limit},
    {"doubles must be finite and within bounds", doubles_must_be_finite_and_within_bounds},
    {"bool accepts the usual words only", bool_accepts_the_usual_words_only},
    {"unknown key is named with its line", unknown_key_is_named_with_its_line},
    {"secret in file is refused without echoing it", secret_in_file_is_refused_without_echoing_it},
    {"secret comes from env", secret_comes_from_env},
    {"secret comes from *_FILE without trailing newline",
     secret_comes_from_file_without_trailing_newline},
    {"required key missing is an error", required_key_missing_is_an_error},
    {"missing file is an error", missing_file_is_an_error},
    {"allocation failure is reported and leaks nothing",
     allocation_failure_is_reported_and_leaks_nothing},
    {"env name is upper case with underscores", env_name_is_upper_case_with_underscores},
    {"markdown reference lists every key and no secret",
     markdown_reference_lists_every_key_and_no_secret},
    {"example file loads back with the defaults", example_file_loads_back_with_the_defaults},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
