/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_validate.c - the validate stage: topics, names, UTF-8, numbers
 * and the clock rule, called directly.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "modax/status.h"
#include "modax/validate.h"

#define RECV_MS 1764230400500LL

static int topic(const char *t, struct mdx_msg *m, const char **why)
{
    memset(m, 0, sizeof(*m));
    *why = NULL;
    return mdx_validate_topic(t, m, why);
}

static void expect_topic_refused(const char *t, const char *reason)
{
    struct mdx_msg m;
    const char *why;

    CHECK_EQ_INT(topic(t, &m, &why), MDX_EINVAL);
    CHECK_STR(why, reason);
    CHECK_STR(m.tenant, ""); /* nothing written on refusal */
    CHECK_STR(m.device, "");
}

/* ---- topics ---- */

static void topic_of_each_kind_is_split(void)
{
    static const struct {
        const char *topic;
        enum mdx_msg_kind kind;
    } cases[] = {
        {"modax/acme/press-0042/sensor_data", MDX_MSG_SENSOR_DATA},
        {"modax/acme/press-0042/safety", MDX_MSG_SAFETY},
        {"modax/acme/press-0042/status", MDX_MSG_STATUS},
        {"modax/acme/press-0042/command_ack", MDX_MSG_COMMAND_ACK},
    };
    struct mdx_msg m;
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ_INT(topic(cases[i].topic, &m, &why), MDX_OK);
        CHECK_STR(m.tenant, "acme");
        CHECK_STR(m.device, "press-0042");
        CHECK_EQ_INT(m.kind, cases[i].kind);
    }
}

static void topic_segments_of_64_bytes_are_accepted(void)
{
    char t[256];
    char seg[65];
    struct mdx_msg m;
    const char *why;

    memset(seg, 'A', 64);
    seg[64] = '\0';
    snprintf(t, sizeof(t), "modax/%s/%s/status", seg, seg);
    CHECK_EQ_INT(topic(t, &m, &why), MDX_OK);
    CHECK_EQ_INT(strlen(m.tenant), 64);
    CHECK_EQ_INT(strlen(m.device), 64);
}

static void topic_tenant_of_65_bytes_is_bad_segment(void)
{
    char t[256];
    char seg[66];

    memset(seg, 't', 65);
    seg[65] = '\0';
    snprintf(t, sizeof(t), "modax/%s/press-0042/sensor_data", seg);
    expect_topic_refused(t, "bad topic segment");
}

static void topic_device_of_10000_bytes_is_bad_segment(void)
{
    static char t[10100];
    size_t off = (size_t)snprintf(t, sizeof(t), "modax/acme/");

    memset(t + off, 'd', 10000);
    snprintf(t + off + 10000, sizeof(t) - off - 10000, "/sensor_data");
    expect_topic_refused(t, "bad topic segment");
}

static void topic_with_illegal_characters_is_bad_segment(void)
{
    expect_topic_refused("modax/acme/press 0042/sensor_data", "bad topic segment");
    expect_topic_refused("modax/acme/press.0042/sensor_data", "bad topic segment");
    expect_topic_refused("modax/acme/+/sensor_data", "bad topic segment");
    expect_topic_refused("modax/#/press-0042/sensor_data", "bad topic segment");
    expect_topic_refused("modax/acme/pr\xC3\xA9ss/sensor_data", "bad topic segment");
}

static void topic_with_empty_segment_is_bad_segment(void)
{
    expect_topic_refused("modax//press-0042/sensor_data", "bad topic segment");
    expect_topic_refused("modax/acme//sensor_data", "bad topic segment");
}

static void topic_with_three_levels_is_bad_topic(void)
{
    expect_topic_refused("modax/acme/sensor_data", "bad topic");
}

static void topic_with_five_levels_is_bad_topic(void)
{
    expect_topic_refused("modax/acme/press-0042/sensor_data/extra", "bad topic");
    expect_topic_refused("modax/acme/press-0042/sensor_data/", "bad topic");
    expect_topic_refused("/modax/acme/press-0042/sensor_data", "bad topic");
}

static void topic_with_other_root_is_bad_topic(void)
{
    expect_topic_refused("modbx/acme/press-0042/sensor_data", "bad topic");
    expect_topic_refused("MODAX/acme/press-0042/sensor_data", "bad topic");
    expect_topic_refused("modaxx/acme/press-0042/sensor_data", "bad topic");
}

