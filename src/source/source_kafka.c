/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_kafka.c - Kafka source: a consumer group over one or more topics
 * (MSK, Event Hubs' Kafka endpoint, any Kafka), read by the engine's
 * writer thread as a pull source (source.h).
 *
 * Exactly once into the store: the offset after each partition's last
 * record of a batch is stored in the batch's own transaction (owner
 * "kafka:{group}:{topic}:{partition}", position {1, next offset}); on
 * assignment a partition starts at its stored offset, so a restarted
 * worker, or the one that takes a partition over, neither skips nor
 * repeats. Offsets are also committed to the group after each batch, only
 * so that consumer lag shows in the usual Kafka tools. Before giving a
 * partition up in a rebalance the worker stores its batch (host->flush).
 * Records are held (not copied) until their batch is stored, at most
 * kafka.max_held_records and kafka.max_held_mb.
 */
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/source.h"
#include "modax/status.h"
#include "source/kafka_map.h"

#define MOD "kafka"
#define TOPIC_LEN 192             /* modax/{64}/{64}/{kind} or kafka/{topic}/{p}/{offset} */
#define HEADERS_MAX 64
#define POS_KAFKA 1               /* segment of a stored position: a Kafka offset */

const struct mdx_conf_key mdx_kafka_conf_keys[] = {
    MDX_CONF_STR("kafka.brokers", "127.0.0.1:9092", struct mdx_kafka_conf, brokers,
                 "Bootstrap brokers host:port,...; Event Hubs: NAMESPACE.servicebus.windows.net:9093"),
    MDX_CONF_STR("kafka.topics", "modax-telemetry", struct mdx_kafka_conf, topics,
                 "Topics to read, comma-separated (an event hub is one topic)"),
    MDX_CONF_STR("kafka.group", "modax-ingest", struct mdx_kafka_conf, group,
                 "Consumer group; the workers of one group split the partitions"),
    MDX_CONF_STR("kafka.mapping", "headers", struct mdx_kafka_conf, mapping,
                 "Where tenant and device are: headers, aws-iot-rule-msk, azure-event-hubs"),
    MDX_CONF_STR("kafka.tenant_header", "tenant", struct mdx_kafka_conf, tenant_header,
                 "mapping=headers: header naming the tenant"),
    MDX_CONF_STR("kafka.device_header", "device", struct mdx_kafka_conf, device_header,
                 "mapping=headers: header naming the device"),
    MDX_CONF_STR("kafka.topic_header", "", struct mdx_kafka_conf, topic_header,
                 "mapping=headers: header carrying modax/{tenant}/{device}/{kind}; empty: none"),
    MDX_CONF_BOOL("kafka.device_from_key", "false", struct mdx_kafka_conf, device_from_key,
                  "mapping=headers: the record key is the device id"),
    MDX_CONF_STR("kafka.topic_tenants", "", struct mdx_kafka_conf, topic_tenants,
                 "topic=tenant,...: the only tenant a Kafka topic may carry"),
    MDX_CONF_STR("kafka.kind", "sensor_data", struct mdx_kafka_conf, kind,
                 "Message kind when no topic header says: sensor_data, safety, status"),
    MDX_CONF_STR("kafka.security_protocol", "plaintext", struct mdx_kafka_conf,
                 security_protocol, "plaintext, ssl (mTLS for MSK), sasl_plaintext, sasl_ssl"),
    MDX_CONF_STR("kafka.sasl_mechanism", "PLAIN", struct mdx_kafka_conf, sasl_mechanism,
                 "PLAIN (Event Hubs), SCRAM-SHA-256 or SCRAM-SHA-512 (MSK)"),
    MDX_CONF_STR("kafka.sasl_username", "", struct mdx_kafka_conf, sasl_username,
                 "SASL user; Event Hubs: $ConnectionString"),
    MDX_CONF_SECRET("kafka.sasl_password", struct mdx_kafka_conf, sasl_password,
                    "SASL password (Event Hubs: the connection string); environment or *_file"),
    MDX_CONF_STR("kafka.ssl_ca_file", "", struct mdx_kafka_conf, ssl_ca_file,
                 "CA certificates (PEM) for the brokers; empty: the system's"),
    MDX_CONF_STR("kafka.ssl_cert_file", "", struct mdx_kafka_conf, ssl_cert_file,
                 "Client certificate (PEM) for mTLS; empty: none"),
    MDX_CONF_STR("kafka.ssl_key_file", "", struct mdx_kafka_conf, ssl_key_file,
                 "Private key (PEM) of the client certificate: a mounted secret file"),
    MDX_CONF_INT("kafka.session_timeout_ms", "30000", 1000, 300000, struct mdx_kafka_conf,
                 session_timeout_ms, "A worker silent this long loses its partitions"),
    MDX_CONF_INT("kafka.max_record_bytes", "16777216", 65536, 1000000000, struct mdx_kafka_conf,
                 max_record_bytes, "Largest record fetched; larger ones stall their partition "
                                   "(records over ingest.max_payload_bytes become dead letters)"),
    MDX_CONF_INT("kafka.max_held_mb", "64", 1, 4096, struct mdx_kafka_conf, max_held_mb,
                 "Record bytes held between two store commits"),
    MDX_CONF_INT("kafka.max_held_records", "20000", 1, 1000000, struct mdx_kafka_conf,
                 max_held_records, "Records held between two store commits"),
    MDX_CONF_END,
};

