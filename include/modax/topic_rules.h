/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topic_rules.h - who may publish, subscribe to and receive which MQTT
 * topics (issue 6). One table of rules is the source of the broker plugin's
 * decisions (mdx_topic_check) and of the cloud documents rendered from it:
 * the AWS IoT Core policies and the Azure IoT Hub device setup
 * (mdx_topic_render_aws, mdx_topic_render_azure).
 */
#ifndef MODAX_TOPIC_RULES_H
#define MODAX_TOPIC_RULES_H

#include <stddef.h>
#include <stdio.h>

/* Who is asking. Values of the service and operator match enum mdx_identity_kind. */
enum mdx_topic_role { MDX_TOPIC_DEVICE = 0, MDX_TOPIC_SERVICE = 1, MDX_TOPIC_OPERATOR = 2 };
#define MDX_TOPIC_ROLES 3

enum mdx_topic_access {
    MDX_ACCESS_PUBLISH = 1,   /* PUBLISH to a topic name */
    MDX_ACCESS_SUBSCRIBE = 2, /* SUBSCRIBE with a topic filter */
    MDX_ACCESS_RECEIVE = 4    /* delivery of a message published on a topic name */
};

#define MDX_TOPIC_MAX 256         /* bytes of a whole topic (AWS IoT Core's limit) */
#define MDX_TOPIC_LEVEL_MAX 64    /* bytes of one level (= MDX_NAME_MAX) */

/* Answers of mdx_topic_check: MDX_TOPIC_ALLOW or the reason of a denial. */
enum mdx_topic_verdict {
    MDX_TOPIC_ALLOW = 0,
    MDX_TOPIC_DENY_MALFORMED,     /* empty, NUL, over-long topic or level, misplaced wildcard */
    MDX_TOPIC_DENY_WILDCARD,      /* wildcard in a topic name, or a wildcard filter not allowed */
    MDX_TOPIC_DENY_SYS,           /* $SYS or another '$' topic */
    MDX_TOPIC_DENY_NAMESPACE,     /* not modax/{tenant}/{device}/{leaf} */
    MDX_TOPIC_DENY_TENANT,        /* another tenant's topic */
    MDX_TOPIC_DENY_DEVICE,        /* another device's topic */
    MDX_TOPIC_DENY_LEAF,          /* this role may not use this leaf with this access */
    MDX_TOPIC_DENY_IDENTITY       /* the identity's own name or tenant is not a valid level */
};

/* One rule: 'role' may do 'access' (a mask) on modax/{tenant}/{device}/{leaf}. */
enum mdx_topic_scope {
    MDX_SCOPE_SELF = 0,           /* the identity's own tenant / its own device id */
    MDX_SCOPE_ANY = 1             /* any tenant / any device (MQTT '+' allowed in filters) */
};
struct mdx_topic_rule {
    int role;                     /* enum mdx_topic_role */
    unsigned access;              /* mask of enum mdx_topic_access */
    int tenant_scope;             /* enum mdx_topic_scope */
    int device_scope;             /* enum mdx_topic_scope */
    const char *leaf;             /* "sensor_data", "commands", ... */
    int shared;                   /* non-zero: $share/{group}/... filters allowed too */
};

/* The table; n receives its length. */
const struct mdx_topic_rule *mdx_topic_rules(size_t *n);

/* Who is asking: role, its tenant ("" for the service) and its name (device id or identity). */
struct mdx_topic_who {
    int role;
    const char *tenant;
    const char *name;
};

/*
 * Decides whether 'who' may do 'access' (one value of enum mdx_topic_access)
 * on 'topic' of 'len' bytes (a NUL inside is refused). Devices may only use
 * exact topics; filters of the service and operators may use '+' where the
 * rule's scope is ANY. '#' and '$' topics are never allowed.
 */
enum mdx_topic_verdict mdx_topic_check(const struct mdx_topic_who *who, unsigned access,
                                       const char *topic, size_t len);

/*
 * Only the syntax: MDX_TOPIC_ALLOW if 'topic' is a well-formed topic name
 * (access PUBLISH or RECEIVE: no wildcards) or filter (SUBSCRIBE: '+' whole
 * levels, '#' last), with no empty level, NUL or over-long level or topic.
 */
enum mdx_topic_verdict mdx_topic_syntax(unsigned access, const char *topic, size_t len);

/* Short fixed text of a verdict, e.g. "another tenant's topic". */
const char *mdx_topic_verdict_text(enum mdx_topic_verdict v);
/* "device", "service", "operator"; NULL for an unknown role. */
const char *mdx_topic_role_name(int role);
/* Parses a role name; -1 if unknown. */
int mdx_topic_role_parse(const char *name);

/*
 * The AWS IoT Core policy of 'role' (JSON, "REGION" and "ACCOUNT" left for
 * the deployer to replace). The thing name is the device id or identity
 * name and its attribute "tenant" the tenant. MDX_OK or MDX_EIO.
 */
int mdx_topic_render_aws(int role, FILE *out);
/* The Azure IoT Hub device setup document (Markdown). MDX_OK or MDX_EIO. */
int mdx_topic_render_azure(FILE *out);

/* The rendered files, relative to a directory (the repository's cloud/): NULL-terminated. */
extern const char *const mdx_topic_render_files[];
/* Renders file 'rel' (one of mdx_topic_render_files) to 'out'. MDX_EINVAL if unknown. */
int mdx_topic_render_file(const char *rel, FILE *out);

#endif
