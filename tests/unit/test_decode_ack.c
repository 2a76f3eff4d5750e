/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_decode_ack.c - command_ack payloads (issue 5) through
 * mdx_decode_event(): the forms a device answers with are accepted with
 * their command id and outcome; everything else is refused with a reason
 * for the dead letter.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "modax/decode.h"
#include "modax/msg.h"
#include "modax/status.h"
#include "modax/validate.h"

#define RECV 1760000000000LL

/* Decodes 's' as a command_ack of acme/m-0001 received at RECV. */
static int decode_ack(const char *s, struct mdx_event *ev, const char **why)
{
    struct mdx_msg m;
    const char *twhy = NULL;

    memset(&m, 0, sizeof(m));
    m.topic = "modax/acme/m-0001/command_ack";
    CHECK_EQ_INT(mdx_validate_topic(m.topic, &m, &twhy), MDX_OK);
    CHECK_EQ_INT(m.kind, MDX_MSG_COMMAND_ACK);
    m.payload = (const uint8_t *)s;
    m.len = strlen(s);
    m.recv_ms = RECV;
    *why = NULL;
    return mdx_decode_event(&m, ev, why);
}

static void accepts_ok_and_rejected(void)
{
    struct mdx_event ev;
    const char *why;

    CHECK_EQ_INT(decode_ack("{\"device_id\":\"m-0001\",\"command_id\":42,\"status\":\"ok\"}", &ev,
                            &why),
                 MDX_OK);
    CHECK_EQ_INT(ev.kind, MDX_MSG_COMMAND_ACK);
    CHECK_EQ_INT(ev.command_id, 42);
    CHECK_EQ_INT(ev.command_ok, 1);
    CHECK_EQ_INT(ev.ts_ms, RECV);
    CHECK_EQ_INT(ev.flags, MDX_POINT_TS_SUBSTITUTED);
    CHECK_STR(ev.body, "{\"device_id\":\"m-0001\",\"command_id\":42,\"status\":\"ok\"}");

    CHECK_EQ_INT(decode_ack("{\"device_id\":\"m-0001\",\"command_id\":7,\"status\":\"rejected\","
                            "\"detail\":\"interlock open\",\"timestamp\":1759999999000}",
                            &ev, &why),
                 MDX_OK);
    CHECK_EQ_INT(ev.command_id, 7);
    CHECK_EQ_INT(ev.command_ok, 0);
    CHECK_EQ_INT(ev.ts_ms, 1759999999000LL);
    CHECK_EQ_INT(ev.flags, 0);
    CHECK(strstr(ev.body, "\"detail\":\"interlock open\"") != NULL);

    /* device_id is optional, as on the other events; large ids are kept exactly. */
    CHECK_EQ_INT(decode_ack("{\"command_id\":9007199254740992,\"status\":\"ok\"}", &ev, &why),
                 MDX_OK);
    CHECK_EQ_INT(ev.command_id, 9007199254740992LL);
}

static void refuses_bad_acks(void)
{
    static const struct {
        const char *payload;
        const char *why;
    } bad[] = {
        {"{\"device_id\":\"m-0002\",\"command_id\":42,\"status\":\"ok\"}", "device mismatch"},
        {"{\"status\":\"ok\"}", "bad command_id"},
        {"{\"command_id\":\"42\",\"status\":\"ok\"}", "bad command_id"},
        {"{\"command_id\":0,\"status\":\"ok\"}", "bad command_id"},
        {"{\"command_id\":-3,\"status\":\"ok\"}", "bad command_id"},
        {"{\"command_id\":4.5,\"status\":\"ok\"}", "bad command_id"},
        {"{\"command_id\":1e300,\"status\":\"ok\"}", "bad command_id"},
        {"{\"command_id\":42}", "bad ack status"},
        {"{\"command_id\":42,\"status\":\"OK\"}", "bad ack status"},
        {"{\"command_id\":42,\"status\":true}", "bad ack status"},
        {"{\"command_id\":42,\"status\":\"done\"}", "bad ack status"},
        {"{\"command_id\":42,\"status\":\"rejected\",\"detail\":17}", "wrong type"},
        {"{\"command_id\":42,\"status\":\"ok\",\"timestamp\":\"now\"}", "wrong type"},
        {"{\"command_id\":42,\"status\":\"ok\",\"timestamp\":1.5}", "bad timestamp"},
        {"[42,\"ok\"]", "unknown form"},
        {"ok", "malformed json"},
        {"{\"command_id\":42,\"status\":\"ok\"", "malformed json"},
    };
    struct mdx_event ev;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        int rc = decode_ack(bad[i].payload, &ev, &why);

        CHECK_EQ_INT(rc, MDX_EINVAL);
        CHECK(why != NULL);
        if (why == NULL || strcmp(why, bad[i].why) != 0) {
            fprintf(stderr, "  payload %s: reason %s, expected %s\n", bad[i].payload,
                    why != NULL ? why : "(none)", bad[i].why);
            CHECK(0);
        }
    }
}

static void other_events_have_no_command(void)
{
    struct mdx_msg m;
    struct mdx_event ev;
    const char *why = NULL;
    const char *s = "{\"emergency_stop\":true}";

    memset(&m, 0, sizeof(m));
    memset(&ev, 0x5a, sizeof(ev));
    m.topic = "modax/acme/m-0001/safety";
    CHECK_EQ_INT(mdx_validate_topic(m.topic, &m, &why), MDX_OK);
    m.payload = (const uint8_t *)s;
    m.len = strlen(s);
    m.recv_ms = RECV;
    CHECK_EQ_INT(mdx_decode_event(&m, &ev, &why), MDX_OK);
    CHECK_EQ_INT(ev.command_id, 0);
    CHECK_EQ_INT(ev.command_ok, 0);
}

static const struct mdx_test tests[] = {
    {"decode command_ack accepts ok and rejected", accepts_ok_and_rejected},
    {"decode command_ack refuses bad acks with a reason", refuses_bad_acks},
    {"decode other events carry no command", other_events_have_no_command},
    {NULL, NULL}};

int main(int argc, char **argv)
{
    return mdx_test_run(tests, argc, argv);
}
