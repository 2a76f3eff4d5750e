/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log.c - log record format (text and JSON), escaping, level
 * threshold, repeat suppression and whole lines under threads.
 *
 * Each test sends stderr to a temporary file with dup2() while it logs,
 * then reads back what was written.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define CAPTURE_MAX (1 << 20)

static char captured[CAPTURE_MAX];
static int saved_fd = -1;
static FILE *capture_file;

static void capture_begin(void)
{
    capture_file = tmpfile();
    saved_fd = dup(STDERR_FILENO);
    dup2(fileno(capture_file), STDERR_FILENO);
}

/* Restores stderr and returns what was written meanwhile (NUL-terminated). */
static const char *capture_end(void)
{
    size_t n;

    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    rewind(capture_file);
    n = fread(captured, 1, CAPTURE_MAX - 1, capture_file);
    captured[n] = '\0';
    fclose(capture_file);
    return captured;
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++) {
        n += *s == '\n';
    }
    return n;
}

/* Parses the first line of 's' as JSON; NULL if it is not valid. */
static cJSON *parse_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    size_t len = nl != NULL ? (size_t)(nl - s) : strlen(s);

    return cJSON_ParseWithLength(s, len);
}

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void json_has_standard_fields_and_typed_values(void)
{
    const char *out;
    cJSON *j;
    int64_t ts;
    char tsbuf[32];

    mdx_log_setup(MDX_LOG_TRACE, MDX_LOG_JSON, 0);
    capture_begin();
    mdx_log_warn("ingest", "payload rejected", MDX_F_STR("tenant", "acme"),
                 MDX_F_INT("bytes", -1234567890123LL), MDX_F_DBL("ratio", 0.1),
                 MDX_F_ERR(MDX_EBUSY));
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), 1);
    CHECK(strncmp(out, "{\"ts\":\"", 7) == 0);
    CHECK(strstr(out, "\"level\":\"warn\",\"module\":\"ingest\",\"msg\":\"payload rejected\"") !=
          NULL);
    CHECK(strstr(out, "\"bytes\":-1234567890123,") != NULL);
    CHECK(strstr(out, "\"ratio\":0.1,") != NULL);
    j = parse_line(out);
    CHECK(j != NULL);
    if (j != NULL) {
        CHECK_STR(json_str(j, "tenant"), "acme");
        CHECK_STR(json_str(j, "error"), "busy or locked");
        CHECK(cJSON_GetObjectItem(j, "ratio")->valuedouble == 0.1);
        snprintf(tsbuf, sizeof(tsbuf), "%s", json_str(j, "ts") ? json_str(j, "ts") : "");
        CHECK_EQ_INT(mdx_parse_time_ms(tsbuf, &ts), MDX_OK);
        CHECK(ts > mdx_now_ms() - 5000 && ts <= mdx_now_ms());
        cJSON_Delete(j);
    }
}

static void json_escapes_quotes_newlines_and_control_characters(void)
{
    const char *out;
    cJSON *j;

    mdx_log_setup(MDX_LOG_TRACE, MDX_LOG_JSON, 0);
    capture_begin();
    mdx_log_error("store", "say \"hi\"\n", MDX_F_STR("path", "C:\\tmp\\x"),
                  MDX_F_STR("ctl", "a\tb\rc\x01"
                                   "d\x1b[31m"));
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), 1);
    CHECK(strstr(out, "\"msg\":\"say \\\"hi\\\"\\n\"") != NULL);
    CHECK(strstr(out, "\"path\":\"C:\\\\tmp\\\\x\"") != NULL);
    CHECK(strstr(out, "\"ctl\":\"a\\tb\\rc\\u0001d\\u001b[31m\"") != NULL);
    j = parse_line(out);
    CHECK(j != NULL);
    if (j != NULL) {
        CHECK_STR(json_str(j, "msg"), "say \"hi\"\n");
        CHECK_STR(json_str(j, "ctl"), "a\tb\rc\x01"
                                      "d\x1b[31m");
        cJSON_Delete(j);
    }
}