/* A partition assigned to this worker; owned by the writer thread. */
struct part {
    char topic[256];
    int32_t partition;
    char owner[384];          /* kafka:{group}:{topic}:{partition} */
    int64_t stored_next;      /* next offset as stored with the last batch; -1 unknown */
    int64_t taken_next;       /* next offset after the records taken since; -1 none */
};

struct source_kafka {
    const struct mdx_kafka_conf *conf; /* borrowed */
    rd_kafka_t *rk;
    struct kafka_map map;
    const struct mdx_pull_host *host;  /* borrowed from the engine */
    struct part *parts;
    size_t n_parts, cap_parts, cap_pos;
    struct mdx_position *pos;          /* positions(): one per part */
    rd_kafka_message_t **held;         /* records taken since the last commit */
    char (*topics)[TOPIC_LEN];         /* their topic strings */
    size_t n_held, cap_held, held_bytes, max_held_bytes;
    int64_t next_lag_us;
    int closing;                       /* consumer_close: revokes store nothing */
    atomic_int stopping;
    atomic_int joined;                 /* a first assignment came */
    atomic_int_fast64_t n_assigned, lag;
    atomic_uint_fast64_t rebalances;
};

static struct part *find_part(struct source_kafka *s, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < s->n_parts; i++) {
        if (s->parts[i].partition == partition && strcmp(s->parts[i].topic, topic) == 0) {
            return &s->parts[i];
        }
    }
    return NULL;
}

static void release_held(struct source_kafka *s)
{
    for (size_t i = 0; i < s->n_held; i++) {
        rd_kafka_message_destroy(s->held[i]);
    }
    s->n_held = 0;
    s->held_bytes = 0;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct source_kafka *s = opaque;

    (void)rk;
    if (atomic_load(&s->stopping)) {
        return;
    }
    /* librdkafka's reasons name brokers and mechanisms, never the password. */
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED) {
        mdx_log_error(MOD, "Kafka authentication failed; check kafka.sasl_username, "
                           "kafka.sasl_password and kafka.sasl_mechanism",
                      MDX_F_STR("reason", reason));
    } else if (err == RD_KAFKA_RESP_ERR__SSL) {
        mdx_log_error(MOD, "Kafka TLS failed; check kafka.ssl_ca_file, kafka.ssl_cert_file",
                      MDX_F_STR("reason", reason));
    } else {
        mdx_log_warn(MOD, "Kafka client error", MDX_F_STR("error", rd_kafka_err2name(err)),
                     MDX_F_STR("reason", reason));
    }
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3) {
        mdx_log_warn(MOD, "librdkafka", MDX_F_STR("facility", fac), MDX_F_STR("detail", buf));
    }
}

