/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_decode.c - the decode stage with real payloads: the fixtures of
 * tests/data (found through MODAX_TEST_DATA), named after their defect,
 * and payloads built here where bytes matter (UTF-8, sizes).
 *
 * Every payload is copied into a heap block of exactly its length, so
 * that ASan sees any read past the end: payloads are not NUL-terminated.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "modax/decode.h"
#include "modax/status.h"
#include "modax/validate.h"

#define RECV_MS 1764230400500LL /* receive time of every test message */
#define POINTS_CAP 1024

static struct mdx_point point_buf[POINTS_CAP];
static struct mdx_points pts = {point_buf, 0, POINTS_CAP};
static int refused_by_decode; /* set by ingest_file_as(): decode, not validate, refused */

/* Reads fixture 'name' into a heap block of its exact size; *len set. Caller frees. */
static uint8_t *load_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("MODAX_TEST_DATA");
    char path[1024];
    uint8_t *buf = NULL;
    FILE *f;
    long size;

    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : "tests/data", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "  cannot open fixture %s\n", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)size;
    }
    fclose(f);
    return buf;
}

static void msg_init(struct mdx_msg *m, const char *device, const char *kind)
{
    char topic[256];
    const char *why = NULL;

    memset(m, 0, sizeof(*m));
    snprintf(topic, sizeof(topic), "modax/acme/%s/%s", device, kind);
    CHECK_EQ_INT(mdx_validate_topic(topic, m, &why), MDX_OK);
    m->recv_ms = RECV_MS;
}

/* Decodes 'len' bytes as telemetry of 'device' into the global 'pts'. */
static int decode_bytes_as(const char *device, const void *p, size_t len, const char **why)
{
    struct mdx_msg m;
    uint8_t *copy = malloc(len > 0 ? len : 1);
    int rc;

    msg_init(&m, device, "sensor_data");
    if (len > 0) {
        memcpy(copy, p, len);
    }
    m.payload = copy;
    m.len = len;
    pts.n = 0;
    *why = NULL;
    rc = mdx_decode(&m, &pts, why);
    free(copy);
    return rc;
}

static int decode_str(const char *s, const char **why)
{
    return decode_bytes_as("press-0042", s, strlen(s), why);
}

/* Decode then validate, as the engine does. */
static int ingest_file_as(const char *device, const char *name, const char **why)
{
    size_t len = 0;
    uint8_t *buf = load_fixture(name, &len);
    int rc;

    CHECK(buf != NULL);
    if (buf == NULL) {
        *why = "no fixture";
        return -100;
    }
    rc = decode_bytes_as(device, buf, len, why);
    free(buf);
    refused_by_decode = rc != MDX_OK;
    if (rc == MDX_OK) {
        rc = mdx_validate_points(&pts, RECV_MS, why);
    }
    return rc;
}

static int ingest_file(const char *name, const char **why)
{
    return ingest_file_as("press-0042", name, why);
}

static const struct mdx_point *find(const char *sensor)
{
    size_t i;

    for (i = 0; i < pts.n; i++) {
        if (strcmp(pts.v[i].sensor, sensor) == 0) {
            return &pts.v[i];
        }
    }
    return NULL;
}

static void check_point(const char *sensor, double value, int64_t ts, unsigned flags)
{
    const struct mdx_point *p = find(sensor);

    CHECK(p != NULL);
    if (p == NULL) {
        fprintf(stderr, "  missing sensor %s\n", sensor);
        return;
    }
    CHECK(p->value == value);
    CHECK_EQ_INT(p->ts_ms, ts);
    CHECK_EQ_INT(p->flags, flags);
    CHECK_EQ_INT(p->sensor_len, strlen(sensor));
}

/*
 * Expects 'name' to be refused with reason 'reason'. A decode refusal
 * leaves no points behind; a validate refusal leaves them as decoded.
 */
static void check_refused(const char *name, const char *reason)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file(name, &why), MDX_EINVAL);
    CHECK_STR(why, reason);
    if (refused_by_decode) {
        CHECK_EQ_INT(pts.n, 0);
    }
}

/* ---- valid forms ---- */