static void json_replaces_invalid_utf8_and_keeps_valid_utf8(void)
{
    const char *out;
    cJSON *j;

    mdx_log_setup(MDX_LOG_TRACE, MDX_LOG_JSON, 0);
    capture_begin();
    mdx_log_info("decode", "bad bytes",
                 MDX_F_STR("ok", "M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x98\x80"),
                 MDX_F_STR("lone", "a\xff"
                                   "b"),
                 MDX_F_STR("overlong", "\xc0\xaf"), MDX_F_STR("surrogate", "\xed\xa0\x80"),
                 MDX_F_STR("cut", "x\xe2\x82"));
    out = capture_end();

    CHECK(strstr(out, "\"ok\":\"M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x98\x80\"") != NULL);
    CHECK(strstr(out, "\"lone\":\"a\\ufffdb\"") != NULL);
    CHECK(strstr(out, "\"overlong\":\"\\ufffd\\ufffd\"") != NULL);
    CHECK(strstr(out, "\"surrogate\":\"\\ufffd\\ufffd\\ufffd\"") != NULL);
    CHECK(strstr(out, "\"cut\":\"x\\ufffd\\ufffd\"") != NULL);
    j = parse_line(out);
    CHECK(j != NULL);
    cJSON_Delete(j);
}

static void json_writes_non_finite_doubles_as_strings(void)
{
    const char *out;
    cJSON *j;

    mdx_log_setup(MDX_LOG_TRACE, MDX_LOG_JSON, 0);
    capture_begin();
    mdx_log_info("detect", "odd values", MDX_F_DBL("a", NAN), MDX_F_DBL("b", INFINITY),
                 MDX_F_DBL("c", -INFINITY), MDX_F_DBL("d", 1e300), MDX_F_STR("e", NULL));
    out = capture_end();

    CHECK(strstr(out, "\"a\":\"nan\",\"b\":\"inf\",\"c\":\"-inf\",\"d\":1e+300,\"e\":null}") !=
          NULL);
    j = parse_line(out);
    CHECK(j != NULL);
    cJSON_Delete(j);
}

static void text_format_is_readable_and_quotes_values_with_spaces(void)
{
    const char *out;
    char ts[32];
    int64_t v;

    mdx_log_setup(MDX_LOG_TRACE, MDX_LOG_TEXT, 0);
    capture_begin();
    mdx_log_warn("ingest", "payload rejected", MDX_F_STR("tenant", "acme"),
                 MDX_F_STR("reason", "bad topic"), MDX_F_INT("n", 3), MDX_F_STR("empty", ""),
                 MDX_F_STR("q", "say \"x\""));
    mdx_log_error("core", "disk full");
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), 2);
    CHECK(strlen(out) > 25);
    snprintf(ts, sizeof(ts), "%.24s", out);
    CHECK_EQ_INT(mdx_parse_time_ms(ts, &v), MDX_OK);
    CHECK(strncmp(out + 24,
                  " WARN  ingest: payload rejected tenant=acme reason=\"bad topic\" n=3 "
                  "empty=\"\" q=\"say \\\"x\\\"\"\n",
                  85) == 0);
    CHECK(strstr(out, "Z ERROR core: disk full\n") != NULL);
}

static void text_escapes_terminal_controls_and_invalid_utf8(void)
{
    const char *out;

    mdx_log_setup(MDX_LOG_TRACE, MDX_LOG_TEXT, 0);
    capture_begin();
    mdx_log_info("core", "line\none", MDX_F_STR("v", "a\x1b[31mb"), MDX_F_STR("u", "x\xff"));
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), 1);
    CHECK(strstr(out, " core: line\\none v=\"a\\u001b[31mb\" u=x\xef\xbf\xbd\n") != NULL);
    CHECK(strchr(out, 0x1b) == NULL);
}

static void auto_format_is_json_when_stderr_is_not_a_terminal(void)
{
    const char *out;

    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_AUTO, 0);
    capture_begin();
    mdx_log_info("core", "started");
    out = capture_end();
    CHECK(out[0] == '{');
}

static void threshold_drops_lower_levels_without_evaluating_fields(void)
{
    const char *out;
    int evaluated = 0;

    mdx_log_setup(MDX_LOG_WARN, MDX_LOG_JSON, 0);
    capture_begin();
    mdx_log_debug("core", "debug line", MDX_F_INT("n", ++evaluated));
    mdx_log_info("core", "info line", MDX_F_INT("n", ++evaluated));
    mdx_log_warn("core", "warn line", MDX_F_INT("n", 7));
    mdx_log_write(MDX_LOG_INFO, "core", "direct info", NULL, 0);
    mdx_log_error("core", "error line");
    out = capture_end();

    CHECK_EQ_INT(evaluated, 0);
    CHECK_EQ_INT(count_lines(out), 2);
    CHECK(strstr(out, "warn line") != NULL);
    CHECK(strstr(out, "error line") != NULL);
    CHECK(strstr(out, "info line") == NULL);

    mdx_log_setup(MDX_LOG_OFF, MDX_LOG_JSON, 0);
    capture_begin();
    mdx_log_error("core", "not even errors");
    out = capture_end();
    CHECK_EQ_INT(count_lines(out), 0);
    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_JSON, 10000);
}