/* Partitions come: each starts at its stored offset, else at the group's committed one. */
static void assign(struct source_kafka *s, rd_kafka_topic_partition_list_t *list)
{
    size_t need = s->n_parts + (size_t)list->cnt;

    struct part *np = mdx_grow(s->parts, &s->cap_parts, need, sizeof(*np), 8);
    struct mdx_position *pp = np != NULL ? mdx_grow(s->pos, &s->cap_pos, need, sizeof(*pp), 8) : NULL;

    if (np != NULL) {
        s->parts = np;
    }
    if (pp != NULL) {
        s->pos = pp;
    }
    if (np == NULL || pp == NULL) {
        mdx_log_error(MOD, "out of memory for the assigned partitions");
        return;
    }
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        struct part *p = find_part(s, tp->topic, tp->partition);
        struct mdx_spool_pos stored = {0, 0};

        if (p == NULL) {
            p = &s->parts[s->n_parts++];
            snprintf(p->topic, sizeof(p->topic), "%s", tp->topic);
            p->partition = tp->partition;
            snprintf(p->owner, sizeof(p->owner), "kafka:%s:%s:%d", s->conf->group, tp->topic,
                     (int)tp->partition);
        }
        p->stored_next = -1;
        p->taken_next = -1;
        tp->offset = RD_KAFKA_OFFSET_STORED; /* the group's, then auto.offset.reset */
        if (s->host != NULL &&
            s->host->position_get(s->host->engine, p->owner, &stored) == MDX_OK &&
            stored.segment == POS_KAFKA) {
            tp->offset = (int64_t)stored.offset;
            p->stored_next = (int64_t)stored.offset;
        }
        mdx_log_info(MOD, "partition assigned", MDX_F_STR("topic", tp->topic),
                     MDX_F_INT("partition", tp->partition),
                     MDX_F_INT("stored_offset", p->stored_next));
    }
}

/*
 * Partitions go: what was taken from them is stored first, with what the
 * stages hand over to the next owner (detector states), then they are
 * forgotten.
 */
static void revoke(struct source_kafka *s, rd_kafka_topic_partition_list_t *list)
{
    if (!s->closing && s->host != NULL &&
        s->host->flush(s->host->engine) != MDX_OK) {
        mdx_log_warn(MOD, "partitions given up with records not stored; their next owner "
                          "reads them again from the stored offsets");
    }
    release_held(s); /* after a flush, committed() released them already */
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = find_part(s, list->elems[i].topic, list->elems[i].partition);
        if (p != NULL) {
            *p = s->parts[--s->n_parts];
        }
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    struct source_kafka *s = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL; /* of an incremental (cooperative) change; not acted on */

    atomic_fetch_add(&s->rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assign(s, list);
        if (cooperative) {
            e = rd_kafka_incremental_assign(rk, list);
        } else {
            rd_kafka_assign(rk, list);
        }
        atomic_store(&s->joined, 1);
    } else {
        revoke(s, list);
        if (cooperative) {
            e = rd_kafka_incremental_unassign(rk, list);
        } else {
            rd_kafka_assign(rk, NULL);
        }
        if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
            mdx_log_warn(MOD, "rebalance error", MDX_F_STR("error", rd_kafka_err2str(err)));
        }
    }
    if (e != NULL) {
        rd_kafka_error_destroy(e);
    }
    atomic_store(&s->n_assigned, (int64_t)s->n_parts);
}