static void cloud_form_gives_one_point_per_sensor(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("cloud-form-valid.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 6);
    check_point("current_mean", 5.1, 1764230400123LL, 0);
    check_point("current_max", 6.2, 1764230400123LL, 0);
    check_point("vibration_rms", 0.8, 1764230400123LL, 0);
    check_point("temperature_mean", 45.3, 1764230400123LL, 0);
    check_point("temperature_max", 47.0, 1764230400123LL, 0);
    check_point("pressure_bar", 6.0, 1764230400123LL, 0);
}

static void field_form_names_sensors_by_group_and_index(void)
{
    const char *why = NULL;

    /* 123456 ms since boot: replaced by receive time and flagged. */
    CHECK_EQ_INT(ingest_file_as("esp32_001", "field-form-valid.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 7);
    check_point("motor_current_0", 5.1, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
    check_point("motor_current_1", 5.0, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
    check_point("vibration_x", 1.0, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
    check_point("vibration_y", 1.1, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
    check_point("vibration_z", 0.9, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
    check_point("vibration_magnitude", 1.8, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
    check_point("temperature_0", 45.0, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
}

static void field_form_with_many_motor_currents_names_each_index(void)
{
    char payload[4096];
    char name[32];
    const char *why = NULL;
    size_t off;
    int i;

    off = (size_t)snprintf(payload, sizeof(payload), "{\"motor_currents\":[");
    for (i = 0; i < 120; i++) {
        off += (size_t)snprintf(payload + off, sizeof(payload) - off, "%s%d", i ? "," : "", i);
    }
    snprintf(payload + off, sizeof(payload) - off, "]}");
    CHECK_EQ_INT(decode_str(payload, &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 120);
    for (i = 0; i < 120; i += 17) {
        snprintf(name, sizeof(name), "motor_current_%d", i);
        CHECK(find(name) != NULL && find(name)->value == (double)i);
    }
}

static void batch_of_cloud_readings_keeps_each_timestamp(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("batch-cloud-valid.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 6);
    CHECK_STR(pts.v[0].sensor, "current_mean");
    CHECK_EQ_INT(pts.v[0].ts_ms, 1764230400000LL);
    CHECK_EQ_INT(pts.v[2].ts_ms, 1764230401000LL);
    CHECK(pts.v[4].value == 5.3);
    CHECK_EQ_INT(pts.v[5].ts_ms, 1764230402000LL);
}

static void batch_of_field_readings_decodes_every_element(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("batch-field-valid.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 7);
    CHECK_STR(pts.v[0].sensor, "motor_current_0");
    CHECK_STR(pts.v[2].sensor, "temperature_0");
    CHECK_STR(pts.v[6].sensor, "vibration_magnitude");
    CHECK_EQ_INT(pts.v[6].ts_ms, 1764230401000LL);
}

static void batch_may_mix_cloud_and_field_readings(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("batch-mixed-valid.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 2);
    check_point("current_mean", 5.1, 1764230400000LL, 0);
    check_point("motor_current_0", 4.9, 1764230401000LL, 0);
}

static void batch_keeps_out_of_order_timestamps(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("batch-out-of-order-timestamps.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 3);
    CHECK_EQ_INT(pts.v[0].ts_ms, 1764230400300LL);
    CHECK_EQ_INT(pts.v[1].ts_ms, 1764230400100LL);
    CHECK_EQ_INT(pts.v[2].ts_ms, 1764230400200LL);
    CHECK_EQ_INT(pts.v[0].flags | pts.v[1].flags | pts.v[2].flags, 0);
}

static void decoding_twice_gives_identical_points(void)
{
    static struct mdx_point first[POINTS_CAP];
    const char *why = NULL;
    size_t n;

    CHECK_EQ_INT(ingest_file("cloud-form-valid.json", &why), MDX_OK);
    n = pts.n;
    memcpy(first, pts.v, n * sizeof(first[0]));
    memset(point_buf, 0xA5, sizeof(point_buf)); /* garbage must not leak into points */
    CHECK_EQ_INT(ingest_file("cloud-form-valid.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, n);
    CHECK(memcmp(first, pts.v, n * sizeof(first[0])) == 0);
}

static void decode_appends_after_existing_points(void)
{
    const char *payload = "{\"sensor_data\":{\"a\":1,\"b\":2}}";
    struct mdx_msg m;
    const char *why = NULL;

    msg_init(&m, "press-0042", "sensor_data");
    m.payload = (const uint8_t *)payload;
    m.len = strlen(payload);
    pts.n = 0;
    CHECK_EQ_INT(mdx_decode(&m, &pts, &why), MDX_OK);
    CHECK_EQ_INT(mdx_decode(&m, &pts, &why), MDX_OK); /* same sensors, separate reading */
    CHECK_EQ_INT(pts.n, 4);
}

static void refused_message_leaves_earlier_points_alone(void)
{
    const char *ok = "{\"sensor_data\":{\"a\":1}}";
    const char *bad = "[{\"sensor_data\":{\"b\":1}},{\"sensor_data\":{\"c\":\"x\"}}]";
    struct mdx_msg m;
    const char *why = NULL;

    msg_init(&m, "press-0042", "sensor_data");
    pts.n = 0;
    m.payload = (const uint8_t *)ok;
    m.len = strlen(ok);
    CHECK_EQ_INT(mdx_decode(&m, &pts, &why), MDX_OK);
    m.payload = (const uint8_t *)bad;
    m.len = strlen(bad);
    CHECK_EQ_INT(mdx_decode(&m, &pts, &why), MDX_EINVAL);
    CHECK_STR(why, "wrong type");
    CHECK_EQ_INT(pts.n, 1);
}

/* ---- syntax ---- */

static void empty_payload_is_refused(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", "", 0, &why), MDX_EINVAL);
    CHECK_STR(why, "empty payload");
}

static void whitespace_only_payload_is_malformed(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_str(" \n", &why), MDX_EINVAL);
    CHECK_STR(why, "malformed json");
}

static void malformed_json_is_refused(void)
{
    check_refused("malformed-json.json", "malformed json");
}

static void truncated_payload_is_malformed_json(void)
{
    check_refused("truncated-payload.json", "malformed json");
}

static void payload_cut_at_every_byte_is_refused(void)
{
    size_t len = 0, cut;
    uint8_t *buf = load_fixture("cloud-form-valid.json", &len);
    const char *why = NULL;

    CHECK(buf != NULL);
    for (cut = 0; buf != NULL && cut < len; cut++) {
        CHECK_EQ_INT(decode_bytes_as("press-0042", buf, cut, &why), MDX_EINVAL);
    }
    free(buf);
}

static void trailing_garbage_is_malformed_json(void)
{
    check_refused("trailing-garbage.json", "malformed json");
}

static void two_json_values_are_malformed_json(void)
{
    check_refused("two-json-values.json", "malformed json");
}

static void trailing_nul_byte_is_malformed_json(void)
{
    const char p[] = "{\"sensor_data\":{\"a\":1}}"; /* sizeof includes the NUL */
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", p, sizeof(p), &why), MDX_EINVAL);
    CHECK_STR(why, "malformed json");
}

static void trailing_whitespace_is_accepted(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_str("{\"sensor_data\":{\"a\":1}} \r\n\t", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 1);
}

static void root_scalar_is_unknown_form(void)
{
    check_refused("root-scalar.json", "unknown form");
}

static void object_of_no_known_form_is_unknown_form(void)
{
    check_refused("unknown-form-object.json", "unknown form");
}

/* ---- types and numbers ---- */

static void string_where_a_number_belongs_is_wrong_type(void)
{
    check_refused("wrong-type-string-value.json", "wrong type");
}

static void nested_object_where_a_number_belongs_is_wrong_type(void)
{
    check_refused("wrong-type-nested-object.json", "wrong type");
}

static void bool_where_a_number_belongs_is_wrong_type(void)
{
    check_refused("wrong-type-bool.json", "wrong type");
}

static void null_where_a_number_belongs_is_wrong_type(void)
{
    check_refused("wrong-type-null.json", "wrong type");
}

static void array_where_a_number_belongs_is_wrong_type(void)
{
    check_refused("wrong-type-array-value.json", "wrong type");
}

static void field_form_string_motor_current_is_wrong_type(void)
{
    check_refused("field-form-motor-current-string.json", "wrong type");
}

static void field_form_vibration_array_is_wrong_type(void)
{
    check_refused("field-form-vibration-not-object.json", "wrong type");
}

static void sensor_data_array_is_wrong_type(void)
{
    check_refused("sensor-data-not-object.json", "wrong type");
}

static void cloud_form_without_sensors_is_refused(void)
{
    check_refused("cloud-form-no-sensors.json", "no sensors");
}

static void field_form_with_empty_groups_is_refused(void)
{
    check_refused("field-form-empty-groups.json", "no sensors");
}

static void nan_literal_is_malformed_json(void)
{
    check_refused("nan-literal.json", "malformed json");
}

static void infinity_literal_is_malformed_json(void)
{
    check_refused("infinity-literal.json", "malformed json");
}

static void number_1e999_is_non_finite(void)
{
    check_refused("number-overflow-1e999.json", "non-finite number");
}

static void negative_1e999_is_non_finite(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_str("{\"sensor_data\":{\"a\":-1e999}}", &why), MDX_EINVAL);
    CHECK_STR(why, "non-finite number");
}

/* ---- timestamps ---- */

static void iso_string_timestamp_is_wrong_type(void)
{
    check_refused("timestamp-iso-string.json", "wrong type");
}

static void fractional_timestamp_is_refused(void)
{
    check_refused("timestamp-fractional.json", "bad timestamp");
}

static void timestamp_beyond_int64_is_refused(void)
{
    check_refused("timestamp-beyond-int64.json", "bad timestamp");
}

static void integral_double_timestamp_is_accepted(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_str("{\"timestamp\":1.7642304001e12,\"sensor_data\":{\"a\":1}}", &why),
                 MDX_OK);
    CHECK_EQ_INT(pts.v[0].ts_ms, 1764230400100LL);
}

static void missing_timestamp_gets_receive_time_flagged(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("timestamp-missing.json", &why), MDX_OK);
    check_point("current_mean", 5.1, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
}

static void negative_timestamp_is_substituted(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_str("{\"timestamp\":-5,\"sensor_data\":{\"a\":1}}", &why), MDX_OK);
    CHECK_EQ_INT(pts.v[0].ts_ms, -5);
    CHECK_EQ_INT(mdx_validate_points(&pts, RECV_MS, &why), MDX_OK);
    check_point("a", 1, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
}

static void clock_30_years_in_the_past_is_substituted_and_flagged(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("clock-30-years-past.json", &why), MDX_OK);
    check_point("current_mean", 5.1, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
}

static void clock_10_minutes_ahead_is_substituted(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("clock-10-min-future.json", &why), MDX_OK);
    check_point("current_mean", 5.1, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
}

static void clock_4_minutes_ahead_is_kept(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("clock-4-min-future.json", &why), MDX_OK);
    check_point("current_mean", 5.1, RECV_MS + 4 * 60000, 0);
}

/* ---- device ---- */

static void cloud_form_device_id_disagreeing_with_topic_is_refused(void)
{
    check_refused("cloud-form-device-mismatch.json", "device mismatch");
}

static void field_form_device_id_disagreeing_with_topic_is_refused(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file_as("esp32_001", "field-form-device-mismatch.json", &why), MDX_EINVAL);
    CHECK_STR(why, "device mismatch");
}

static void batch_element_of_another_device_is_refused(void)
{
    check_refused("batch-element-device-mismatch.json", "device mismatch");
}

static void device_id_not_a_string_is_wrong_type(void)
{
    check_refused("device-id-not-string.json", "wrong type");
}

/* ---- sensors ---- */

static void duplicate_sensor_keeps_the_first_value(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("duplicate-sensor.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 2);
    check_point("current_mean", 5.1, RECV_MS, MDX_POINT_TS_SUBSTITUTED);
}

static void duplicate_sensor_of_wrong_type_is_still_refused(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_str("{\"sensor_data\":{\"a\":1,\"a\":\"x\"}}", &why), MDX_EINVAL);
    CHECK_STR(why, "wrong type");
}

static void uppercase_sensor_name_is_refused(void)
{
    check_refused("sensor-name-uppercase.json", "bad sensor name");
}

static void sensor_name_of_65_bytes_is_refused(void)
{
    check_refused("sensor-name-too-long-65.json", "bad sensor name");
}

static void sensor_name_of_64_bytes_is_accepted(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(ingest_file("sensor-name-64.json", &why), MDX_OK);
    CHECK_EQ_INT(pts.n, 1);
    CHECK_EQ_INT(pts.v[0].sensor_len, 64);
    CHECK_EQ_INT(strlen(pts.v[0].sensor), 64);
}

static void empty_sensor_name_is_refused(void)
{
    check_refused("sensor-name-empty.json", "bad sensor name");
}

/* A cloud reading with 'n' sensors s0, s1...; caller frees. */
static char *many_sensors(size_t n, size_t *len)
{
    size_t cap = 32 + n * 24, off;
    char *p = malloc(cap);

    off = (size_t)snprintf(p, cap, "{\"device_id\":\"press-0042\",\"sensor_data\":{");
    for (size_t i = 0; i < n; i++) {
        off += (size_t)snprintf(p + off, cap - off, "%s\"s%zu\":%zu.5", i ? "," : "", i, i % 97);
    }
    off += (size_t)snprintf(p + off, cap - off, "}}");
    *len = off;
    return p;
}

static void reading_of_256_sensors_is_accepted(void)
{
    size_t len;
    char *p = many_sensors(MDX_SENSORS_PER_READING, &len);
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", p, len, &why), MDX_OK);
    CHECK_EQ_INT(pts.n, MDX_SENSORS_PER_READING);
    free(p);
}

static void reading_of_257_sensors_is_refused(void)
{
    size_t len;
    char *p = many_sensors(MDX_SENSORS_PER_READING + 1, &len);
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", p, len, &why), MDX_EINVAL);
    CHECK_STR(why, "too many sensors");
    CHECK_EQ_INT(pts.n, 0);
    free(p);
}

static void ten_thousand_sensors_in_one_message_are_refused(void)
{
    size_t len;
    char *p = many_sensors(10000, &len);
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", p, len, &why), MDX_EINVAL);
    CHECK_STR(why, "too many sensors");
    CHECK_EQ_INT(pts.n, 0);
    free(p);
}

static void ten_thousand_field_motor_currents_are_refused(void)
{
    size_t cap = 64 + 10000 * 4, off, i;
    char *p = malloc(cap);
    const char *why = NULL;

    off = (size_t)snprintf(p, cap, "{\"motor_currents\":[");
    for (i = 0; i < 10000; i++) {
        off += (size_t)snprintf(p + off, cap - off, "%s1.5", i ? "," : "");
    }
    off += (size_t)snprintf(p + off, cap - off, "]}");
    CHECK_EQ_INT(decode_bytes_as("press-0042", p, off, &why), MDX_EINVAL);
    CHECK_STR(why, "too many sensors");
    free(p);
}

static void ten_megabyte_payload_of_many_sensors_is_refused(void)
{
    size_t len;
    char *p = many_sensors(700000, &len); /* over 10 MB */
    const char *why = NULL;

    CHECK(len > 10u * 1000 * 1000);
    CHECK_EQ_INT(decode_bytes_as("press-0042", p, len, &why), MDX_EINVAL);
    CHECK_STR(why, "too many sensors");
    CHECK_EQ_INT(pts.n, 0);
    free(p);
}

static void batch_beyond_the_points_capacity_is_refused(void)
{
    size_t cap = 64 + 2000 * 40, off, i;
    char *p = malloc(cap);
    const char *why = NULL;

    off = (size_t)snprintf(p, cap, "[");
    for (i = 0; i < 2000; i++) { /* 2000 readings of one sensor each; capacity is 1024 */
        off += (size_t)snprintf(p + off, cap - off, "%s{\"sensor_data\":{\"a\":%zu}}", i ? "," : "",
                                i);
    }
    off += (size_t)snprintf(p + off, cap - off, "]");
    CHECK_EQ_INT(decode_bytes_as("press-0042", p, off, &why), MDX_EINVAL);
    CHECK_STR(why, "too many points");
    CHECK_EQ_INT(pts.n, 0);
    free(p);
}

static void full_points_list_is_too_many_points(void)
{
    const char *payload = "{\"sensor_data\":{\"a\":1}}";
    struct mdx_point one;
    struct mdx_points small = {&one, 1, 1}; /* already full */
    struct mdx_msg m;
    const char *why = NULL;

    msg_init(&m, "press-0042", "sensor_data");
    m.payload = (const uint8_t *)payload;
    m.len = strlen(payload);
    CHECK_EQ_INT(mdx_decode(&m, &small, &why), MDX_EINVAL);
    CHECK_STR(why, "too many points");
    CHECK_EQ_INT(small.n, 1);
}

/* ---- batches ---- */

static void empty_batch_is_refused(void)
{
    check_refused("batch-empty.json", "empty batch");
}

static void nested_batch_is_refused(void)
{
    check_refused("batch-nested.json", "nested batch");
}

static void batch_element_that_is_not_an_object_is_unknown_form(void)
{
    check_refused("batch-element-not-object.json", "unknown form");
}

/* ---- UTF-8 ---- */

static void expect_invalid_utf8(const char *payload, size_t len)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", payload, len, &why), MDX_EINVAL);
    CHECK_STR(why, "invalid utf-8");
}

static void overlong_utf8_in_a_key_is_refused(void)
{
    static const char p[] = "{\"sensor_data\":{\"a\xC0\xAF\":1}}";

    expect_invalid_utf8(p, sizeof(p) - 1);
}

static void surrogate_utf8_in_a_string_value_is_refused(void)
{
    static const char p[] = "{\"device_id\":\"press\xED\xA0\x80\",\"sensor_data\":{\"a\":1}}";

    expect_invalid_utf8(p, sizeof(p) - 1);
}

static void truncated_utf8_sequence_in_a_key_is_refused(void)
{
    static const char p[] = "{\"sensor_data\":{\"a\xE2\x82\":1}}";

    expect_invalid_utf8(p, sizeof(p) - 1);
}

static void truncated_utf8_sequence_at_the_end_is_refused(void)
{
    static const char p[] = "{\"sensor_data\":{\"a\":1}}\xF0\x9F\x98";

    expect_invalid_utf8(p, sizeof(p) - 1);
}

static void valid_utf8_in_a_key_reaches_sensor_name_check(void)
{
    static const char p[] = "{\"sensor_data\":{\"temp\xC3\xA9rature\":1}}";
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", p, sizeof(p) - 1, &why), MDX_OK);
    CHECK_EQ_INT(mdx_validate_points(&pts, RECV_MS, &why), MDX_EINVAL);
    CHECK_STR(why, "bad sensor name");
}

/* ---- events ---- */

static int decode_event_file(enum mdx_msg_kind kind, const char *name, struct mdx_event *ev,
                             const char **why)
{
    struct mdx_msg m;
    size_t len = 0;
    uint8_t *buf = load_fixture(name, &len);
    int rc;

    CHECK(buf != NULL);
    msg_init(&m, "press-0042", mdx_msg_kind_name(kind));
    CHECK_EQ_INT(m.kind, kind);
    m.payload = buf;
    m.len = buf != NULL ? len : 0;
    rc = mdx_decode_event(&m, ev, why);
    free(buf);
    return rc;
}

static int decode_event_str(enum mdx_msg_kind kind, const char *s, struct mdx_event *ev,
                            const char **why)
{
    struct mdx_msg m;
    size_t len = strlen(s);
    uint8_t *copy = malloc(len > 0 ? len : 1);
    int rc;

    memcpy(copy, s, len);
    msg_init(&m, "press-0042", mdx_msg_kind_name(kind));
    m.payload = copy;
    m.len = len;
    rc = mdx_decode_event(&m, ev, why);
    free(copy);
    return rc;
}

static void safety_event_is_decoded_with_its_timestamp(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_SAFETY, "safety-valid.json", &ev, &why), MDX_OK);
    CHECK_EQ_INT(ev.kind, MDX_MSG_SAFETY);
    CHECK_EQ_INT(ev.ts_ms, 1764230400123LL);
    CHECK_EQ_INT(ev.flags, 0);
    CHECK_STR(ev.body, "{\"emergency_stop\":false,\"door_closed\":true,\"overload_detected\":false,"
                       "\"temperature_ok\":true,\"timestamp\":1764230400123}");
}

static void safety_event_without_timestamp_gets_receive_time(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_SAFETY, "safety-no-timestamp.json", &ev, &why), MDX_OK);
    CHECK_EQ_INT(ev.ts_ms, RECV_MS);
    CHECK_EQ_INT(ev.flags, MDX_POINT_TS_SUBSTITUTED);
    CHECK_STR(ev.body, "{\"emergency_stop\":true}");
}

static void safety_event_with_uptime_timestamp_is_substituted(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(
        decode_event_str(MDX_MSG_SAFETY, "{\"door_closed\":false,\"timestamp\":9000}", &ev, &why),
        MDX_OK);
    CHECK_EQ_INT(ev.ts_ms, RECV_MS);
    CHECK_EQ_INT(ev.flags, MDX_POINT_TS_SUBSTITUTED);
}

static void safety_flag_that_is_not_boolean_is_wrong_type(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_SAFETY, "safety-not-boolean.json", &ev, &why),
                 MDX_EINVAL);
    CHECK_STR(why, "wrong type");
}

static void safety_without_known_flag_is_unknown_form(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_SAFETY, "safety-no-known-key.json", &ev, &why),
                 MDX_EINVAL);
    CHECK_STR(why, "unknown form");
}

static void safety_array_is_unknown_form(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_SAFETY, "safety-not-object.json", &ev, &why),
                 MDX_EINVAL);
    CHECK_STR(why, "unknown form");
}

static void safety_of_another_device_is_refused(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_SAFETY, "safety-device-mismatch.json", &ev, &why),
                 MDX_EINVAL);
    CHECK_STR(why, "device mismatch");
}

