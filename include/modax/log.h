/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - structured logging.
 *
 * A log call is a module, a message and typed fields. On a terminal it
 * prints readable text, otherwise one JSON object per line. Identical
 * (module, message) pairs repeated within the suppression interval are
 * counted and summarised instead of printed, so call sites need not
 * rate-limit. Thread-safe.
 *
 *   mdx_log_warn("ingest", "payload rejected",
 *                MDX_F_STR("tenant", t), MDX_F_STR("reason", why));
 */
#ifndef MODAX_LOG_H
#define MODAX_LOG_H

#include <stdint.h>

enum mdx_log_level {
    MDX_LOG_TRACE = 0,
    MDX_LOG_DEBUG,
    MDX_LOG_INFO,
    MDX_LOG_WARN,
    MDX_LOG_ERROR,
    MDX_LOG_OFF
};

enum mdx_log_format { MDX_LOG_AUTO = 0, MDX_LOG_TEXT, MDX_LOG_JSON };

enum mdx_field_type { MDX_FIELD_NONE = 0, MDX_FIELD_STR, MDX_FIELD_INT, MDX_FIELD_DBL };

struct mdx_field {
    const char *key;
    enum mdx_field_type type;
    const char *s;
    int64_t i;
    double d;
};

#define MDX_F_STR(k, v) ((struct mdx_field){.key = (k), .type = MDX_FIELD_STR, .s = (v)})
#define MDX_F_INT(k, v) ((struct mdx_field){.key = (k), .type = MDX_FIELD_INT, .i = (int64_t)(v)})
#define MDX_F_DBL(k, v) ((struct mdx_field){.key = (k), .type = MDX_FIELD_DBL, .d = (double)(v)})
#define MDX_F_ERR(v) MDX_F_STR("error", mdx_strerror(v))

/* Current threshold; messages below it are not formatted at all. Atomic: any thread reads it. */
extern _Atomic int mdx_log_threshold;

/* Sets level, output format and the repeat-suppression interval (ms, 0 = off). */
void mdx_log_setup(enum mdx_log_level level, enum mdx_log_format format, int suppress_ms);
/* Parses "trace".."error"/"off"; returns -1 if unknown. */
int mdx_log_level_parse(const char *name);

/* Writes one record with 'n' fields. Use the macros below, which check the level first. */
void mdx_log_write(enum mdx_log_level level, const char *module, const char *msg,
                   const struct mdx_field *fields, int n);

/*
 * As mdx_log_write, but never held back by repeat suppression: for a record
 * that must be in the log, such as the final statistics at stop, even when
 * a periodic record of the same module and message was printed just before.
 */
void mdx_log_write_always(enum mdx_log_level level, const char *module, const char *msg,
                          const struct mdx_field *fields, int n);

/* The leading placeholder keeps the array valid when a call passes no field. */
#define MDX_LOG_(lvl, mod, msg, ...)                                                               \
    do {                                                                                           \
        if ((int)(lvl) >= mdx_log_threshold) {                                                     \
            const struct mdx_field mdx_fields_[] = {{0}, __VA_ARGS__};                            \
            mdx_log_write((lvl), (mod), (msg), mdx_fields_ + 1,                                    \
                          (int)(sizeof(mdx_fields_) / sizeof(mdx_fields_[0])) - 1);                \
        }                                                                                          \
    } while (0)

/* Info record that repeat suppression never holds back (mdx_log_write_always). */
#define mdx_log_info_always(mod, msg, ...)                                                         \
    do {                                                                                           \
        if ((int)MDX_LOG_INFO >= mdx_log_threshold) {                                              \
            const struct mdx_field mdx_fields_[] = {{0}, __VA_ARGS__};                            \
            mdx_log_write_always(MDX_LOG_INFO, (mod), (msg), mdx_fields_ + 1,                      \
                                 (int)(sizeof(mdx_fields_) / sizeof(mdx_fields_[0])) - 1);         \
        }                                                                                          \
    } while (0)

#define mdx_log_trace(mod, msg, ...) MDX_LOG_(MDX_LOG_TRACE, mod, msg, __VA_ARGS__)
#define mdx_log_debug(mod, msg, ...) MDX_LOG_(MDX_LOG_DEBUG, mod, msg, __VA_ARGS__)
#define mdx_log_info(mod, msg, ...) MDX_LOG_(MDX_LOG_INFO, mod, msg, __VA_ARGS__)
#define mdx_log_warn(mod, msg, ...) MDX_LOG_(MDX_LOG_WARN, mod, msg, __VA_ARGS__)
#define mdx_log_error(mod, msg, ...) MDX_LOG_(MDX_LOG_ERROR, mod, msg, __VA_ARGS__)

#endif