static int set(rd_kafka_conf_t *kc, const char *k, const char *v)
{
    char err[512];

    if (rd_kafka_conf_set(kc, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        /* The value may be a secret: name the key only. */
        mdx_log_error(MOD, "invalid Kafka setting", MDX_F_STR("key", k),
                      MDX_F_STR("reason", strcmp(k, "sasl.password") == 0 ? NULL : err));
        return MDX_ECONF;
    }
    return MDX_OK;
}

static rd_kafka_conf_t *client_conf(struct source_kafka *s)
{
    const struct mdx_kafka_conf *c = s->conf;
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char num[32];
    int rc = MDX_OK;

    snprintf(num, sizeof(num), "%lld", (long long)c->max_record_bytes);
    rc |= set(kc, "fetch.message.max.bytes", num);
    snprintf(num, sizeof(num), "%lld", (long long)c->session_timeout_ms);
    rc |= set(kc, "bootstrap.servers", c->brokers);
    rc |= set(kc, "group.id", c->group);
    rc |= set(kc, "client.id", "modax-ingest");
    rc |= set(kc, "enable.auto.commit", "false");
    rc |= set(kc, "enable.auto.offset.store", "false");
    rc |= set(kc, "auto.offset.reset", "earliest");
    rc |= set(kc, "enable.partition.eof", "false");
    rc |= set(kc, "session.timeout.ms", num);
    rc |= set(kc, "security.protocol", c->security_protocol);
    if (strncmp(c->security_protocol, "sasl", 4) == 0) {
        rc |= set(kc, "sasl.mechanisms", c->sasl_mechanism);
        rc |= set(kc, "sasl.username", c->sasl_username);
        rc |= set(kc, "sasl.password", c->sasl_password != NULL ? c->sasl_password : "");
    }
    if (c->ssl_ca_file[0] != '\0') {
        rc |= set(kc, "ssl.ca.location", c->ssl_ca_file);
    }
    if (c->ssl_cert_file[0] != '\0') {
        rc |= set(kc, "ssl.certificate.location", c->ssl_cert_file);
        rc |= set(kc, "ssl.key.location", c->ssl_key_file);
    }
    if (rc != MDX_OK) {
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    rd_kafka_conf_set_opaque(kc, s);
    rd_kafka_conf_set_error_cb(kc, on_error);
    rd_kafka_conf_set_log_cb(kc, on_log);
    rd_kafka_conf_set_rebalance_cb(kc, on_rebalance);
    return kc;
}

static void kafka_destroy(void *src);

static void *kafka_create(const void *conf_arg, mdx_deliver_fn deliver, void *arg, int *err)
{
    const struct mdx_kafka_conf *conf = conf_arg;
    struct source_kafka *s = mdx_calloc(1, sizeof(*s));
    rd_kafka_conf_t *kc;
    char why[512];
    int rc = MDX_ENOMEM;

    (void)deliver;
    (void)arg;
    if (s == NULL) {
        goto fail;
    }
    s->conf = conf;
    s->cap_held = (size_t)conf->max_held_records;
    s->max_held_bytes = (size_t)conf->max_held_mb << 20;
    s->held = mdx_calloc(s->cap_held, sizeof(*s->held));
    s->topics = mdx_calloc(s->cap_held, sizeof(*s->topics));
    if (s->held == NULL || s->topics == NULL) {
        goto fail;
    }
    rc = kafka_map_init(&s->map, conf);
    if (rc != MDX_OK) {
        goto fail;
    }
    rc = MDX_ECONF;
    kc = client_conf(s);
    if (kc == NULL) {
        goto fail;
    }
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, why, sizeof(why));
    if (s->rk == NULL) {
        rd_kafka_conf_destroy(kc);
        mdx_log_error(MOD, "cannot create the Kafka consumer; check kafka.*",
                      MDX_F_STR("reason", why));
        goto fail;
    }
    rd_kafka_poll_set_consumer(s->rk);
    atomic_store(&s->lag, -1);
    return s;

fail:
    if (err != NULL) {
        *err = rc;
    }
    kafka_destroy(s);
    return NULL;
}

static int kafka_start(void *src)
{
    struct source_kafka *s = src;
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(4);
    char buf[1024];
    char *save = NULL;
    rd_kafka_resp_err_t err;

    snprintf(buf, sizeof(buf), "%s", s->conf->topics);
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        rd_kafka_topic_partition_list_add(topics, t, RD_KAFKA_PARTITION_UA);
    }
    err = rd_kafka_subscribe(s->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        mdx_log_error(MOD, "cannot subscribe; check kafka.topics",
                      MDX_F_STR("reason", rd_kafka_err2str(err)));
        return MDX_ECONF;
    }
    mdx_log_info(MOD, "subscribed", MDX_F_STR("brokers", s->conf->brokers),
                 MDX_F_STR("topics", s->conf->topics), MDX_F_STR("group", s->conf->group),
                 MDX_F_STR("mapping", s->conf->mapping));
    return MDX_OK;
}

