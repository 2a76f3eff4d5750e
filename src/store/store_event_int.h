/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_event_int.h - what a stored event changes besides its own row: a
 * status event the device's status, a safety event its emergency stop, a
 * command_ack event the state of the command it answers. Shared by both
 * back ends' batch writers, which apply the effect inside the batch's
 * transaction. Internal to src/store.
 */
#ifndef MODAX_STORE_EVENT_INT_H
#define MODAX_STORE_EVENT_INT_H

#include <stdint.h>

#include "modax/msg.h"
#include "modax/store.h"

enum mdx_effect_kind {
    MDX_EFFECT_NONE = 0,  /* the event changes nothing else */
    MDX_EFFECT_STATUS,    /* status = 'status' at ts */
    MDX_EFFECT_SAFETY,    /* interlocks in 'interlock_mask' set to 'interlock_bits' at ts */
    MDX_EFFECT_ACK        /* command 'command_id' -> 'command_state' with 'detail' at ts */
};

struct mdx_event_effect {
    int kind;                         /* enum mdx_effect_kind */
    int64_t ts_ms;                    /* the event's time */
    char status[16];                  /* MDX_EFFECT_STATUS */
    int emergency_stop;               /* MDX_EFFECT_SAFETY: the e-stop bit of interlock_bits */
    unsigned interlock_mask;          /* MDX_EFFECT_SAFETY: interlocks the event speaks of */
    unsigned interlock_bits;          /* MDX_EFFECT_SAFETY: those of them that hold */
    int64_t command_id;               /* MDX_EFFECT_ACK */
    int command_state;                /* MDX_COMMAND_ACKED or MDX_COMMAND_REJECTED */
    char detail[sizeof(((struct mdx_command *)0)->detail)]; /* truncated to fit */
};

/*
 * Works out the effect of 'ev' from its kind and body. A status body
 * without a string "state" that fits, or a safety body without any of the
 * four booleans, has none. MDX_OK, or MDX_ENOMEM.
 */
int mdx_store_event_effect(const struct mdx_event *ev, struct mdx_event_effect *out);

/* The topic an event of 'kind' arrived on, for a dead letter: modax/{tenant}/{device}/{kind}. */
void mdx_store_event_topic(const char *tenant, const char *device, int kind, char *buf,
                           size_t len);

#define MDX_REASON_UNKNOWN_DEVICE "unknown device" /* the registry's reason, see registry.h */

#endif
