/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.h - the edge agent loop: sample machines, buffer, publish.
 *
 * One agent runs N machines (one on a real gateway; many in the fleet
 * simulator). Each step it produces the readings that are due on the
 * simulated clock, keeps them in a per-machine store-and-forward ring and,
 * while the broker is reachable, publishes them:
 *   modax/{tenant}/{device}/sensor_data  QoS 1, one reading, or a JSON
 *                                        array (--batch, or a backlog)
 *   modax/{tenant}/{device}/status       QoS 1 retained "online" after
 *                                        each connect, "offline" at the end;
 *                                        when the machine runs to failure
 *                                        {"state":"failed","timestamp":T,
 *                                        "failures":N} (not retained), then
 *                                        "online" again: it was replaced, a
 *                                        new life starts after T
 *   modax/{tenant}/{device}/safety       QoS 1 on a change of safety state
 *   modax/{tenant}/{device}/command_ack  QoS 1, the answer to each command
 * Commands arrive from the port (mdx_edge_agent_command()) on
 * modax/{tenant}/{device}/commands; the device's local interlock refuses
 * any while its emergency stop is active, its door is open, its motor is
 * overloaded or its temperature is not OK, the machine refuses unknown
 * names and values out of range, and every command with a readable id is
 * answered "ok" or "rejected" with a detail. One answer per machine waits
 * while the broker is unreachable; a newer one replaces it (counted).
 * Readings are removed from the ring only once the port took them, so an
 * outage costs nothing until the ring is full; then the oldest go, counted.
 * With a port that gives each machine its own connection (port.h
 * unit_session/unit_publish), each machine is announced, flushed and
 * blocked on its own; otherwise one refusal pauses the whole pass.
 *
 * No heap: the caller hands over all memory at init, sized from the conf
 * (mdx_edge_agent_buf_size()). Everything outside goes through the port.
 */
#ifndef MODAX_EDGE_AGENT_H
#define MODAX_EDGE_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "outbox.h"
#include "payload.h"
#include "port.h"
#include "profile.h"
#include "reading.h"
#include "ring.h"
#include "sim_machine.h"

#ifndef MDX_EDGE_MAX_FAULTS
#define MDX_EDGE_MAX_FAULTS 64 /* --fault options per process; a device build sets it lower */
#endif
#define MDX_EDGE_MAX_MACHINES 10000
#define MDX_EDGE_MAX_BATCH 1000
#define MDX_EDGE_TOPIC_MAX 160     /* modax/{tenant}/{device}/sensor_data + NUL */
#define MDX_EDGE_TENANT_MAX 64     /* longest tenant id, without NUL */
#define MDX_EDGE_PREFIX_MAX 24     /* longest device id prefix, without NUL */
#define MDX_EDGE_FLUSH_CHUNK 50    /* readings per array when a backlog is flushed, batch 1 */
#define MDX_EDGE_STEP_MAX 500      /* readings made per machine per step, to keep flushing */
#define MDX_EDGE_DRAIN_MS 10000    /* after the last reading, wait this long to deliver */
#define MDX_EDGE_OVERLOAD_A 10.0   /* safety: overload above this motor current */
#define MDX_EDGE_TEMP_TRIP_C 85.0  /* safety: temperature_ok goes false above */
#define MDX_EDGE_TEMP_CLEAR_C 80.0 /* ... and true again below */
#define MDX_EDGE_INFLIGHT 16       /* outbox messages per machine awaiting PUBACK */
#define MDX_EDGE_CHECKPOINT_MS 1000 /* outbox: release point persisted this often */
#define MDX_EDGE_REPLAY_S 10        /* outbox: acknowledged this recently: sent again on reconnect */

struct mdx_edge_fault_spec {
    char device[MDX_EDGE_DEVICE_ID_MAX]; /* e.g. "m-0002" */
    int kind;                            /* enum mdx_sim_fault */
    double at_s;                         /* simulated seconds after start */
    double until_s;                      /* ... until this one (repaired); <= at_s: never */
    double pace;                         /* develops this many times faster; <= 0: 1 */
};

struct mdx_edge_conf {
    const char *tenant; /* borrowed; [A-Za-z0-9_.-]+ */
    const char *prefix; /* borrowed; device id = prefix + 4-digit number */
    uint32_t first;     /* number of the first machine (1: m-0001) */
    uint32_t machines;  /* machines in this agent */
    double rate_hz;     /* readings per machine per simulated second */
    double time_scale;  /* simulated seconds per real second */
    uint32_t batch;     /* readings per message; 1: one object per message */
    enum mdx_edge_form form;
    uint64_t seed;
    double duration_s; /* real seconds to run; 0: until stopped */
    uint64_t count;    /* readings per machine; 0: unlimited */
    double life_s;     /* simulated machine life, wear 0 to failure */
    double start_ago_s; /* the simulated clock starts this long before now (replays); never
                           before the outbox's newest reading */
    int safety;        /* publish safety messages */
    uint32_t ring_cap; /* readings buffered per machine */
    uint32_t flush_chunk; /* most readings per array when batch is 1; 0: MDX_EDGE_FLUSH_CHUNK */
    uint32_t backfill_rate; /* outbox: backlog readings sent per second, all machines; 0: no cap */
    int drain_only;         /* make no readings: deliver what the outbox holds, then stop */
    uint32_t nfaults;
    struct mdx_edge_fault_spec faults[MDX_EDGE_MAX_FAULTS];
    const struct mdx_edge_profile *profile; /* NULL: mdx_edge_profile_mqtt */
    struct mdx_edge_link link; /* the profile's settings; tenant and form filled in by init */
};