static void topic_with_unknown_kind_is_bad_topic(void)
{
    expect_topic_refused("modax/acme/press-0042/commands", "bad topic");
    expect_topic_refused("modax/acme/press-0042/sensor", "bad topic");
    expect_topic_refused("modax/acme/press-0042/sensor_datax", "bad topic");
    expect_topic_refused("modax/acme/press-0042/", "bad topic");
}

static void empty_and_null_topics_are_bad_topic(void)
{
    expect_topic_refused("", "bad topic");
    expect_topic_refused(NULL, "bad topic");
}

static void kind_names_match_the_topic_levels(void)
{
    CHECK_STR(mdx_msg_kind_name(MDX_MSG_SENSOR_DATA), "sensor_data");
    CHECK_STR(mdx_msg_kind_name(MDX_MSG_SAFETY), "safety");
    CHECK_STR(mdx_msg_kind_name(MDX_MSG_STATUS), "status");
    CHECK_STR(mdx_msg_kind_name(MDX_MSG_COMMAND_ACK), "command_ack");
    CHECK_STR(mdx_msg_kind_name((enum mdx_msg_kind)42), "unknown");
}

/* ---- names ---- */

static void segment_and_sensor_charsets_differ(void)
{
    CHECK(mdx_valid_segment("Press-01_a", 10));
    CHECK(!mdx_valid_sensor("Press-01_a", 10));
    CHECK(mdx_valid_sensor("current_mean_2", 14));
    CHECK(!mdx_valid_sensor("current-mean", 12));
    CHECK(!mdx_valid_segment("", 0));
    CHECK(!mdx_valid_sensor("", 0));
    CHECK(!mdx_valid_segment(NULL, 3));
    CHECK(mdx_valid_sensor("abc/def", 3)); /* only 'n' bytes are looked at */
}

/* ---- UTF-8 ---- */

#define UTF8(s) mdx_valid_utf8((const uint8_t *)(s), sizeof(s) - 1)

static void utf8_accepts_every_sequence_length(void)
{
    CHECK(UTF8(""));
    CHECK(UTF8("plain ascii, longer than eight bytes"));
    CHECK(UTF8("\xC2\x80"));                         /* U+0080 */
    CHECK(UTF8("temp\xC3\xA9rature"));               /* U+00E9 */
    CHECK(UTF8("\xE0\xA0\x80"));                     /* U+0800 */
    CHECK(UTF8("\xED\x9F\xBF"));                     /* U+D7FF, below the surrogates */
    CHECK(UTF8("\xEE\x80\x80"));                     /* U+E000, above them */
    CHECK(UTF8("\xF0\x90\x80\x80"));                 /* U+10000 */
    CHECK(UTF8("\xF4\x8F\xBF\xBF"));                 /* U+10FFFF */
    CHECK(UTF8("12345678\xF0\x9F\x98\x80zyxwvuts")); /* emoji between ASCII words */
}

static void utf8_refuses_overlongs(void)
{
    CHECK(!UTF8("\xC0\xAF")); /* '/' in two bytes */
    CHECK(!UTF8("\xC1\xBF"));
    CHECK(!UTF8("\xE0\x80\xAF"));     /* '/' in three bytes */
    CHECK(!UTF8("\xE0\x9F\xBF"));     /* U+07FF in three bytes */
    CHECK(!UTF8("\xF0\x80\x80\xAF")); /* '/' in four bytes */
    CHECK(!UTF8("\xF0\x8F\xBF\xBF")); /* U+FFFF in four bytes */
}

static void utf8_refuses_surrogates(void)
{
    CHECK(!UTF8("\xED\xA0\x80"));             /* U+D800 */
    CHECK(!UTF8("\xED\xBF\xBF"));             /* U+DFFF */
    CHECK(!UTF8("\xED\xA0\xBD\xED\xB8\x80")); /* a CESU-8 pair */
}

static void utf8_refuses_beyond_10ffff(void)
{
    CHECK(!UTF8("\xF4\x90\x80\x80")); /* U+110000 */
    CHECK(!UTF8("\xF5\x80\x80\x80"));
    CHECK(!UTF8("\xFF"));
    CHECK(!UTF8("\xFE"));
}

static void utf8_refuses_truncated_sequences(void)
{
    CHECK(!UTF8("\xC3"));
    CHECK(!UTF8("abc\xE2\x82"));
    CHECK(!UTF8("abcdefgh\xF0\x9F\x98"));
    CHECK(!UTF8("\xE2\x82xyz")); /* continuation replaced by ASCII */
}

