/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf.h - configuration from one file plus MODAX_* environment overrides.
 *
 * Each module declares its keys in one table of struct mdx_conf_key; the
 * loader, validation, `modax config --help`, the README reference and the
 * example file all come from those tables. The file format is one
 * `key = value` per line, '#' starts a comment. The environment variable
 * for key "store.sqlite.path" is MODAX_STORE_SQLITE_PATH. Secret keys are
 * refused in the file: they come from MODAX_<KEY> or from the file named
 * by MODAX_<KEY>_FILE (a Kubernetes or CSI-mounted secret).
 */
#ifndef MODAX_CONF_H
#define MODAX_CONF_H

#include <stddef.h>
#include <stdint.h>

enum mdx_conf_type { MDX_CONF_T_END = 0, MDX_CONF_T_STR, MDX_CONF_T_INT, MDX_CONF_T_BOOL,
                     MDX_CONF_T_DBL, MDX_CONF_T_SECRET };

struct mdx_conf_key {
    const char *name;        /* dotted key, e.g. "mqtt.host" */
    enum mdx_conf_type type;
    const char *def;         /* default as text; NULL = required (STR) or unset (SECRET) */
    int64_t min, max;        /* bounds for INT */
    size_t offset;           /* where the value lives in the module's struct */
    const char *help;        /* one line */
    double dmin, dmax;       /* bounds for DBL (fractions kept: 0.5 is not 0) */
};

#define MDX_CONF_STR(n, d, st, f, h)                                                               \
    {n, MDX_CONF_T_STR, d, 0, 0, offsetof(st, f), h, 0, 0}
#define MDX_CONF_INT(n, d, lo, hi, st, f, h)                                                       \
    {n, MDX_CONF_T_INT, d, lo, hi, offsetof(st, f), h, 0, 0}
#define MDX_CONF_BOOL(n, d, st, f, h)                                                              \
    {n, MDX_CONF_T_BOOL, d, 0, 1, offsetof(st, f), h, 0, 0}
#define MDX_CONF_DBL(n, d, lo, hi, st, f, h)                                                       \
    {n, MDX_CONF_T_DBL, d, 0, 0, offsetof(st, f), h, lo, hi}
#define MDX_CONF_SECRET(n, st, f, h)                                                               \
    {n, MDX_CONF_T_SECRET, NULL, 0, 0, offsetof(st, f), h, 0, 0}
#define MDX_CONF_END {NULL, MDX_CONF_T_END, NULL, 0, 0, 0, NULL, 0, 0}

/*
 * Field types in the module struct: STR and SECRET are `char *` (owned by
 * the struct, freed by mdx_conf_fini), INT is int64_t, BOOL is int, DBL double.
 */

/* One module's table and the struct it fills. */
struct mdx_conf_section {
    const char *module;               /* for messages and docs */
    const struct mdx_conf_key *keys;
    void *target;
};

/*
 * Fills every section: defaults, then the file at 'path' (NULL: none),
 * then the environment. Unknown keys in the file, values out of bounds,
 * missing required keys and secrets in the file are errors; 'err' (size
 * 'errlen') then says which key and why. Returns MDX_OK or MDX_ECONF.
 */
int mdx_conf_load(const struct mdx_conf_section *sections, size_t n, const char *path,
                  char *err, size_t errlen);

/* Frees the strings of one section's struct (secrets are wiped first). */
void mdx_conf_fini(const struct mdx_conf_section *section);

/* Writes the reference of the tables: markdown table (md != 0) or an example config file. */
void mdx_conf_describe(const struct mdx_conf_section *sections, size_t n, int md, void *file);

/* Environment variable name for 'key' into buf: "mqtt.host" -> "MODAX_MQTT_HOST". */
void mdx_conf_env_name(const char *key, char *buf, size_t len);

#endif