static void level_names_parse(void)
{
    CHECK_EQ_INT(mdx_log_level_parse("trace"), MDX_LOG_TRACE);
    CHECK_EQ_INT(mdx_log_level_parse("debug"), MDX_LOG_DEBUG);
    CHECK_EQ_INT(mdx_log_level_parse("info"), MDX_LOG_INFO);
    CHECK_EQ_INT(mdx_log_level_parse("WARN"), MDX_LOG_WARN);
    CHECK_EQ_INT(mdx_log_level_parse("error"), MDX_LOG_ERROR);
    CHECK_EQ_INT(mdx_log_level_parse("off"), MDX_LOG_OFF);
    CHECK_EQ_INT(mdx_log_level_parse("verbose"), -1);
    CHECK_EQ_INT(mdx_log_level_parse(""), -1);
    CHECK_EQ_INT(mdx_log_level_parse(NULL), -1);
}

static void suppression_counts_repeats_and_reports_them_after_the_interval(void)
{
    const char *out;
    const char *second;
    cJSON *j;

    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_JSON, 50);
    capture_begin();
    for (int i = 0; i < 5; i++) {
        mdx_log_warn("ingest", "payload rejected", MDX_F_INT("i", i));
    }
    mdx_log_warn("ingest", "other message");
    mdx_log_warn("store", "payload rejected"); /* another module: its own entry */
    mdx_sleep_ms(80); /* past the 50 ms suppression window: time must pass */
    mdx_log_warn("ingest", "payload rejected", MDX_F_INT("i", 5));
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), 4);
    CHECK(strstr(out, "\"i\":0") != NULL);
    CHECK(strstr(out, "\"i\":1") == NULL);
    CHECK(strstr(out, "\"i\":4") == NULL);
    second = strstr(out, "\"i\":5");
    CHECK(second != NULL);
    if (second != NULL) {
        while (second > out && second[-1] != '\n') {
            second--;
        }
        j = parse_line(second);
        CHECK(j != NULL);
        if (j != NULL) {
            CHECK_EQ_INT(cJSON_GetObjectItem(j, "suppressed")->valueint, 4);
            cJSON_Delete(j);
        }
    }
    /* The first line carried no count. */
    CHECK(strstr(out, "\"suppressed\"") == strstr(out, "\"suppressed\":4"));
}

static void suppressed_count_appears_in_text_and_resets(void)
{
    const char *out;

    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_TEXT, 50);
    capture_begin();
    mdx_log_info("core", "tick");
    mdx_log_info("core", "tick");
    mdx_log_info("core", "tick");
    mdx_sleep_ms(80); /* past the 50 ms suppression window: time must pass */
    mdx_log_info("core", "tick");
    mdx_sleep_ms(80); /* past the 50 ms suppression window: time must pass */
    mdx_log_info("core", "tick");
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), 3);
    CHECK(strstr(out, "core: tick suppressed=2\n") != NULL);
    CHECK(strstr(out, "suppressed=1") == NULL);
}

static void final_record_is_written_despite_suppression(void)
{
    const char *out;

    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_TEXT, 10000);
    capture_begin();
    mdx_log_info("engine", "statistics", MDX_F_INT("stored", 1));
    mdx_log_info("engine", "statistics", MDX_F_INT("stored", 2)); /* held back */
    mdx_log_info_always("engine", "statistics", MDX_F_INT("stored", 3), MDX_F_INT("final", 1));
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), 2);
    CHECK(strstr(out, "stored=3 final=1 suppressed=1\n") != NULL);
    CHECK(strstr(out, "stored=2") == NULL);
}

static void suppression_off_prints_every_record(void)
{
    const char *out;

    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_JSON, 0);
    capture_begin();
    for (int i = 0; i < 20; i++) {
        mdx_log_info("core", "same");
    }
    out = capture_end();
    CHECK_EQ_INT(count_lines(out), 20);
}