static void utf8_refuses_stray_continuation_bytes(void)
{
    CHECK(!UTF8("\x80"));
    CHECK(!UTF8("abc\xBFxyz"));
    CHECK(!UTF8("\xC3\xA9\xA9"));
}

static void utf8_does_not_read_past_n(void)
{
    /* Valid lead byte whose continuations lie beyond 'n'. */
    CHECK(!mdx_valid_utf8((const uint8_t *)"\xC3\xA9", 1));
    CHECK(mdx_valid_utf8((const uint8_t *)"ab\xFF", 2));
}

/* ---- clock ---- */

static void clock_keeps_plausible_timestamps(void)
{
    int64_t ts = RECV_MS - 3600 * 1000;

    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 0);
    CHECK_EQ_INT(ts, RECV_MS - 3600 * 1000);
    ts = MDX_TS_MIN_MS;
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 0);
    ts = RECV_MS + MDX_TS_MAX_AHEAD_MS; /* exactly 5 minutes ahead */
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 0);
    CHECK_EQ_INT(ts, RECV_MS + MDX_TS_MAX_AHEAD_MS);
}

static void clock_replaces_implausible_timestamps(void)
{
    int64_t ts;

    ts = MDX_TS_MIN_MS - 1;
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 1);
    CHECK_EQ_INT(ts, RECV_MS);
    ts = RECV_MS + MDX_TS_MAX_AHEAD_MS + 1;
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 1);
    CHECK_EQ_INT(ts, RECV_MS);
    ts = 123456; /* milliseconds since boot */
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 1);
    ts = -1;
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 1);
    ts = INT64_MIN;
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 1);
    ts = INT64_MAX; /* no overflow in the comparison */
    CHECK_EQ_INT(mdx_validate_clock(&ts, RECV_MS), 1);
    CHECK_EQ_INT(ts, RECV_MS);
}

/* ---- points ---- */

static void set_point(struct mdx_point *p, const char *sensor, double value, int64_t ts)
{
    memset(p, 0, sizeof(*p));
    p->ts_ms = ts;
    p->value = value;
    p->sensor_len = (uint8_t)strlen(sensor);
    memcpy(p->sensor, sensor, p->sensor_len);
}

