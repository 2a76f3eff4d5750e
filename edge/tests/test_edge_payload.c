/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_payload.c - the payload encoder writes valid JSON of the
 * shapes the ingest decodes (parsed back with cJSON here), batches of N,
 * and refuses what it cannot write.
 */
#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "modax/status.h"
#include "payload.h"
#include "sim_machine.h"

static struct mdx_edge_reading sample(void)
{
    struct mdx_edge_reading r = {
        .ts_ms = 1764230400123,
        .present = MDX_EDGE_HAS_ALL,
        .current_mean = 5.1f,
        .current_max = 5.75f,
        .current_b_mean = 5.0f,
        .vibration = {1.0f, 1.1f, 0.9f, 1.8f},
        .temperature = 45.3f,
    };
    return r;
}

static int is_num(const cJSON *o, const char *key, double want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) && fabs(v->valuedouble - want) < 0.0015;
}

static int names_ok(const cJSON *sd)
{
    const cJSON *v;

    cJSON_ArrayForEach(v, sd)
    {
        for (const char *p = v->string; *p; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
                return 0;
            }
        }
    }
    return 1;
}

static void cloud_form_has_its_shape(void)
{
    struct mdx_edge_reading r = sample();
    char buf[MDX_PAYLOAD_READING_MAX];
    cJSON *root, *sd;
    int len = mdx_payload_encode(MDX_EDGE_FORM_CLOUD, "m-0001", &r, buf, sizeof(buf));

    CHECK(len > 0 && (size_t)len == strlen(buf));
    root = cJSON_Parse(buf);
    CHECK(cJSON_IsObject(root));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "device_id")), "m-0001");
    CHECK(is_num(root, "timestamp", 1764230400123.0));
    sd = cJSON_GetObjectItemCaseSensitive(root, "sensor_data");
    CHECK(cJSON_IsObject(sd));
    CHECK_EQ_INT(cJSON_GetArraySize(sd), 7);
    CHECK(names_ok(sd));
    CHECK(is_num(sd, "current_mean", 5.1));
    CHECK(is_num(sd, "current_max", 5.75));
    CHECK(is_num(sd, "vibration_x", 1.0));
    CHECK(is_num(sd, "vibration_y", 1.1));
    CHECK(is_num(sd, "vibration_z", 0.9));
    CHECK(is_num(sd, "vibration_magnitude", 1.8));
    CHECK(is_num(sd, "temperature_mean", 45.3));
    CHECK(strstr(buf, "\"timestamp\":1764230400123,") != NULL); /* an integer, not 1.76e12 */
    cJSON_Delete(root);
}

static void field_form_has_its_shape(void)
{
    struct mdx_edge_reading r = sample();
    char buf[MDX_PAYLOAD_READING_MAX];
    cJSON *root, *mc, *vib, *temps;
    int len = mdx_payload_encode(MDX_EDGE_FORM_FIELD, "esp32_001", &r, buf, sizeof(buf));

    CHECK(len > 0);
    root = cJSON_Parse(buf);
    CHECK(cJSON_IsObject(root));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "device_id")),
              "esp32_001");
    CHECK(is_num(root, "timestamp", 1764230400123.0));
    mc = cJSON_GetObjectItemCaseSensitive(root, "motor_currents");
    CHECK(cJSON_IsArray(mc) && cJSON_GetArraySize(mc) == 2);
    CHECK(fabs(cJSON_GetArrayItem(mc, 0)->valuedouble - 5.1) < 0.0015);
    CHECK(fabs(cJSON_GetArrayItem(mc, 1)->valuedouble - 5.0) < 0.0015);
    vib = cJSON_GetObjectItemCaseSensitive(root, "vibration");
    CHECK(cJSON_IsObject(vib) && cJSON_GetArraySize(vib) == 4);
    CHECK(is_num(vib, "x", 1.0) && is_num(vib, "y", 1.1) && is_num(vib, "z", 0.9));
    CHECK(is_num(vib, "magnitude", 1.8));
    temps = cJSON_GetObjectItemCaseSensitive(root, "temperatures");
    CHECK(cJSON_IsArray(temps) && cJSON_GetArraySize(temps) == 1);
    cJSON_Delete(root);
}

static void dropout_leaves_the_sensor_out(void)
{
    struct mdx_edge_reading r = sample();
    char buf[MDX_PAYLOAD_READING_MAX];
    cJSON *root;

    r.present = MDX_EDGE_HAS_CURRENT | MDX_EDGE_HAS_VIBRATION;
    CHECK(mdx_payload_encode(MDX_EDGE_FORM_CLOUD, "m-0001", &r, buf, sizeof(buf)) > 0);
    root = cJSON_Parse(buf);
    CHECK(root != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "sensor_data"),
                                           "temperature_mean") == NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "sensor_data")), 6);
    cJSON_Delete(root);

    r.present = MDX_EDGE_HAS_TEMPERATURE;
    CHECK(mdx_payload_encode(MDX_EDGE_FORM_FIELD, "m-0001", &r, buf, sizeof(buf)) > 0);
    root = cJSON_Parse(buf);
    CHECK(root != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(root, "motor_currents") == NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(root, "vibration") == NULL);
    CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "temperatures")));
    cJSON_Delete(root);
}