static void safety_bare_word_is_malformed_json(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_str(MDX_MSG_SAFETY, "online", &ev, &why), MDX_EINVAL);
    CHECK_STR(why, "malformed json");
}

static void empty_safety_payload_is_refused(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_str(MDX_MSG_SAFETY, "", &ev, &why), MDX_EINVAL);
    CHECK_STR(why, "empty payload");
}

static void status_bare_words_become_json(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_str(MDX_MSG_STATUS, "online", &ev, &why), MDX_OK);
    CHECK_EQ_INT(ev.kind, MDX_MSG_STATUS);
    CHECK_STR(ev.body, "{\"state\":\"online\"}");
    CHECK_EQ_INT(ev.ts_ms, RECV_MS);
    CHECK_EQ_INT(ev.flags, MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(decode_event_str(MDX_MSG_STATUS, "offline", &ev, &why), MDX_OK);
    CHECK_STR(ev.body, "{\"state\":\"offline\"}");
}

static void status_other_bare_word_is_malformed_json(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_str(MDX_MSG_STATUS, "onlinex", &ev, &why), MDX_EINVAL);
    CHECK_STR(why, "malformed json");
}

static void status_json_object_is_kept_compact(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_STATUS, "status-json.json", &ev, &why), MDX_OK);
    CHECK_EQ_INT(ev.ts_ms, 1764230400123LL);
    CHECK_EQ_INT(ev.flags, 0);
    CHECK_STR(ev.body, "{\"state\":\"online\",\"firmware\":\"1.4.2\",\"timestamp\":1764230400123}");
}