static void many_distinct_messages_are_never_suppressed(void)
{
    const char *out;
    char msg[32];

    /* More pairs than table slots: entries are evicted, nothing is lost or merged. */
    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_JSON, 10000);
    capture_begin();
    for (int i = 0; i < 500; i++) {
        snprintf(msg, sizeof(msg), "message %d", i);
        mdx_log_info("core", msg);
    }
    out = capture_end();
    CHECK_EQ_INT(count_lines(out), 500);
}

static void long_values_are_cut_and_the_line_stays_valid_json(void)
{
    static char big[10000];
    const char *out;
    cJSON *j;
    size_t len;

    memset(big, 'x', sizeof(big) - 1);
    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_JSON, 0);
    capture_begin();
    mdx_log_info("core", "big", MDX_F_STR("a", big), MDX_F_STR("b", big), MDX_F_STR("c", big),
                 MDX_F_STR("d", big), MDX_F_STR("e", big), MDX_F_INT("last", 1));
    out = capture_end();

    len = strlen(out);
    CHECK_EQ_INT(count_lines(out), 1);
    CHECK(len <= 4096);
    CHECK(len > 3000);
    CHECK(strstr(out, "xxx...\"") != NULL);
    CHECK(strstr(out, "\"last\"") == NULL);
    CHECK(strstr(out, ",\"truncated\":true}\n") != NULL);
    j = parse_line(out);
    CHECK(j != NULL);
    cJSON_Delete(j);
}

#define THREADS 4
#define PER_THREAD 200

static void *log_from_thread(void *arg)
{
    int id = (int)(intptr_t)arg;

    for (int i = 0; i < PER_THREAD; i++) {
        mdx_log_info("worker", "working", MDX_F_INT("thread", id), MDX_F_INT("i", i),
                     MDX_F_STR("pad", "some text to make the line longer than a few bytes"));
    }
    return NULL;
}

static void lines_from_threads_never_interleave(void)
{
    pthread_t t[THREADS];
    const char *out, *line;
    int valid = 0;

    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_JSON, 0);
    capture_begin();
    for (int i = 0; i < THREADS; i++) {
        pthread_create(&t[i], NULL, log_from_thread, (void *)(intptr_t)i);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    out = capture_end();

    CHECK_EQ_INT(count_lines(out), THREADS * PER_THREAD);
    for (line = out; *line != '\0'; line = strchr(line, '\n') + 1) {
        cJSON *j = parse_line(line);
        valid += j != NULL;
        cJSON_Delete(j);
    }
    CHECK_EQ_INT(valid, THREADS * PER_THREAD);
}

static const struct mdx_test tests[] = {
    {"json has ts, level, module, msg and typed values", json_has_standard_fields_and_typed_values},
    {"json escapes quotes, newlines and control characters",
     json_escapes_quotes_newlines_and_control_characters},
    {"json replaces invalid UTF-8 and keeps valid UTF-8",
     json_replaces_invalid_utf8_and_keeps_valid_utf8},
    {"json writes non-finite doubles as strings", json_writes_non_finite_doubles_as_strings},
    {"text format is readable and quotes values with spaces",
     text_format_is_readable_and_quotes_values_with_spaces},
    {"text escapes terminal controls and invalid UTF-8",
     text_escapes_terminal_controls_and_invalid_utf8},
    {"auto format is json when stderr is not a terminal",
     auto_format_is_json_when_stderr_is_not_a_terminal},
    {"threshold drops lower levels without evaluating fields",
     threshold_drops_lower_levels_without_evaluating_fields},
    {"level names parse", level_names_parse},
    {"suppression counts repeats and reports them after the interval",
     suppression_counts_repeats_and_reports_them_after_the_interval},
    {"suppressed count appears in text and resets", suppressed_count_appears_in_text_and_resets},
    {"suppression off prints every record", suppression_off_prints_every_record},
    {"issue 16: a final record is written despite suppression",
     final_record_is_written_despite_suppression},
    {"many distinct messages are never suppressed", many_distinct_messages_are_never_suppressed},
    {"long values are cut and the line stays valid json",
     long_values_are_cut_and_the_line_stays_valid_json},
    {"lines from threads never interleave", lines_from_threads_never_interleave},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