static int kafka_ready(void *src)
{
    return atomic_load(&((struct source_kafka *)src)->joined);
}

static void kafka_attach(void *src, const struct mdx_pull_host *host)
{
    ((struct source_kafka *)src)->host = host;
}

/* Records behind the end of the log over the assigned partitions, from cached watermarks. */
static void update_lag(struct source_kafka *s)
{
    int64_t total = 0;

    for (size_t i = 0; i < s->n_parts; i++) {
        int64_t lo = 0, hi = 0, at = s->parts[i].taken_next;
        if (rd_kafka_get_watermark_offsets(s->rk, s->parts[i].topic, s->parts[i].partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            continue;
        }
        if (at < 0) {
            at = s->parts[i].stored_next >= 0 ? s->parts[i].stored_next : lo;
        }
        total += hi > at ? hi - at : 0;
    }
    atomic_store(&s->lag, total);
}

static int kafka_next(void *src, struct mdx_source_rec *rec, int wait_ms)
{
    struct source_kafka *s = src;
    rd_kafka_message_t *m;
    rd_kafka_headers_t *hdrs = NULL;
    struct kafka_hdr h[HEADERS_MAX];
    size_t nh = 0;
    struct part *p;
    char *topic;
    const char *ktopic;

    if (atomic_load(&s->stopping)) {
        return MDX_EAGAIN;
    }
    if (s->n_held >= s->cap_held || s->held_bytes >= s->max_held_bytes) {
        return MDX_EFULL;
    }
    if (mdx_due(mdx_mono_us(), &s->next_lag_us, 1000000)) {
        update_lag(s);
    }
    m = rd_kafka_consumer_poll(s->rk, wait_ms); /* rebalances run in here */
    if (m == NULL) {
        return MDX_EAGAIN;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        mdx_log_warn(MOD, "Kafka consume error", MDX_F_STR("error", rd_kafka_err2name(m->err)),
                     MDX_F_STR("reason", rd_kafka_message_errstr(m)));
        rd_kafka_message_destroy(m);
        return MDX_EAGAIN;
    }
    ktopic = rd_kafka_topic_name(m->rkt);
    p = find_part(s, ktopic, m->partition);
    if (p == NULL || (p->taken_next >= 0 && m->offset < p->taken_next)) {
        rd_kafka_message_destroy(m); /* from before a seek, or a partition given up */
        return MDX_EAGAIN;
    }
    p->taken_next = m->offset + 1;
    topic = s->topics[s->n_held];
    s->held[s->n_held++] = m;
    s->held_bytes += m->len;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *v;
        size_t len;
        while (nh < HEADERS_MAX && rd_kafka_header_get_all(hdrs, nh, &name, &v, &len) ==
                                       RD_KAFKA_RESP_ERR_NO_ERROR) {
            h[nh].name = name;
            h[nh].value = v;
            h[nh].len = len;
            nh++;
        }
    }
    memset(rec, 0, sizeof(*rec));
    rec->recv_ms = mdx_now_ms();
    rec->payload = m->payload;
    rec->len = m->len;
    rec->refusal = kafka_map_topic(&s->map, ktopic, h, nh, m->key, m->key_len, topic, TOPIC_LEN);
    if (rec->refusal != NULL) {
        snprintf(topic, TOPIC_LEN, "kafka/%.100s/%d/%lld", ktopic, (int)m->partition,
                 (long long)m->offset);
    }
    rec->topic = topic;
    return MDX_OK;
}