/* An answer to a command, waiting to be published. */
struct mdx_edge_ack {
    int64_t command_id;
    char detail[MDX_EDGE_CMD_DETAIL_MAX]; /* "" for "ok" */
    uint8_t rejected;
};

/* Outbox readings first..last of a machine, sent, waiting for the broker's PUBACK. */
struct mdx_edge_inflight {
    uint32_t token; /* from port.h publish_tracked() */
    uint64_t first;
    uint64_t last;
};

/* One machine of the agent. */
struct mdx_edge_unit {
    char device_id[MDX_EDGE_DEVICE_ID_MAX];
    struct mdx_sim_machine sim;
    struct mdx_edge_ring ring;
    uint64_t generated; /* readings made so far */
    struct mdx_safety_state safety;
    struct mdx_safety_state safety_sent;
    int64_t safety_ts_ms; /* time of the last safety change */
    uint8_t need_online;  /* status "online" not yet sent on this connection */
    uint8_t need_safety;  /* safety state not yet sent on this connection */
    uint8_t ack_pending;  /* 'ack' waits to be published */
    uint8_t fail_pending; /* a failure marker (status "failed") waits to be published */
    int64_t fail_ts_ms;   /* its time: the reading in whose window the machine failed */
    uint32_t fail_life;   /* its life number (sim.failures at that failure) */
    uint32_t session;     /* port's unit_session() last seen; 0: down */
    struct mdx_edge_ack ack;
    /*
     * Persistent outbox (when the port has storage): sequence numbers of
     * this machine's readings. [backfill, live_from) is the backlog left
     * from before the last (re)connect, sent oldest first at a bounded
     * rate; [live, next) are new readings, sent at once.
     */
    uint64_t ob_next;
    uint64_t ob_backfill;
    uint64_t ob_live_from;
    uint64_t ob_live;
    uint64_t ob_gap; /* readings dropped (outbox full) not yet reported */
    /*
     * ob_next at each of the last seconds (0: newest): after a reconnect,
     * readings of the last MDX_EDGE_REPLAY_S seconds are sent again, even
     * if acknowledged: a broker that crashed may have acknowledged
     * messages it never delivered. The store absorbs the repeats.
     */
    uint64_t ob_marks[MDX_EDGE_REPLAY_S + 1];
    uint32_t ninflight;
    struct mdx_edge_inflight inflight[MDX_EDGE_INFLIGHT];
};

struct mdx_edge_stats {
    uint64_t generated;          /* readings made */
    uint64_t published_msgs;     /* sensor_data messages handed to the port */
    uint64_t published_readings; /* readings in those messages */
    uint64_t dropped;            /* readings lost: ring overflow or unencodable */
    uint64_t failures;           /* machines run to failure and replaced */
    uint64_t publish_errors;     /* refusals other than "not connected" / "busy" */
    uint64_t commands;           /* messages received on commands topics */
    uint64_t commands_applied;   /* ... answered "ok" */
    uint64_t commands_rejected;  /* ... answered "rejected" */
    uint64_t commands_ignored;   /* ... unanswerable: unknown device, no readable id */
    uint64_t acks_dropped;       /* answers replaced by a newer one before they went out */
    uint64_t backfilled;         /* outbox: backlog readings sent */
    uint64_t backfill_msgs;      /* outbox: ... in this many messages */
    uint64_t acked_readings;     /* outbox: readings the broker acknowledged */
    uint64_t outbox_errors;      /* outbox: storage reads/writes that failed */
    uint64_t methods;            /* direct methods answered (azure-iot-hub) */
};

struct mdx_edge_agent {
    struct mdx_edge_conf conf;
    const struct mdx_edge_port *port;
    struct mdx_edge_unit *units; /* borrowed, conf.machines long */
    char *buf;                   /* borrowed payload buffer */
    size_t buf_cap;
    uint32_t chunk;     /* most readings in one message */
    double interval_ms; /* simulated ms between readings */
    int64_t start_mono_ms;
    int64_t start_wall_ms;
    int64_t done_at_ms; /* when the last reading was made; -1 before */
    int connected;
    int gen_done;
    struct mdx_edge_stats stats;
    char topic[MDX_EDGE_TOPIC_MAX];
    char line[256];
    char ack_buf[256]; /* a command_ack payload */
    char reply_topic[MDX_EDGE_TOPIC_MAX]; /* a direct method's answer */
    int has_outbox;
    struct mdx_edge_outbox outbox;
    struct mdx_edge_reading *scratch; /* 'chunk' readings read back from the outbox; in buf */
    double bf_tokens;                 /* backlog readings that may go out now */
    int64_t bf_refill_ms;
    int64_t checkpoint_ms; /* last checkpoint */
    int ob_dirty;          /* records written since the last sync */
    int ob_changed;        /* releases since the last checkpoint */
    int64_t backlog_since_ms; /* a backlog is being sent since then; -1: none */
    int64_t mark_ms;          /* last shift of the units' ob_marks */
    uint64_t backlog_done_at; /* stats.backfilled when it started */
};