static void batch_is_an_array_of_n(void)
{
    static struct mdx_edge_reading rs[50];
    static char buf[50 * MDX_PAYLOAD_READING_MAX + 16];
    struct mdx_sim_machine m;
    int form, i, n;

    mdx_sim_init(&m, 3, 1, 1e9);
    for (i = 0; i < 50; i++) {
        mdx_sim_step(&m, 1.0, &rs[i]);
        rs[i].ts_ms = 1764230400000 + i * 1000;
    }
    for (form = MDX_EDGE_FORM_CLOUD; form <= MDX_EDGE_FORM_FIELD; form++) {
        const int sizes[] = {1, 2, 10, 50};

        for (n = 0; n < 4; n++) {
            cJSON *root, *item;
            int len = mdx_payload_encode_batch((enum mdx_edge_form)form, "m-0001", rs,
                                               (size_t)sizes[n], buf, sizeof(buf));
            CHECK(len > 0);
            root = cJSON_Parse(buf);
            CHECK(cJSON_IsArray(root));
            CHECK_EQ_INT(cJSON_GetArraySize(root), sizes[n]);
            i = 0;
            cJSON_ArrayForEach(item, root)
            {
                CHECK(is_num(item, "timestamp", 1764230400000.0 + i * 1000));
                i++;
            }
            cJSON_Delete(root);
        }
    }
    CHECK(mdx_payload_encode_batch(MDX_EDGE_FORM_CLOUD, "m-0001", rs, 0, buf, sizeof(buf)) == 2);
    CHECK_STR(buf, "[]");
}

static void worst_case_reading_fits_the_reserved_room(void)
{
    struct mdx_edge_reading r = sample();
    char buf[MDX_PAYLOAD_READING_MAX];
    char id[MDX_EDGE_DEVICE_ID_MAX];
    int form;

    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    r.ts_ms = INT64_MIN;
    r.current_mean = r.current_max = r.current_b_mean = r.temperature = -1e9f;
    r.vibration[0] = r.vibration[1] = r.vibration[2] = r.vibration[3] = -1e9f;
    for (form = MDX_EDGE_FORM_CLOUD; form <= MDX_EDGE_FORM_FIELD; form++) {
        CHECK(mdx_payload_encode((enum mdx_edge_form)form, id, &r, buf, sizeof(buf) - 1) > 0);
    }
}

static void non_finite_values_are_refused(void)
{
    struct mdx_edge_reading r = sample();
    char buf[MDX_PAYLOAD_READING_MAX];

    r.temperature = NAN;
    CHECK_EQ_INT(mdx_payload_encode(MDX_EDGE_FORM_CLOUD, "m-0001", &r, buf, sizeof(buf)),
                 MDX_EINVAL);
    CHECK_STR(buf, "");
    r.temperature = 45.0f;
    r.vibration[3] = INFINITY;
    CHECK_EQ_INT(mdx_payload_encode(MDX_EDGE_FORM_FIELD, "m-0001", &r, buf, sizeof(buf)),
                 MDX_EINVAL);
    /* A missing sensor's garbage value is never looked at. */
    r.present = MDX_EDGE_HAS_CURRENT | MDX_EDGE_HAS_TEMPERATURE;
    CHECK(mdx_payload_encode(MDX_EDGE_FORM_FIELD, "m-0001", &r, buf, sizeof(buf)) > 0);
}

static void short_buffer_is_full_not_overrun(void)
{
    struct mdx_edge_reading r = sample();
    char buf[64];

    memset(buf, '#', sizeof(buf));
    CHECK_EQ_INT(mdx_payload_encode(MDX_EDGE_FORM_CLOUD, "m-0001", &r, buf, 40), MDX_EFULL);
    CHECK_STR(buf, "");
    CHECK(buf[40] == '#');
    CHECK_EQ_INT(mdx_payload_encode_batch(MDX_EDGE_FORM_CLOUD, "m-0001", &r, 1, buf, 1), MDX_EFULL);
}

static void safety_message_has_its_shape(void)
{
    struct mdx_safety_state s = {.door_closed = 1, .temperature_ok = 0};
    char buf[256];
    cJSON *root;

    CHECK(mdx_payload_encode_safety(&s, 1764230400123, buf, sizeof(buf)) > 0);
    root = cJSON_Parse(buf);
    CHECK(cJSON_IsObject(root));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "emergency_stop")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "door_closed")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "overload_detected")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "temperature_ok")));
    CHECK(is_num(root, "timestamp", 1764230400123.0));
    cJSON_Delete(root);
}

static const struct mdx_test tests[] = {
    {"cloud form has its shape", cloud_form_has_its_shape},
    {"field form has its shape", field_form_has_its_shape},
    {"dropout leaves the sensor out", dropout_leaves_the_sensor_out},
    {"batch is an array of N readings", batch_is_an_array_of_n},
    {"worst-case reading fits MDX_PAYLOAD_READING_MAX", worst_case_reading_fits_the_reserved_room},
    {"non-finite values are refused", non_finite_values_are_refused},
    {"short buffer is full, not overrun", short_buffer_is_full_not_overrun},
    {"safety message has its shape", safety_message_has_its_shape},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