static void status_json_string_is_unknown_form(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_file(MDX_MSG_STATUS, "status-json-string.json", &ev, &why),
                 MDX_EINVAL);
    CHECK_STR(why, "unknown form");
}

static void status_too_large_for_the_body_is_refused(void)
{
    char payload[2048];
    struct mdx_event ev;
    const char *why = NULL;
    size_t off;

    off = (size_t)snprintf(payload, sizeof(payload), "{\"state\":\"online\",\"note\":\"");
    memset(payload + off, 'x', 1200);
    snprintf(payload + off + 1200, sizeof(payload) - off - 1200, "\"}");
    CHECK_EQ_INT(decode_event_str(MDX_MSG_STATUS, payload, &ev, &why), MDX_EINVAL);
    CHECK_STR(why, "payload too large");
    CHECK_STR(ev.body, "");
}

static void status_with_invalid_utf8_is_refused(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_str(MDX_MSG_STATUS, "{\"state\":\"on\xC1\x81\"}", &ev, &why),
                 MDX_EINVAL);
    CHECK_STR(why, "invalid utf-8");
}

static void event_of_telemetry_kind_is_refused(void)
{
    struct mdx_event ev;
    const char *why = NULL;

    CHECK_EQ_INT(decode_event_str(MDX_MSG_SENSOR_DATA, "{\"emergency_stop\":true}", &ev, &why),
                 MDX_EINVAL);
    CHECK_STR(why, "unknown form");
}