static void points_clock_rule_flags_only_replaced_points(void)
{
    struct mdx_point v[4];
    struct mdx_points pts = {v, 4, 4};
    const char *why = NULL;

    set_point(&v[0], "a", 1, RECV_MS - 30LL * 365 * 86400000); /* 30 years ago */
    set_point(&v[1], "b", 2, RECV_MS + 10 * 60000);            /* 10 minutes ahead */
    set_point(&v[2], "c", 3, RECV_MS + 4 * 60000);             /* 4 minutes ahead */
    set_point(&v[3], "d", 4, RECV_MS - 1000);                  /* out of order is fine */
    CHECK_EQ_INT(mdx_validate_points(&pts, RECV_MS, &why), MDX_OK);
    CHECK_EQ_INT(v[0].ts_ms, RECV_MS);
    CHECK_EQ_INT(v[0].flags, MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(v[1].ts_ms, RECV_MS);
    CHECK_EQ_INT(v[1].flags, MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(v[2].ts_ms, RECV_MS + 4 * 60000);
    CHECK_EQ_INT(v[2].flags, 0);
    CHECK_EQ_INT(v[3].ts_ms, RECV_MS - 1000);
    CHECK_EQ_INT(v[3].flags, 0);
}

static void expect_points_refused(const char *sensor, double value, const char *reason)
{
    struct mdx_point v[2];
    struct mdx_points pts = {v, 2, 2};
    const char *why = NULL;

    set_point(&v[0], "ok_first", 1, 5); /* implausible: would be replaced if accepted */
    set_point(&v[1], sensor, value, RECV_MS);
    CHECK_EQ_INT(mdx_validate_points(&pts, RECV_MS, &why), MDX_EINVAL);
    CHECK_STR(why, reason);
    CHECK_EQ_INT(v[0].ts_ms, 5); /* refusal changes nothing */
    CHECK_EQ_INT(v[0].flags, 0);
}

static void points_nan_value_is_refused(void)
{
    expect_points_refused("a", NAN, "non-finite number");
}

static void points_infinite_value_is_refused(void)
{
    expect_points_refused("a", -INFINITY, "non-finite number");
}

static void points_value_beyond_the_magnitude_limit_is_refused(void)
{
    expect_points_refused("a", 1.7e308, "value out of range");
    expect_points_refused("a", -1.7e308, "value out of range");
    expect_points_refused("a", nextafter(MDX_VALUE_ABS_MAX, INFINITY), "value out of range");
}

static void points_value_at_the_magnitude_limit_is_accepted(void)
{
    struct mdx_point v[2];
    struct mdx_points pts = {v, 2, 2};
    const char *why = NULL;

    set_point(&v[0], "a", MDX_VALUE_ABS_MAX, RECV_MS);
    set_point(&v[1], "b", -MDX_VALUE_ABS_MAX, RECV_MS);
    CHECK_EQ_INT(mdx_validate_points(&pts, RECV_MS, &why), MDX_OK);
}

static void points_uppercase_sensor_is_refused(void)
{
    expect_points_refused("Current_Mean", 1, "bad sensor name");
}

static void points_empty_sensor_is_refused(void)
{
    expect_points_refused("", 1, "bad sensor name");
}

static void points_sensor_of_65_bytes_is_refused(void)
{
    struct mdx_point v[1];
    struct mdx_points pts = {v, 1, 1};
    const char *why = NULL;

    set_point(&v[0], "a", 1, RECV_MS);
    memset(v[0].sensor, 'a', sizeof(v[0].sensor)); /* no NUL: length must bound the check */
    v[0].sensor_len = MDX_NAME_MAX + 1;
    CHECK_EQ_INT(mdx_validate_points(&pts, RECV_MS, &why), MDX_EINVAL);
    CHECK_STR(why, "bad sensor name");
}

static void points_empty_list_is_fine(void)
{
    struct mdx_points pts = {NULL, 0, 0};
    const char *why = NULL;

    CHECK_EQ_INT(mdx_validate_points(&pts, RECV_MS, &why), MDX_OK);
}

static const struct mdx_test tests[] = {
    {"topic of each kind is split", topic_of_each_kind_is_split},
    {"topic segments of 64 bytes are accepted", topic_segments_of_64_bytes_are_accepted},
    {"topic tenant of 65 bytes is bad segment", topic_tenant_of_65_bytes_is_bad_segment},
    {"topic device of 10,000 bytes is bad segment", topic_device_of_10000_bytes_is_bad_segment},
    {"topic with illegal characters is bad segment", topic_with_illegal_characters_is_bad_segment},
    {"topic with empty segment is bad segment", topic_with_empty_segment_is_bad_segment},
    {"topic with three levels is bad topic", topic_with_three_levels_is_bad_topic},
    {"topic with five levels is bad topic", topic_with_five_levels_is_bad_topic},
    {"topic with other root is bad topic", topic_with_other_root_is_bad_topic},
    {"topic with unknown kind is bad topic", topic_with_unknown_kind_is_bad_topic},
    {"empty and NULL topics are bad topic", empty_and_null_topics_are_bad_topic},
    {"kind names match the topic levels", kind_names_match_the_topic_levels},
    {"segment and sensor charsets differ", segment_and_sensor_charsets_differ},
    {"UTF-8 accepts every sequence length", utf8_accepts_every_sequence_length},
    {"UTF-8 refuses overlongs", utf8_refuses_overlongs},
    {"UTF-8 refuses surrogates", utf8_refuses_surrogates},
    {"UTF-8 refuses beyond U+10FFFF", utf8_refuses_beyond_10ffff},
    {"UTF-8 refuses truncated sequences", utf8_refuses_truncated_sequences},
    {"UTF-8 refuses stray continuation bytes", utf8_refuses_stray_continuation_bytes},
    {"UTF-8 does not read past n", utf8_does_not_read_past_n},
    {"clock keeps plausible timestamps", clock_keeps_plausible_timestamps},
    {"clock replaces implausible timestamps", clock_replaces_implausible_timestamps},
    {"points: clock rule flags only replaced points", points_clock_rule_flags_only_replaced_points},
    {"points: NaN value is refused", points_nan_value_is_refused},
    {"points: infinite value is refused", points_infinite_value_is_refused},
    {"points: uppercase sensor is refused", points_uppercase_sensor_is_refused},
    {"points: empty sensor is refused", points_empty_sensor_is_refused},
    {"points: sensor of 65 bytes is refused", points_sensor_of_65_bytes_is_refused},
    {"points: empty list is fine", points_empty_list_is_fine},
    {"issue 16: value beyond the magnitude limit is refused",
     points_value_beyond_the_magnitude_limit_is_refused},
    {"issue 16: value at the magnitude limit is accepted",
     points_value_at_the_magnitude_limit_is_accepted},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