static size_t kafka_positions(void *src, const struct mdx_position **out)
{
    struct source_kafka *s = src;
    size_t n = 0;

    for (size_t i = 0; i < s->n_parts; i++) {
        struct part *p = &s->parts[i];
        if (p->taken_next >= 0 && p->taken_next != p->stored_next) {
            s->pos[n].owner = p->owner;
            s->pos[n].pos.segment = POS_KAFKA;
            s->pos[n].pos.offset = (uint64_t)p->taken_next;
            n++;
        }
    }
    *out = s->pos;
    return n;
}

static void kafka_committed(void *src)
{
    struct source_kafka *s = src;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->n_parts);

    for (size_t i = 0; i < s->n_parts; i++) {
        struct part *p = &s->parts[i];
        if (p->taken_next >= 0 && p->taken_next != p->stored_next) {
            p->stored_next = p->taken_next;
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
                p->taken_next;
        }
    }
    /* For lag in the Kafka tools only; our store has the offsets already. */
    if (list->cnt > 0) {
        rd_kafka_commit(s->rk, list, 1);
    }
    rd_kafka_topic_partition_list_destroy(list);
    release_held(s);
}

static void kafka_rewind(void *src)
{
    struct source_kafka *s = src;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->n_parts);
    rd_kafka_error_t *e;

    release_held(s);
    for (size_t i = 0; i < s->n_parts; i++) {
        struct part *p = &s->parts[i];
        if (p->taken_next >= 0 && p->stored_next >= 0) {
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
                p->stored_next;
        }
        p->taken_next = -1;
    }
    if (list->cnt > 0 && (e = rd_kafka_seek_partitions(s->rk, list, 5000)) != NULL) {
        mdx_log_warn(MOD, "seek back to the stored offsets failed",
                     MDX_F_STR("reason", rd_kafka_error_string(e)));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void kafka_stats(void *src, struct mdx_source_stats *out)
{
    struct source_kafka *s = src;

    out->partitions = atomic_load(&s->n_assigned);
    out->lag = atomic_load(&s->lag);
    out->rebalances = atomic_load(&s->rebalances);
}

static void kafka_stop(void *src)
{
    atomic_store(&((struct source_kafka *)src)->stopping, 1);
}

static void kafka_destroy(void *src)
{
    struct source_kafka *s = src;

    if (s == NULL) {
        return;
    }
    atomic_store(&s->stopping, 1);
    if (s->rk != NULL) {
        /* The engine has stopped: a revoke now stores nothing; the next owner reads the
           records not stored again from the stored offsets. */
        s->closing = 1;
        rd_kafka_consumer_close(s->rk);
        release_held(s);
        rd_kafka_destroy(s->rk);
    }
    mdx_free(s->held);
    mdx_free(s->topics);
    mdx_free(s->parts);
    mdx_free(s->pos);
    mdx_free(s);
}

const struct mdx_source_ops mdx_source_kafka = {
    .name = "kafka",
    .create = kafka_create,
    .start = kafka_start,
    .ready = kafka_ready,
    .publish = NULL,
    .stop = kafka_stop,
    .destroy = kafka_destroy,
    .attach = kafka_attach,
    .next = kafka_next,
    .positions = kafka_positions,
    .committed = kafka_committed,
    .rewind = kafka_rewind,
    .stats = kafka_stats,
};