/* ---- issue 16: NUL bytes ---- */

static void nul_escape_in_sensor_name_is_refused(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_str("{\"sensor_data\":{\"nul\\u0000name\":1}}", &why), MDX_EINVAL);
    CHECK_STR(why, "nul character");
    CHECK_EQ_INT(pts.n, 0);
}

static void nul_escape_in_device_id_is_refused(void)
{
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("att-1", "{\"device_id\":\"att-1\\u0000x\","
                                          "\"sensor_data\":{\"a\":1}}",
                                 strlen("{\"device_id\":\"att-1\\u0000x\","
                                        "\"sensor_data\":{\"a\":1}}"),
                                 &why),
                 MDX_EINVAL);
    CHECK_STR(why, "nul character");
}

static void raw_nul_byte_inside_a_string_is_refused(void)
{
    const char p[] = "{\"sensor_data\":{\"nul\0name\":1}}";
    const char *why = NULL;

    CHECK_EQ_INT(decode_bytes_as("press-0042", p, sizeof(p) - 1, &why), MDX_EINVAL);
    CHECK_STR(why, "nul character");
}

static void escaped_backslash_before_u0000_text_is_no_nul(void)
{
    const char *why = NULL;

    /* "a\\u0000" is the five characters \u0000 after 'a': no NUL, but not a sensor name. */
    CHECK_EQ_INT(decode_str("{\"sensor_data\":{\"ok\":1},\"note\":\"a\\\\u0000\"}", &why),
                 MDX_OK);
}