/* Fills 'conf' with the defaults of modax-edge (20 machines, 1 Hz, tenant "demo"...). */
void mdx_edge_conf_defaults(struct mdx_edge_conf *conf);

/* Most readings one message of 'conf' can carry. */
uint32_t mdx_edge_chunk(const struct mdx_edge_conf *conf);

/* Bytes of payload buffer an agent of 'conf' needs. */
size_t mdx_edge_agent_buf_size(const struct mdx_edge_conf *conf);

/*
 * Sets up 'a' over caller memory: 'units' (conf->machines of them),
 * 'slots' (conf->machines * conf->ring_cap readings) and 'buf'
 * (mdx_edge_agent_buf_size() bytes). All three and the strings of 'conf'
 * are borrowed and must outlive the agent; 'port' too. When the port has
 * storage (port.h store_*), readings go through the persistent outbox
 * there, opened and recovered here. Returns MDX_OK, or MDX_EINVAL after
 * logging through the port what is wrong with 'conf' (e.g. a fault for an
 * unknown device) or with the outbox (another device's, a newer format),
 * MDX_ECORRUPT for a damaged outbox header, MDX_EIO if storage fails.
 */
int mdx_edge_agent_init(struct mdx_edge_agent *a, const struct mdx_edge_conf *conf,
                        const struct mdx_edge_port *port, struct mdx_edge_unit *units,
                        struct mdx_edge_reading *slots, char *buf, size_t buf_cap);

/*
 * One pass: makes due readings, publishes what it can. Sets *sleep_ms to
 * how long the caller may wait before the next step. Returns MDX_OK to go
 * on, MDX_ESTOPPED when the run is complete (count or duration reached and
 * the buffer delivered, or the drain time over).
 */
int mdx_edge_agent_step(struct mdx_edge_agent *a, uint32_t *sleep_ms);

/* Steps and sleeps until complete or the port asks to stop. Returns MDX_OK. */
int mdx_edge_agent_run(struct mdx_edge_agent *a);

/* Publishes "offline" for every machine if connected. The agent may then be discarded. */
void mdx_edge_agent_fini(struct mdx_edge_agent *a);

/*
 * The k-th topic filter machine 'i' of the agent subscribes to, as its
 * profile says (mqtt, aws-iot: modax/{tenant}/{device}/commands; azure:
 * direct methods and cloud-to-device), into 'buf'. Returns 0, or -1 when
 * 'i' or 'k' is past the last (or 'buf' too small). The port subscribes
 * to these after each connect.
 */
int mdx_edge_agent_subscription(const struct mdx_edge_agent *a, uint32_t i, uint32_t k,
                                char *buf, size_t cap);

/*
 * Handles one message received on 'topic' (NUL-terminated) on machine
 * 'unit''s connection (any unit with one connection), 'len' bytes of
 * 'payload' (no NUL needed): a command for one of the agent's machines
 * ({"command_id":..,"name":..,"value":..}), as a message on its commands
 * topic, a cloud-to-device message or a direct method (any method name;
 * the answer goes to the method's reply topic at once, 200 "ok", 400
 * rejected, 404 unknown topic form; a method without $rid cannot be
 * answered and is ignored, counted). Applies it or refuses it and publishes
 * the answer (or keeps it until the broker takes it). Malformed input is
 * logged and counted, never fatal. Call from the agent's thread.
 */
void mdx_edge_agent_command(struct mdx_edge_agent *a, uint32_t unit, const char *topic,
                            const void *payload, size_t len);

/* Readings still waiting in the rings, or in the outbox unreleased. */
uint64_t mdx_edge_agent_buffered(const struct mdx_edge_agent *a);

/*
 * The port reports that the broker acknowledged the message it gave
 * 'token' for (port.h publish_tracked()) on machine 'unit''s connection
 * (any unit with one connection): the outbox releases its readings.
 * Unknown tokens (from before a reconnect) are ignored.
 */
void mdx_edge_agent_acked(struct mdx_edge_agent *a, uint32_t unit, uint32_t token);

/*
 * Persists where the outbox's unreleased readings start (also done each
 * MDX_EDGE_CHECKPOINT_MS by the loop, and by fini). MDX_OK without outbox.
 */
int mdx_edge_agent_checkpoint(struct mdx_edge_agent *a);

#endif
