/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pubsub_emu.h - Google's Pub/Sub emulator (part of the Google Cloud CLI)
 * for integration tests: started on a free loopback port, driven over its
 * REST API (topics, subscriptions, publish, seek).
 */
#ifndef MODAX_TEST_PUBSUB_EMU_H
#define MODAX_TEST_PUBSUB_EMU_H

#include <sys/types.h>

struct pubsub_emu {
    pid_t pid;
    int port;
    char host[64];            /* 127.0.0.1:PORT, for PUBSUB_EMULATOR_HOST */
};

/*
 * Starts the emulator ($MODAX_PUBSUB_EMULATOR, else the Google Cloud CLI's
 * platform/pubsub-emulator/bin/cloud-pubsub-emulator) with its log in
 * dir/pubsub-emulator.log and waits for it to answer (deadline 90 s).
 * 0 on success; 1 if no emulator is installed; -1 if it did not start.
 */
int pubsub_emu_start(struct pubsub_emu *e, const char *dir);
/* Stops it (SIGTERM) and waits. Its topics, subscriptions and messages are gone with it. */
void pubsub_emu_stop(struct pubsub_emu *e);
/* Stops it and starts a fresh one on the same port; as pubsub_emu_start(). */
int pubsub_emu_restart(struct pubsub_emu *e, const char *dir);

/*
 * METHOD /v1/projects/PROJECT/PATH with JSON 'body' (NULL: none); the
 * answer into out (len; may be NULL). Returns the HTTP status, -1 when none came.
 */
int pubsub_emu_call(const struct pubsub_emu *e, const char *method, const char *project,
                    const char *path, const char *body, char *out, size_t len);

#endif