static const struct mdx_test tests[] = {
    {"cloud form gives one point per sensor", cloud_form_gives_one_point_per_sensor},
    {"field form names sensors by group and index", field_form_names_sensors_by_group_and_index},
    {"field form with 120 motor currents names each index",
     field_form_with_many_motor_currents_names_each_index},
    {"batch of cloud readings keeps each timestamp", batch_of_cloud_readings_keeps_each_timestamp},
    {"batch of field readings decodes every element",
     batch_of_field_readings_decodes_every_element},
    {"batch may mix cloud and field readings", batch_may_mix_cloud_and_field_readings},
    {"batch keeps out-of-order timestamps", batch_keeps_out_of_order_timestamps},
    {"decoding twice gives identical points", decoding_twice_gives_identical_points},
    {"decode appends after existing points", decode_appends_after_existing_points},
    {"refused message leaves earlier points alone", refused_message_leaves_earlier_points_alone},
    {"empty payload is refused", empty_payload_is_refused},
    {"whitespace-only payload is malformed json", whitespace_only_payload_is_malformed},
    {"malformed json is refused", malformed_json_is_refused},
    {"truncated payload is malformed json", truncated_payload_is_malformed_json},
    {"payload cut at every byte is refused", payload_cut_at_every_byte_is_refused},
    {"trailing garbage is malformed json", trailing_garbage_is_malformed_json},
    {"two json values are malformed json", two_json_values_are_malformed_json},
    {"trailing NUL byte is malformed json", trailing_nul_byte_is_malformed_json},
    {"trailing whitespace is accepted", trailing_whitespace_is_accepted},
    {"root scalar is unknown form", root_scalar_is_unknown_form},
    {"object of no known form is unknown form", object_of_no_known_form_is_unknown_form},
    {"string where a number belongs is wrong type", string_where_a_number_belongs_is_wrong_type},
    {"nested object where a number belongs is wrong type",
     nested_object_where_a_number_belongs_is_wrong_type},
    {"bool where a number belongs is wrong type", bool_where_a_number_belongs_is_wrong_type},
    {"null where a number belongs is wrong type", null_where_a_number_belongs_is_wrong_type},
    {"array where a number belongs is wrong type", array_where_a_number_belongs_is_wrong_type},
    {"field form string motor current is wrong type",
     field_form_string_motor_current_is_wrong_type},
    {"field form vibration array is wrong type", field_form_vibration_array_is_wrong_type},
    {"sensor_data array is wrong type", sensor_data_array_is_wrong_type},
    {"cloud form without sensors is refused", cloud_form_without_sensors_is_refused},
    {"field form with empty groups is refused", field_form_with_empty_groups_is_refused},
    {"NaN literal is malformed json", nan_literal_is_malformed_json},
    {"Infinity literal is malformed json", infinity_literal_is_malformed_json},
    {"1e999 is a non-finite number", number_1e999_is_non_finite},
    {"-1e999 is a non-finite number", negative_1e999_is_non_finite},
    {"ISO string timestamp is wrong type", iso_string_timestamp_is_wrong_type},
    {"fractional timestamp is refused", fractional_timestamp_is_refused},
    {"timestamp beyond int64 is refused", timestamp_beyond_int64_is_refused},
    {"integral double timestamp is accepted", integral_double_timestamp_is_accepted},
    {"missing timestamp gets receive time, flagged", missing_timestamp_gets_receive_time_flagged},
    {"negative timestamp is kept raw, then substituted", negative_timestamp_is_substituted},
    {"clock 30 years in the past is substituted and flagged",
     clock_30_years_in_the_past_is_substituted_and_flagged},
    {"clock 10 minutes ahead is substituted", clock_10_minutes_ahead_is_substituted},
    {"clock 4 minutes ahead is kept", clock_4_minutes_ahead_is_kept},
    {"cloud form device_id disagreeing with topic is refused",
     cloud_form_device_id_disagreeing_with_topic_is_refused},
    {"field form device_id disagreeing with topic is refused",
     field_form_device_id_disagreeing_with_topic_is_refused},
    {"batch element of another device is refused", batch_element_of_another_device_is_refused},
    {"device_id not a string is wrong type", device_id_not_a_string_is_wrong_type},
    {"duplicate sensor keeps the first value", duplicate_sensor_keeps_the_first_value},
    {"duplicate sensor of wrong type is still refused",
     duplicate_sensor_of_wrong_type_is_still_refused},
    {"uppercase sensor name is refused", uppercase_sensor_name_is_refused},
    {"sensor name of 65 bytes is refused", sensor_name_of_65_bytes_is_refused},
    {"sensor name of 64 bytes is accepted", sensor_name_of_64_bytes_is_accepted},
    {"empty sensor name is refused", empty_sensor_name_is_refused},
    {"reading of 256 sensors is accepted", reading_of_256_sensors_is_accepted},
    {"reading of 257 sensors is refused", reading_of_257_sensors_is_refused},
    {"10,000 sensors in one message are refused", ten_thousand_sensors_in_one_message_are_refused},
    {"10,000 field motor currents are refused", ten_thousand_field_motor_currents_are_refused},
    {"10 MB payload of many sensors is refused", ten_megabyte_payload_of_many_sensors_is_refused},
    {"batch beyond the points capacity is refused", batch_beyond_the_points_capacity_is_refused},
    {"full points list is too many points", full_points_list_is_too_many_points},
    {"empty batch is refused", empty_batch_is_refused},
    {"nested batch is refused", nested_batch_is_refused},
    {"batch element that is not an object is unknown form",
     batch_element_that_is_not_an_object_is_unknown_form},
    {"overlong UTF-8 in a key is refused", overlong_utf8_in_a_key_is_refused},
    {"surrogate UTF-8 in a string value is refused", surrogate_utf8_in_a_string_value_is_refused},
    {"truncated UTF-8 sequence in a key is refused", truncated_utf8_sequence_in_a_key_is_refused},
    {"truncated UTF-8 sequence at the end is refused",
     truncated_utf8_sequence_at_the_end_is_refused},
    {"valid UTF-8 in a key reaches the sensor name check",
     valid_utf8_in_a_key_reaches_sensor_name_check},
    {"safety event is decoded with its timestamp", safety_event_is_decoded_with_its_timestamp},
    {"safety event without timestamp gets receive time",
     safety_event_without_timestamp_gets_receive_time},
    {"safety event with uptime timestamp is substituted",
     safety_event_with_uptime_timestamp_is_substituted},
    {"safety flag that is not boolean is wrong type",
     safety_flag_that_is_not_boolean_is_wrong_type},
    {"safety without known flag is unknown form", safety_without_known_flag_is_unknown_form},
    {"safety array is unknown form", safety_array_is_unknown_form},
    {"safety of another device is refused", safety_of_another_device_is_refused},
    {"safety bare word is malformed json", safety_bare_word_is_malformed_json},
    {"empty safety payload is refused", empty_safety_payload_is_refused},
    {"status bare words become json", status_bare_words_become_json},
    {"status other bare word is malformed json", status_other_bare_word_is_malformed_json},
    {"status json object is kept compact", status_json_object_is_kept_compact},
    {"status json string is unknown form", status_json_string_is_unknown_form},
    {"status too large for the body is refused", status_too_large_for_the_body_is_refused},
    {"status with invalid UTF-8 is refused", status_with_invalid_utf8_is_refused},
    {"event of telemetry kind is refused", event_of_telemetry_kind_is_refused},
    {"issue 16: nul escape in a sensor name is refused", nul_escape_in_sensor_name_is_refused},
    {"issue 16: nul escape in device_id is refused", nul_escape_in_device_id_is_refused},
    {"issue 16: raw nul byte inside a string is refused", raw_nul_byte_inside_a_string_is_refused},
    {"issue 16: escaped backslash before u0000 text is no nul",
     escaped_backslash_before_u0000_text_is_no_nul},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
