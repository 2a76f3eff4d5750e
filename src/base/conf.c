/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf.c - loads the modules' key tables from one `key = value` file and
 * MODAX_* environment overrides, and writes their reference.
 *
 * Order: table defaults, then the file, then the environment; the last
 * one wins. Everything is checked here, once, so a module never sees a
 * value outside its table's bounds. Secret values come only from the
 * environment or a *_FILE, are never echoed in an error and are wiped
 * before they are freed.
 *
 * File syntax: one `key = value` per line; blank lines and lines starting
 * with '#' are skipped; a '#' after whitespace starts a comment. A value
 * may be put in double quotes to keep spaces or '#' (inside, \" and \\
 * are a quote and a backslash).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/file.h"
#include "modax/alloc.h"
#include "modax/conf.h"
#include "modax/status.h"

#define LINE_BYTES 4096       /* longest line of the config file */
#define ENV_NAME_BYTES 256    /* longest MODAX_* variable name */
#define SECRET_FILE_MAX 65536 /* largest secret file read */

/* Where the value of one key came from, for error messages. */
struct origin {
    const char *path; /* file, or NULL for the environment */
    int line;
    const char *env; /* variable name when path is NULL */
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "config: /etc/modax.conf:12: " or "config: MODAX_X: " into buf. */
static void where(const struct origin *o, char *buf, size_t len)
{
    if (o == NULL) {
        snprintf(buf, len, "config: default: ");
    } else if (o->path != NULL) {
        snprintf(buf, len, "config: %s:%d: ", o->path, o->line);
    } else {
        snprintf(buf, len, "config: %s: ", o->env);
    }
}

void mdx_conf_env_name(const char *key, char *buf, size_t len)
{
    size_t n;

    if (buf == NULL || len == 0) {
        return;
    }
    n = (size_t)snprintf(buf, len, "MODAX_");
    for (const char *p = key; p != NULL && *p != '\0' && n + 1 < len; p++) {
        unsigned char c = (unsigned char)*p;
        buf[n++] = isalnum(c) ? (char)toupper(c) : '_';
    }
    if (n < len) {
        buf[n] = '\0';
    }
}

static void *field_of(const struct mdx_conf_section *sec, const struct mdx_conf_key *k)
{
    return (char *)sec->target + k->offset;
}

/* Replaces an owned string field with a copy of 'value'. */
static int set_string(char **slot, const char *value, int secret)
{
    char *copy = mdx_strdup(value);

    if (copy == NULL) {
        return MDX_ENOMEM;
    }
    if (*slot != NULL && secret) {
        mdx_memzero(*slot, strlen(*slot));
    }
    mdx_free(*slot);
    *slot = copy;
    return MDX_OK;
}

static const struct {
    const char *word;
    int value;
} bool_words[] = {
    {"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0}, {"on", 1}, {"off", 0}, {"1", 1}, {"0", 0},
};

/*
 * Checks 'text' against the type and bounds of 'k' and stores it in the
 * section's struct. On error writes the reason, prefixed with the origin
 * and key, into 'err'. Never puts a secret's text in 'err'.
 */
static int set_value(const struct mdx_conf_section *sec, const struct mdx_conf_key *k,
                     const char *text, const struct origin *o, char *err, size_t errlen)
{
    void *field = field_of(sec, k);
    char at[512];
    char *end;

    where(o, at, sizeof(at));
    switch (k->type) {
    case MDX_CONF_T_STR:
    case MDX_CONF_T_SECRET:
        if (set_string(field, text, k->type == MDX_CONF_T_SECRET) != MDX_OK) {
            fail(err, errlen, "%s%s: out of memory", at, k->name);
            return MDX_ENOMEM;
        }
        return MDX_OK;
    case MDX_CONF_T_INT: {
        long long v;
        /* strtoll would skip leading blanks and accept an empty string. */
        if (!(isdigit((unsigned char)text[0]) ||
              ((text[0] == '-' || text[0] == '+') && isdigit((unsigned char)text[1])))) {
            fail(err, errlen, "%s%s: \"%s\" is not an integer", at, k->name, text);
            return MDX_ECONF;
        }
        errno = 0;
        v = strtoll(text, &end, 10);
        if (*end != '\0') {
            fail(err, errlen, "%s%s: \"%s\" is not an integer", at, k->name, text);
            return MDX_ECONF;
        }
        /* On overflow strtoll clamps to LLONG_MIN/MAX, which the bounds then catch. */
        if (v < k->min) {
            fail(err, errlen, "%s%s: %s is below the minimum %lld", at, k->name, text,
                 (long long)k->min);
            return MDX_ECONF;
        }
        if (v > k->max || errno == ERANGE) {
            fail(err, errlen, "%s%s: %s is above the maximum %lld", at, k->name, text,
                 (long long)k->max);
            return MDX_ECONF;
        }
        *(int64_t *)field = (int64_t)v;
        return MDX_OK;
    }
    case MDX_CONF_T_BOOL:
        for (size_t i = 0; i < sizeof(bool_words) / sizeof(bool_words[0]); i++) {
            if (strcasecmp(text, bool_words[i].word) == 0) {
                *(int *)field = bool_words[i].value;
                return MDX_OK;
            }
        }
        fail(err, errlen, "%s%s: \"%s\" is not a boolean (true/false, yes/no, on/off, 1/0)", at,
             k->name, text);
        return MDX_ECONF;
    case MDX_CONF_T_DBL: {
        double v;
        if (text[0] == '\0' || isspace((unsigned char)text[0])) {
            fail(err, errlen, "%s%s: \"%s\" is not a number", at, k->name, text);
            return MDX_ECONF;
        }
        errno = 0;
        v = strtod(text, &end);
        if (*end != '\0' || !isfinite(v) || errno == ERANGE) {
            fail(err, errlen, "%s%s: \"%s\" is not a finite number", at, k->name, text);
            return MDX_ECONF;
        }
        if (v < k->dmin) {
            fail(err, errlen, "%s%s: %s is below the minimum %g", at, k->name, text, k->dmin);
            return MDX_ECONF;
        }
        if (v > k->dmax) {
            fail(err, errlen, "%s%s: %s is above the maximum %g", at, k->name, text, k->dmax);
            return MDX_ECONF;
        }
        *(double *)field = v;
        return MDX_OK;
    }
    default:
        fail(err, errlen, "%s%s: unknown key type", at, k->name);
        return MDX_ECONF;
    }
}

/* Finds 'name' in the tables; *sec_out gets its section. */
static const struct mdx_conf_key *find_key(const struct mdx_conf_section *sections, size_t n,
                                           const char *name,
                                           const struct mdx_conf_section **sec_out)
{
    for (size_t s = 0; s < n; s++) {
        for (const struct mdx_conf_key *k = sections[s].keys; k->name != NULL; k++) {
            if (strcmp(k->name, name) == 0) {
                *sec_out = &sections[s];
                return k;
            }
        }
    }
    return NULL;
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) {
        *--end = '\0';
    }
    return s;
}

/*
 * Splits one line in place into key and value. Returns 0 for a blank or
 * comment line, 1 with *key and *value set, or -1 with *why a static
 * reason.
 */
static int split_line(char *line, char **key, char **value, const char **why)
{
    char *p = trim(line), *eq, *v, *w;

    if (*p == '\0' || *p == '#') {
        return 0;
    }
    eq = strchr(p, '=');
    if (eq == NULL) {
        *why = "expected `key = value`";
        return -1;
    }
    *eq = '\0';
    *key = trim(p);
    if (**key == '\0') {
        *why = "missing key before '='";
        return -1;
    }
    v = eq + 1;
    while (isspace((unsigned char)*v)) {
        v++;
    }
    if (*v != '"') {
        /* A '#' after whitespace starts a comment. */
        for (w = v; *w != '\0'; w++) {
            if (*w == '#' && w > v && isspace((unsigned char)w[-1])) {
                *w = '\0';
                break;
            }
        }
        *value = trim(v);
        return 1;
    }
    /* Quoted: unescape in place, then allow only a comment after it. */
    *value = ++v;
    for (w = v; *v != '"'; v++) {
        if (*v == '\0') {
            *why = "missing closing quote";
            return -1;
        }
        if (*v == '\\' && (v[1] == '"' || v[1] == '\\')) {
            v++;
        }
        *w++ = *v;
    }
    *w = '\0';
    v++;
    while (isspace((unsigned char)*v)) {
        v++;
    }
    if (*v != '\0' && *v != '#') {
        *why = "text after the closing quote";
        return -1;
    }
    return 1;
}

static int load_file(const struct mdx_conf_section *sections, size_t n, const char *path, char *err,
                     size_t errlen)
{
    char line[LINE_BYTES];
    FILE *f;
    int lineno = 0, rc = MDX_OK;

    f = fopen(path, "r");
    if (f == NULL) {
        fail(err, errlen, "config: %s: %s", path, strerror(errno));
        return MDX_ECONF;
    }
    for (long start = ftell(f); fgets(line, sizeof(line), f) != NULL; start = ftell(f)) {
        const struct mdx_conf_section *sec = NULL;
        const struct mdx_conf_key *k;
        struct origin o = {path, ++lineno, NULL};
        char *key, *value, env[ENV_NAME_BYTES];
        const char *why = NULL;
        int r;

        /* fgets() reads past a NUL byte; the line's text would silently end there. */
        if (start >= 0 && ftell(f) - start != (long)strlen(line)) {
            fail(err, errlen, "config: %s:%d: NUL byte in the line", path, lineno);
            rc = MDX_ECONF;
            break;
        }
        if (strchr(line, '\n') == NULL && !feof(f)) {
            fail(err, errlen, "config: %s:%d: line longer than %d bytes", path, lineno,
                 LINE_BYTES - 2);
            rc = MDX_ECONF;
            break;
        }
        r = split_line(line, &key, &value, &why);
        if (r == 0) {
            continue;
        }
        if (r < 0) {
            fail(err, errlen, "config: %s:%d: %s", path, lineno, why);
            rc = MDX_ECONF;
            break;
        }
        k = find_key(sections, n, key, &sec);
        if (k == NULL) {
            fail(err, errlen, "config: %s:%d: unknown key \"%s\"", path, lineno, key);
            rc = MDX_ECONF;
            break;
        }
        if (k->type == MDX_CONF_T_SECRET) {
            mdx_conf_env_name(k->name, env, sizeof(env));
            fail(err, errlen,
                 "config: %s:%d: %s is a secret and is refused in the config file; "
                 "set %s or %s_FILE in the environment",
                 path, lineno, k->name, env, env);
            rc = MDX_ECONF;
            break;
        }
        rc = set_value(sec, k, value, &o, err, errlen);
        if (rc != MDX_OK) {
            break;
        }
    }
    if (rc == MDX_OK && ferror(f)) {
        fail(err, errlen, "config: %s: read error", path);
        rc = MDX_ECONF;
    }
    /* The line may hold a secret someone put in the file by mistake. */
    mdx_memzero(line, sizeof(line));
    fclose(f);
    return rc;
}

/* Reads the secret in 'path' into an owned string, trailing newlines cut. */
static int read_secret_file(const char *var, const char *path, char **out, char *err, size_t errlen)
{
    int rc = mdx_read_secret_file(path, SECRET_FILE_MAX, out);

    if (rc == MDX_ENOTFOUND) {
        fail(err, errlen, "config: %s: cannot open %s: %s", var, path, strerror(errno));
        return MDX_ECONF;
    }
    if (rc == MDX_EIO) {
        fail(err, errlen, "config: %s: cannot read %s", var, path);
        return MDX_ECONF;
    }
    if (rc == MDX_EFULL) {
        fail(err, errlen, "config: %s: %s is larger than %d bytes", var, path, SECRET_FILE_MAX);
        return MDX_ECONF;
    }
    if (rc != MDX_OK) {
        fail(err, errlen, "config: %s: out of memory", var);
    }
    return rc;
}

static int load_env_secret(const struct mdx_conf_section *sec, const struct mdx_conf_key *k,
                           const char *env, char *err, size_t errlen)
{
    char file_var[ENV_NAME_BYTES + 8];
    const char *direct, *file;
    char *value = NULL;
    char **slot = field_of(sec, k);
    int rc;

    snprintf(file_var, sizeof(file_var), "%s_FILE", env);
    direct = getenv(env);
    file = getenv(file_var);
    if (direct != NULL && file != NULL) {
        fail(err, errlen, "config: %s and %s are both set; set only one", env, file_var);
        return MDX_ECONF;
    }
    if (direct != NULL) {
        struct origin o = {NULL, 0, env};
        return set_value(sec, k, direct, &o, err, errlen);
    }
    if (file == NULL) {
        return MDX_OK;
    }
    rc = read_secret_file(file_var, file, &value, err, errlen);
    if (rc != MDX_OK) {
        return rc;
    }
    if (*slot != NULL) {
        mdx_memzero(*slot, strlen(*slot));
        mdx_free(*slot);
    }
    *slot = value; /* the struct owns it now */
    return MDX_OK;
}

static int load_env(const struct mdx_conf_section *sections, size_t n, char *err, size_t errlen)
{
    char env[ENV_NAME_BYTES];
    int rc;

    for (size_t s = 0; s < n; s++) {
        for (const struct mdx_conf_key *k = sections[s].keys; k->name != NULL; k++) {
            const char *v;
            mdx_conf_env_name(k->name, env, sizeof(env));
            if (k->type == MDX_CONF_T_SECRET) {
                rc = load_env_secret(&sections[s], k, env, err, errlen);
            } else if ((v = getenv(env)) != NULL) {
                struct origin o = {NULL, 0, env};
                rc = set_value(&sections[s], k, v, &o, err, errlen);
            } else {
                rc = MDX_OK;
            }
            if (rc != MDX_OK) {
                return rc;
            }
        }
    }
    return MDX_OK;
}

static int load_defaults(const struct mdx_conf_section *sections, size_t n, char *err,
                         size_t errlen)
{
    int rc;

    /* The caller's struct may hold anything: start every string from NULL. */
    for (size_t s = 0; s < n; s++) {
        for (const struct mdx_conf_key *k = sections[s].keys; k->name != NULL; k++) {
            if (k->type == MDX_CONF_T_STR || k->type == MDX_CONF_T_SECRET) {
                *(char **)field_of(&sections[s], k) = NULL;
            }
        }
    }
    for (size_t s = 0; s < n; s++) {
        for (const struct mdx_conf_key *k = sections[s].keys; k->name != NULL; k++) {
            if (k->def == NULL) {
                continue;
            }
            rc = set_value(&sections[s], k, k->def, NULL, err, errlen);
            if (rc != MDX_OK) {
                return rc;
            }
        }
    }
    return MDX_OK;
}

static int check_required(const struct mdx_conf_section *sections, size_t n, const char *path,
                          char *err, size_t errlen)
{
    char env[ENV_NAME_BYTES];

    for (size_t s = 0; s < n; s++) {
        for (const struct mdx_conf_key *k = sections[s].keys; k->name != NULL; k++) {
            if (k->type != MDX_CONF_T_STR || k->def != NULL ||
                *(char **)field_of(&sections[s], k) != NULL) {
                continue;
            }
            mdx_conf_env_name(k->name, env, sizeof(env));
            fail(err, errlen, "config: %s is required; set it in %s or in %s", k->name,
                 path != NULL ? path : "the config file", env);
            return MDX_ECONF;
        }
    }
    return MDX_OK;
}

/*
 * The targets are taken as holding no strings yet (a fresh struct, or one
 * passed through mdx_conf_fini): a reload builds a new config.
 */
int mdx_conf_load(const struct mdx_conf_section *sections, size_t n, const char *path, char *err,
                  size_t errlen)
{
    int rc;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    rc = load_defaults(sections, n, err, errlen);
    if (rc == MDX_OK && path != NULL) {
        rc = load_file(sections, n, path, err, errlen);
    }
    if (rc == MDX_OK) {
        rc = load_env(sections, n, err, errlen);
    }
    if (rc == MDX_OK) {
        rc = check_required(sections, n, path, err, errlen);
    }
    if (rc != MDX_OK) {
        for (size_t s = 0; s < n; s++) {
            mdx_conf_fini(&sections[s]);
        }
        return MDX_ECONF;
    }
    return MDX_OK;
}

void mdx_conf_fini(const struct mdx_conf_section *section)
{
    if (section == NULL || section->target == NULL || section->keys == NULL) {
        return;
    }
    for (const struct mdx_conf_key *k = section->keys; k->name != NULL; k++) {
        char **slot;
        if (k->type != MDX_CONF_T_STR && k->type != MDX_CONF_T_SECRET) {
            continue;
        }
        slot = field_of(section, k);
        if (*slot != NULL && k->type == MDX_CONF_T_SECRET) {
            mdx_memzero(*slot, strlen(*slot));
        }
        MDX_FREE(*slot);
    }
}

/* Writes 's' with the table separator '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|') {
            fputc('\\', f);
        }
        fputc(*s, f);
    }
}

/* "16..1000000" for numbers, "true/false" for booleans, else "". */
static void range_text(const struct mdx_conf_key *k, char *buf, size_t len)
{
    switch (k->type) {
    case MDX_CONF_T_INT:
        snprintf(buf, len, "%lld..%lld", (long long)k->min, (long long)k->max);
        break;
    case MDX_CONF_T_DBL:
        snprintf(buf, len, "%g..%g", k->dmin, k->dmax);
        break;
    case MDX_CONF_T_BOOL:
        snprintf(buf, len, "true/false");
        break;
    default:
        snprintf(buf, len, "%s", "");
        break;
    }
}

static void describe_md(const struct mdx_conf_section *sec, FILE *f)
{
    char env[ENV_NAME_BYTES], range[64];

    fprintf(f, "### %s\n\n", sec->module);
    fprintf(f, "| key | env | default | range | description |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (const struct mdx_conf_key *k = sec->keys; k->name != NULL; k++) {
        mdx_conf_env_name(k->name, env, sizeof(env));
        range_text(k, range, sizeof(range));
        fprintf(f, "| `%s` | `%s`", k->name, env);
        if (k->type == MDX_CONF_T_SECRET) {
            fprintf(f, "<br>`%s_FILE` | *secret* | ", env);
        } else if (k->def == NULL) {
            fprintf(f, " | *required* | ");
        } else {
            fprintf(f, " | `");
            md_cell(f, k->def);
            fprintf(f, "` | ");
        }
        fprintf(f, "%s | ", range);
        md_cell(f, k->help != NULL ? k->help : "");
        fprintf(f, " |\n");
    }
    fprintf(f, "\n");
}

/* A default that would not read back unquoted gets quotes. */
static void example_value(FILE *f, const char *def)
{
    size_t len = strlen(def);
    int quote = len == 0 || def[0] == '"' || strchr(def, '#') != NULL ||
                isspace((unsigned char)def[0]) || isspace((unsigned char)def[len - 1]);

    if (!quote) {
        fputs(def, f);
        return;
    }
    fputc('"', f);
    for (; *def != '\0'; def++) {
        if (*def == '"' || *def == '\\') {
            fputc('\\', f);
        }
        fputc(*def, f);
    }
    fputc('"', f);
}

static void describe_example(const struct mdx_conf_section *sec, FILE *f)
{
    char env[ENV_NAME_BYTES], range[64];

    fprintf(f, "# ---- %s ----\n\n", sec->module);
    for (const struct mdx_conf_key *k = sec->keys; k->name != NULL; k++) {
        mdx_conf_env_name(k->name, env, sizeof(env));
        range_text(k, range, sizeof(range));
        fprintf(f, "# %s", k->help != NULL ? k->help : "");
        if (range[0] != '\0') {
            fprintf(f, " (%s)", range);
        }
        fprintf(f, "\n");
        if (k->type == MDX_CONF_T_SECRET) {
            fprintf(f, "# %s is a secret: set %s or %s_FILE in the environment\n\n", k->name, env,
                    env);
        } else if (k->def == NULL) {
            fprintf(f, "# required\n#%s =\n\n", k->name);
        } else {
            fprintf(f, "#%s = ", k->name);
            example_value(f, k->def);
            fprintf(f, "\n\n");
        }
    }
}

void mdx_conf_describe(const struct mdx_conf_section *sections, size_t n, int md, void *file)
{
    FILE *f = file;

    for (size_t s = 0; s < n; s++) {
        if (md) {
            describe_md(&sections[s], f);
        } else {
            describe_example(&sections[s], f);
        }
    }
}
