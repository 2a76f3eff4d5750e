/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_profiles_edge.c - modax-edge's connection profiles against a
 * Mosquitto configured to accept exactly each service's handshake
 * (named so, not test_edge_*, because it needs no store and so no
 * PostgreSQL twin run).
 *
 * azure-iot-hub: TLS 1.2 listener; the password file holds the user name
 * {hub}.azure-devices.net/{device}/?api-version=2021-04-12 with the SAS
 * token computed here with the back end's HMAC (not the edge core's), the
 * ACL allows the device (by client id, %c) only devices/{device}/messages/
 * events/#, devices/{device}/messages/devicebound/# and the direct-method
 * topics. Asserted: MQTT 3.1.1 CONNECT as client id m-0001 with that user
 * name, telemetry with the property bag, a direct method answered on its
 * $rid with 200/400, a cloud-to-device command answered, a wrong key
 * refused (the agent stops, no spin); the token renewed while connected,
 * and a token that expired while the agent was stopped replaced at once.
 * aws-iot: TLS 1.2 listener that requires a client certificate (CN = the
 * thing name, used as user name) and takes no retained messages
 * (retain_available false: a retained publish or Will drops the client,
 * as IoT Core does without iot:RetainPublish); the ACL follows the policy
 * `modax policy render` makes. Asserted: readings and status arrive on
 * modax/{tenant}/{thing}/..., commands on .../commands are answered.
 * ALPN: Mosquitto cannot check it, so an `openssl s_server` limited to
 * TLS 1.2 and ALPN x-amzn-mqtt-ca takes the agent's TLS handshake.
 * Device SDKs (tests/js, run with node on a capturing broker): Microsoft's
 * azure-iot-device-mqtt and Amazon's aws-iot-device-sdk-v2 (aws-crt's
 * native MQTT 3.1.1 client) do what our profiles do; their CONNECT fields,
 * subscriptions and topics are compared with ours.
 */
#include <fcntl.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/encode.h"
#include "check.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "support/support.h"

#define MAX_MSGS 512
#define WAIT_MS 20000 /* a failure bound, not a timing assertion */
#define HUB "plant-7"
#define DEVICE "m-0001"
#define USER HUB ".azure-devices.net/" DEVICE "/?api-version=2021-04-12"
#define KEY_B64 "q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE="
#define TTL 3600
/* The telemetry topic of DEVICE of tenant acme.eu for message kind LEAF (a string literal). */
#define EVENTS(leaf)                                                                               \
    "devices/" DEVICE "/messages/events/modax-tenant=acme.eu&modax-leaf=" leaf                     \
    "&$.ct=application%2Fjson&$.ce=utf-8&modax-form=cloud"

struct inbox {
    pthread_mutex_t lock;
    int n;
    char topic[MAX_MSGS][160];
    char payload[MAX_MSGS][512];
    int retain[MAX_MSGS];
};

static struct inbox box = {.lock = PTHREAD_MUTEX_INITIALIZER};
static char dir[256];

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    (void)mosq;
    (void)obj;
    pthread_mutex_lock(&box.lock);
    if (box.n < MAX_MSGS && m->payloadlen < 512) {
        snprintf(box.topic[box.n], sizeof(box.topic[0]), "%s", m->topic);
        memcpy(box.payload[box.n], m->payload, (size_t)m->payloadlen);
        box.payload[box.n][m->payloadlen] = '\0';
        box.retain[box.n] = m->retain;
        box.n++;
    }
    pthread_mutex_unlock(&box.lock);
}

/* Forgets what earlier tests' watchers received (call with none of them connected). */
static void inbox_clear(void)
{
    pthread_mutex_lock(&box.lock);
    box.n = 0;
    pthread_mutex_unlock(&box.lock);
}

/* Index of the first message from 'from' on 'topic' containing 'needle'; -1 if none by WAIT_MS. */
static int wait_message(int from, const char *topic, const char *needle)
{
    int64_t deadline = mdx_mono_us() + (int64_t)WAIT_MS * 1000;

    do {
        pthread_mutex_lock(&box.lock);
        for (int i = from; i < box.n; i++) {
            if (strcmp(box.topic[i], topic) == 0 && strstr(box.payload[i], needle) != NULL) {
                pthread_mutex_unlock(&box.lock);
                return i;
            }
        }
        pthread_mutex_unlock(&box.lock);
        mdx_sleep_ms(10);
    } while (mdx_mono_us() < deadline);
    return -1;
}

static int count_prefix(const char *prefix)
{
    int n = 0;

    pthread_mutex_lock(&box.lock);
    for (int i = 0; i < box.n; i++) {
        n += strncmp(box.topic[i], prefix, strlen(prefix)) == 0;
    }
    pthread_mutex_unlock(&box.lock);
    return n;
}

/* Runs argv (a program on PATH) quietly; its exit status, or -1. */
static int run(char *const argv[])
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *name, const char *text)
{
    char path[400];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* Runs openssl with 'args' in the test folder (file names relative to it). */
static void openssl(const char *args)
{
    char line[600], *argv[32], *save = NULL;
    int n = 0;

    snprintf(line, sizeof(line), "%s", args);
    argv[n++] = "openssl";
    for (char *t = strtok_r(line, " ", &save); t != NULL && n < 31;
         t = strtok_r(NULL, " ", &save)) {
        argv[n++] = t;
    }
    argv[n] = NULL;
    CHECK_EQ_INT(run(argv), 0);
}

/*
 * A CA, the broker's certificate for 127.0.0.1 and client certificates
 * CN=m-0001, CN=m-0002 (another device) and CN=watcher.
 */
static void make_certificates(void)
{
    static const char *const clients[] = {DEVICE, "m-0002", "watcher"};
    char cwd[1024], a[600];

    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_EQ_INT(chdir(dir), 0);
    openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
            "-subj /CN=test-ca -keyout ca.key -out ca.crt");
    write_file("san.ext", "subjectAltName=IP:127.0.0.1\n");
    openssl("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
            "-keyout server.key -out server.csr");
    openssl("x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
            "-extfile san.ext -out server.crt");
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        snprintf(a, sizeof(a),
                 "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=%s "
                 "-keyout %s.key -out %s.csr",
                 clients[i], clients[i], clients[i]);
        openssl(a);
        snprintf(a, sizeof(a),
                 "x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
                 "-out %s.crt",
                 clients[i], clients[i]);
        openssl(a);
    }
    CHECK_EQ_INT(chdir(cwd), 0);
}

static int file_has(const char *name, const char *needle);

/* Starts Mosquitto with one TLS listener on 'port', 'conf' applying to it; its pid, or -1. */
static pid_t broker(int port, const char *name, const char *conf)
{
    char path[400], log[400], text[4096];
    pid_t pid;

    snprintf(text, sizeof(text),
             "persistence false\nlog_dest stderr\nlog_type all\nallow_anonymous false\n"
             "%s"
             "listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/server.crt\n"
             "keyfile %s/server.key\ntls_version tlsv1.2\n%s",
             geteuid() == 0 ? "user root\n" : "", port, dir, dir, dir, conf);
    snprintf(path, sizeof(path), "%s.conf", name);
    write_file(path, text);
    snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("mosquitto", "mosquitto", "-c", path, (char *)NULL);
        _exit(127);
    }
    snprintf(path, sizeof(path), "%s.log", name);
    CHECK_WAIT(file_has(path, " running"), WAIT_MS);
    return pid;
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* Non-zero once the file 'name' in the test folder contains 'needle'. */
static int file_has(const char *name, const char *needle)
{
    char path[400];
    static char text[1 << 20];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

/* A TLS client of the broker on 'port' that records what it receives. */
static struct mosquitto *watcher(int port, const char *user, const char *pass, int cert)
{
    char ca[400], crt[400], key[400];
    struct mosquitto *c = mosquitto_new("watcher", true, NULL);
    int rc = MOSQ_ERR_UNKNOWN;

    CHECK(c != NULL);
    if (c == NULL) {
        return NULL;
    }
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    snprintf(crt, sizeof(crt), "%s/watcher.crt", dir);
    snprintf(key, sizeof(key), "%s/watcher.key", dir);
    mosquitto_message_callback_set(c, on_message);
    CHECK_EQ_INT(mosquitto_tls_set(c, ca, NULL, cert ? crt : NULL, cert ? key : NULL, NULL),
                 MOSQ_ERR_SUCCESS);
    if (user != NULL) {
        mosquitto_username_pw_set(c, user, pass);
    }
    for (int i = 0; i < 100 && rc != MOSQ_ERR_SUCCESS; i++) {
        rc = mosquitto_connect(c, "127.0.0.1", port, 30); /* the broker may still be starting */
        if (rc != MOSQ_ERR_SUCCESS) {
            mdx_sleep_ms(50);
        }
    }
    CHECK_EQ_INT(rc, MOSQ_ERR_SUCCESS);
    CHECK_EQ_INT(mosquitto_loop_start(c), MOSQ_ERR_SUCCESS);
    return c;
}

static pid_t edge_spawn(const char *log_name, char *const args[])
{
    const char *bin = getenv("MODAX_BIN_DIR");
    char exe[700], log[400];
    char *argv[64];
    int n = 0;
    pid_t pid;

    snprintf(exe, sizeof(exe), "%s/edge/modax-edge", bin != NULL ? bin : ".");
    snprintf(log, sizeof(log), "%s/%s", dir, log_name);
    argv[n++] = exe;
    for (int i = 0; args[i] != NULL && n < 63; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

/* Exit status of 'pid' once it ended within WAIT_MS, else -1 (then killed). */
static int wait_exit(pid_t pid)
{
    int status = 0;

    for (int i = 0; i < WAIT_MS / 10; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        mdx_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* "%2F" for '/', and so on, for the few characters of a SAS token. */
static void percent(const char *s, char *out, size_t cap)
{
    size_t o = 0;

    for (; *s != '\0' && o + 4 < cap; s++) {
        if (*s == '/' || *s == '+' || *s == '=') {
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", (unsigned char)*s);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

/*
 * The SAS token that device 'device' with base64 key 'key_b64' will present
 * at Unix second 'now' (its expiry is rounded up to a whole lifetime:
 * (now / TTL + 2) * TTL), made with the back end's HMAC and base64,
 * independent of the edge core.
 */
static void device_token(int64_t now, const char *device, const char *key_b64, char *out,
                         size_t cap)
{
    int64_t expiry = (now / TTL + 2) * TTL;
    unsigned char *key = NULL, mac[32];
    size_t key_len = 0;
    char to_sign[256], sig_enc[128];
    char *sig;

    CHECK_EQ_INT(mdx_base64_decode(key_b64, &key, &key_len), 0);
    snprintf(to_sign, sizeof(to_sign), "%s.azure-devices.net%%2Fdevices%%2F%s\n%lld", HUB, device,
             (long long)expiry);
    CHECK_EQ_INT(mdx_hmac_sha256(key, key_len, to_sign, strlen(to_sign), mac), 0);
    sig = mdx_base64_encode(mac, sizeof(mac));
    CHECK(sig != NULL);
    percent(sig != NULL ? sig : "", sig_enc, sizeof(sig_enc));
    snprintf(out, cap,
             "SharedAccessSignature sr=%s.azure-devices.net%%2Fdevices%%2F%s&sig=%s&se=%lld",
             HUB, device, sig_enc, (long long)expiry);
    mdx_free(sig);
    mdx_free(key);
}

/* The SAS token of DEVICE with KEY_B64 at Unix second 'now'. */
static void expected_token(int64_t now, char *out, size_t cap)
{
    device_token(now, DEVICE, KEY_B64, out, cap);
}

static void azure_iot_hub_handshake_telemetry_methods(void)
{
    char port[16], cafile[400], keyfile[400], passwd[400], token[400], wrong[400];
    struct mosquitto *w;
    pid_t br, edge;
    int port_n = free_port(), i, mid = 0;
    static const char acl[] =
        "user watcher\n"
        "topic read devices/#\n"
        "topic read $iothub/#\n"
        "topic write $iothub/methods/POST/#\n"
        "topic write devices/+/messages/devicebound/#\n"
        "\n"
        "pattern write devices/%c/messages/events/#\n"
        "pattern read devices/%c/messages/devicebound/#\n"
        "pattern read $iothub/methods/POST/#\n"
        "pattern write $iothub/methods/res/#\n";

    tmp_make(dir, sizeof(dir), "edge-azure");
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(keyfile, sizeof(keyfile), "%s/device.key", dir);
    snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
    write_file("device.key", KEY_B64 "\n");
    write_file("acl", acl);
    /* Away from a period boundary, so the agent makes the token computed here. */
    WAIT_UNTIL(TTL - time(NULL) % TTL > 60, (TTL / 60 + 2) * 1000);
    expected_token((int64_t)time(NULL), token, sizeof(token));
    {
        char *argv[] = {"mosquitto_passwd", "-c", "-b", passwd, USER, token, NULL};
        char *argw[] = {"mosquitto_passwd", "-b", passwd, "watcher", "watcher-secret", NULL};

        CHECK_EQ_INT(run(argv), 0);
        CHECK_EQ_INT(run(argw), 0);
    }
    {
        char conf[1024];

        snprintf(conf, sizeof(conf), "password_file %s\nacl_file %s/acl\n", passwd, dir);
        br = broker(port_n, "azure", conf);
    }
    CHECK(br > 0);
    w = watcher(port_n, "watcher", "watcher-secret", 0);
    CHECK_EQ_INT(mosquitto_subscribe(w, NULL, "devices/#", 1), MOSQ_ERR_SUCCESS);
    CHECK_EQ_INT(mosquitto_subscribe(w, NULL, "$iothub/#", 1), MOSQ_ERR_SUCCESS);
    CHECK_WAIT(file_has("azure.log", "watcher"), WAIT_MS);

    {
        char *args[] = {"--profile", "azure-iot-hub", "--hub", HUB, "--device-key-file", keyfile,
                        "--cafile", cafile, "--port", port, "--tenant", "acme.eu", "--machines",
                        "1", "--rate", "5", "--duration", "60", NULL};

        edge = edge_spawn("edge-azure.log", args);
    }
    CHECK(edge > 0);
    /* The CONNECT: MQTT 3.1.1 (p2), client id m-0001, the hub's user name. */
    CHECK_WAIT(file_has("azure.log", "as " DEVICE " (p2, c0, k30, u'" USER "')"), WAIT_MS);
    i = wait_message(0, EVENTS("sensor_data"),
                     "\"device_id\":\"" DEVICE "\"");
    CHECK(i >= 0);
    CHECK(wait_message(0, EVENTS("status"),
                       "online") >= 0);
    CHECK(wait_message(0, EVENTS("safety"),
                       "\"emergency_stop\":false") >= 0);

    /* A direct method, applied: 200 on its $rid. */
    {
        static const char cmd[] = "{\"command_id\":51,\"name\":\"speed_pct\",\"value\":70}";
        static const char bad[] = "{\"command_id\":52,\"name\":\"speed_pct\",\"value\":170}";
        static const char norid[] = "{\"command_id\":53,\"name\":\"speed_pct\",\"value\":10}";
        static const char c2d[] = "{\"command_id\":54,\"name\":\"speed_pct\",\"value\":20}";

        CHECK_EQ_INT(mosquitto_publish(w, &mid, "$iothub/methods/POST/command/?$rid=rq1",
                                       (int)strlen(cmd), cmd, 1, false),
                     MOSQ_ERR_SUCCESS);
        i = wait_message(0, "$iothub/methods/res/200/?$rid=rq1", "\"command_id\":51");
        CHECK(i >= 0 && strstr(box.payload[i], "\"status\":\"ok\"") != NULL);
        /* Out of range: 400 with the reason. */
        CHECK_EQ_INT(mosquitto_publish(w, &mid, "$iothub/methods/POST/command/?$rid=rq2",
                                       (int)strlen(bad), bad, 1, false),
                     MOSQ_ERR_SUCCESS);
        i = wait_message(0, "$iothub/methods/res/400/?$rid=rq2", "\"command_id\":52");
        CHECK(i >= 0 && strstr(box.payload[i], "rejected") != NULL);
        /* No $rid: no answer; the next method still answered, and only it. */
        CHECK_EQ_INT(mosquitto_publish(w, &mid, "$iothub/methods/POST/command/",
                                       (int)strlen(norid), norid, 1, false),
                     MOSQ_ERR_SUCCESS);
        CHECK_EQ_INT(mosquitto_publish(w, &mid, "devices/" DEVICE "/messages/devicebound/%24.mid=9",
                                       (int)strlen(c2d), c2d, 1, false),
                     MOSQ_ERR_SUCCESS);
        i = wait_message(0,
                         EVENTS("command_ack"),
                         "\"command_id\":54");
        CHECK(i >= 0 && strstr(box.payload[i], "\"status\":\"ok\"") != NULL);
        CHECK_EQ_INT(count_prefix("$iothub/methods/res/"), 2);
    }
    /* Nothing outside the hub's topics, nothing retained. */
    CHECK_EQ_INT(count_prefix("modax/"), 0);
    pthread_mutex_lock(&box.lock);
    for (i = 0; i < box.n; i++) {
        CHECK(!box.retain[i]);
    }
    pthread_mutex_unlock(&box.lock);
    CHECK(!file_has("azure.log", "Denied"));
    CHECK_EQ_INT(kill(edge, SIGTERM), 0);
    CHECK_EQ_INT(wait_exit(edge), 0);
    CHECK(file_has("edge-azure.log", "commands=4 applied=2 rejected=1 ignored=1"));
    CHECK(!file_has("edge-azure.log", "SharedAccessSignature")); /* secrets never logged */

    /* A wrong key: the broker refuses (not authorised), the agent stops instead of spinning. */
    write_file("wrong.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    snprintf(wrong, sizeof(wrong), "%s/wrong.key", dir);
    {
        char *args[] = {"--profile", "azure-iot-hub", "--hub", HUB, "--device-key-file", wrong,
                        "--cafile", cafile, "--port", port, "--machines", "1", "--duration", "60",
                        NULL};

        edge = edge_spawn("edge-wrong.log", args);
    }
    CHECK_EQ_INT(wait_exit(edge), 1);
    CHECK(file_has("edge-wrong.log", "refused the connection of " DEVICE));

    mosquitto_disconnect(w);
    mosquitto_loop_stop(w, false);
    mosquitto_destroy(w);
    stop(br);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir); /* kept for a look when something failed */
    }
}

static void aws_iot_certificate_thing_topics_no_retain(void)
{
    char port[16], cafile[400], cert[400], key[400];
    struct mosquitto *w;
    pid_t br, edge;
    int port_n = free_port(), i, mid = 0;
    static const char acl[] =
        "user watcher\n"
        "topic read modax/#\n"
        "topic write modax/+/+/commands\n"
        "\n"
        /* the rendered policy: publish on four leaves, receive commands, as the thing */
        "pattern write modax/acme/%c/sensor_data\n"
        "pattern write modax/acme/%c/safety\n"
        "pattern write modax/acme/%c/status\n"
        "pattern write modax/acme/%c/command_ack\n"
        "pattern read modax/acme/%u/commands\n";

    tmp_make(dir, sizeof(dir), "edge-aws");
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(cert, sizeof(cert), "%s/" DEVICE ".crt", dir);
    snprintf(key, sizeof(key), "%s/" DEVICE ".key", dir);
    write_file("acl", acl);
    {
        char conf[1024];

        snprintf(conf, sizeof(conf),
                 "acl_file %s/acl\nretain_available false\nrequire_certificate true\n"
                 "use_identity_as_username true\n",
                 dir);
        br = broker(port_n, "aws", conf);
    }
    CHECK(br > 0);
    w = watcher(port_n, NULL, NULL, 1);
    CHECK_EQ_INT(mosquitto_subscribe(w, NULL, "modax/#", 1), MOSQ_ERR_SUCCESS);
    CHECK_WAIT(file_has("aws.log", "watcher"), WAIT_MS);
    {
        char *args[] = {"--profile", "aws-iot", "--cafile", cafile, "--cert", cert, "--key", key,
                        "--port", port, "--tenant", "acme", "--machines", "1", "--rate", "5",
                        "--duration", "60", NULL};

        edge = edge_spawn("edge-aws.log", args);
    }
    CHECK(edge > 0);
    CHECK_WAIT(file_has("aws.log", "as " DEVICE " (p2, c0, k30, u'" DEVICE "')"), WAIT_MS);
    CHECK(wait_message(0, "modax/acme/" DEVICE "/sensor_data", "\"device_id\":\"" DEVICE "\"") >=
          0);
    CHECK(wait_message(0, "modax/acme/" DEVICE "/status", "online") >= 0);
    {
        static const char cmd[] = "{\"command_id\":61,\"name\":\"speed_pct\",\"value\":30}";

        CHECK_EQ_INT(mosquitto_publish(w, &mid, "modax/acme/" DEVICE "/commands",
                                       (int)strlen(cmd), cmd, 1, false),
                     MOSQ_ERR_SUCCESS);
        i = wait_message(0, "modax/acme/" DEVICE "/command_ack", "\"command_id\":61");
        CHECK(i >= 0 && strstr(box.payload[i], "\"status\":\"ok\"") != NULL);
    }
    CHECK_EQ_INT(kill(edge, SIGTERM), 0);
    CHECK_EQ_INT(wait_exit(edge), 0);
    /* The offline status went out (not retained: the broker kept the client until the end). */
    CHECK(wait_message(0, "modax/acme/" DEVICE "/status", "offline") >= 0);
    CHECK(!file_has("aws.log", "Denied"));
    CHECK(!file_has("aws.log", "retain"));
    CHECK(file_has("edge-aws.log", "commands=1 applied=1"));

    /* The broker holds the rule: a retained Will (--retain-granted) is not let in. */
    {
        char *args[] = {"--profile", "aws-iot", "--cafile", cafile, "--cert", cert, "--key", key,
                        "--port", port, "--tenant", "acme", "--machines", "1", "--count", "5",
                        "--duration", "2", "--retain-granted", NULL};

        edge = edge_spawn("edge-retain.log", args);
    }
    CHECK_EQ_INT(wait_exit(edge), 1);
    CHECK(file_has("edge-retain.log", "published=0 "));
    CHECK(file_has("aws.log", "retain not supported"));

    mosquitto_disconnect(w);
    mosquitto_loop_stop(w, false);
    mosquitto_destroy(w);
    stop(br);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir); /* kept for a look when something failed */
    }
}

/*
 * ALPN cannot be checked by Mosquitto: an `openssl s_server` that speaks
 * only TLS 1.2 and accepts only x-amzn-mqtt-ca takes the agent's TLS
 * handshake (the agent offers the profile's ALPN on port 443, or --alpn).
 */
static void aws_iot_alpn_and_tls12(void)
{
    char port[16], cafile[400], cert[400], key[400], log[400], accept[64];
    int port_n = free_port(), fds[2];
    pid_t srv, edge;

    tmp_make(dir, sizeof(dir), "edge-alpn");
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(accept, sizeof(accept), "127.0.0.1:%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(cert, sizeof(cert), "%s/" DEVICE ".crt", dir);
    snprintf(key, sizeof(key), "%s/" DEVICE ".key", dir);
    snprintf(log, sizeof(log), "%s/s_server.log", dir);
    CHECK_EQ_INT(pipe(fds), 0);
    srv = fork();
    if (srv == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char crt[400], k[400];

        snprintf(crt, sizeof(crt), "%s/server.crt", dir);
        snprintf(k, sizeof(k), "%s/server.key", dir);
        dup2(fds[0], 0); /* stdin stays open: s_server ends at its EOF */
        close(fds[1]);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("openssl", "openssl", "s_server", "-accept", accept, "-naccept", "1", "-tls1_2",
               "-cert", crt, "-key", k, "-CAfile", cafile, "-Verify", "1", "-alpn",
               "x-amzn-mqtt-ca", (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    CHECK_WAIT(file_has("s_server.log", "ACCEPT"), WAIT_MS);
    {
        char *args[] = {"--profile", "aws-iot", "--cafile", cafile, "--cert", cert, "--key", key,
                        "--port", port, "--alpn", "x-amzn-mqtt-ca", "--machines", "1",
                        "--duration", "60", NULL};

        edge = edge_spawn("edge-alpn.log", args);
    }
    CHECK_WAIT(file_has("s_server.log", "ALPN protocols selected: x-amzn-mqtt-ca"), WAIT_MS);
    CHECK(file_has("s_server.log", "ALPN protocols advertised by the client: x-amzn-mqtt-ca"));
    CHECK_WAIT(file_has("s_server.log", "CIPHER is ECDHE-"), WAIT_MS); /* a TLS 1.2 suite */
    CHECK(file_has("s_server.log", "CN = " DEVICE)); /* the device certificate was presented */
    kill(edge, SIGTERM);
    wait_exit(edge);
    close(fds[1]);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir);
    }
}

/* The text of the file 'name' of the test folder from byte 'from' on, in a static buffer. */
static const char *log_from(const char *name, long from)
{
    static char text[1 << 20];
    char path[400];
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fseek(f, from, SEEK_SET) == 0) {
            n = fread(text, 1, sizeof(text) - 1, f);
        }
        fclose(f);
    }
    text[n] = '\0';
    return text;
}

static long file_size(const char *name)
{
    char path[400];
    long n = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "r");
    if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
        n = ftell(f);
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

/* What one client did, read from a Mosquitto log with log_type all. */
struct seen {
    char proto[8];           /* "p2": MQTT 3.1.1 */
    char user[300];
    int nsubs;
    char subs[4][160];       /* topic filters, in order */
    char events[300];        /* the first telemetry topic */
    char method_res[300];    /* the first direct-method answer topic */
};

/* Fills 's' from the log text 't' for client DEVICE. */
static void parse_log(const char *t, struct seen *s)
{
    const char *p;

    memset(s, 0, sizeof(*s));
    p = strstr(t, "as " DEVICE " (");
    if (p != NULL) {
        const char *u = strstr(p, "u'");

        sscanf(p, "as " DEVICE " (%7[^,]", s->proto);
        if (u != NULL) {
            sscanf(u + 2, "%299[^']", s->user);
        }
    }
    /* "TS: \tFILTER (QoS N)" lines follow each "Received SUBSCRIBE from DEVICE" */
    for (p = t; (p = strstr(p, ": \t")) != NULL && s->nsubs < 4; p++) {
        if (sscanf(p + 3, "%159s", s->subs[s->nsubs]) == 1 &&
            strncmp(p + 3 + strlen(s->subs[s->nsubs]), " (QoS ", 6) == 0) {
            s->nsubs++;
        }
    }
    p = strstr(t, "Received PUBLISH from " DEVICE " (");
    for (; p != NULL; p = strstr(p + 1, "Received PUBLISH from " DEVICE " (")) {
        const char *q = strchr(p, '\'');
        char topic[300] = "";

        if (q == NULL || sscanf(q + 1, "%299[^']", topic) != 1) {
            continue;
        }
        if (s->events[0] == '\0' && strstr(topic, "modax-leaf=sensor_data") != NULL) {
            snprintf(s->events, sizeof(s->events), "%s", topic);
        }
        if (s->method_res[0] == '\0' && strncmp(topic, "$iothub/methods/res/", 20) == 0) {
            snprintf(s->method_res, sizeof(s->method_res), "%s", topic);
        }
    }
}

/* 's' with "%24" (the SDK's encoding of '$' in "$.ct") decoded, into 'out'. */
static void dollar_decoded(const char *s, char *out, size_t cap)
{
    size_t o = 0;

    for (; *s != '\0' && o + 1 < cap; s++) {
        if (strncmp(s, "%24", 3) == 0) {
            out[o++] = '$';
            s += 2;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

/*
 * Non-zero when the property bags after "messages/events/" of 'a' and 'b'
 * hold the same pairs, in any order, '$' encoded or not.
 */
static int same_bag(const char *a, const char *b)
{
    const char *ba = strstr(a, "/messages/events/"), *bb = strstr(b, "/messages/events/");
    char x[300], y[300], *save = NULL;
    int n = 0, m = 0;

    if (ba == NULL || bb == NULL || (size_t)(ba - a) != (size_t)(bb - b) ||
        strncmp(a, b, (size_t)(ba - a)) != 0) {
        return 0;
    }
    dollar_decoded(ba + 17, x, sizeof(x));
    y[0] = '&';
    dollar_decoded(bb + 17, y + 1, sizeof(y) - 2);
    strcat(y, "&");
    for (char *t = strtok_r(x, "&", &save); t != NULL; t = strtok_r(NULL, "&", &save)) {
        char pair[300];

        snprintf(pair, sizeof(pair), "&%s&", t);
        n++;
        if (strstr(y, pair) == NULL) {
            return 0;
        }
    }
    for (const char *c = y + 1; *c != '\0'; c++) {
        m += *c == '&';
    }
    return n == m; /* y is "&p1&p2&...&pm&": m pairs */
}

/*
 * Microsoft's device SDK (azure-iot-device-mqtt, from tests/js) and
 * modax-edge against one capturing Mosquitto (anonymous, log_type all):
 * the same protocol, client id, user name (the SDK appends its optional
 * &DeviceClientType=...), subscriptions, telemetry topic (the same
 * property pairs) and direct-method answer topic.
 */
static void azure_iot_hub_matches_the_device_sdk(void)
{
    char port[16], cafile[400], keyfile[400], script[700], cs[400], gw[64];
    struct seen ours, sdk;
    struct mosquitto *w;
    pid_t br, edge, node;
    int port_n = free_port(), mid = 0, status = -1;
    long mark;
    static const char cmd[] = "{\"command_id\":1,\"name\":\"speed_pct\",\"value\":50}";
    const char *src = getenv("MODAX_SOURCE_DIR");

    tmp_make(dir, sizeof(dir), "edge-sdk");
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(keyfile, sizeof(keyfile), "%s/device.key", dir);
    snprintf(script, sizeof(script), "%s/tests/js/azure_device_sdk.mjs", src != NULL ? src : ".");
    write_file("device.key", KEY_B64 "\n");
    br = broker(port_n, "capture", "allow_anonymous true\n");
    CHECK(br > 0);
    w = watcher(port_n, NULL, NULL, 0);
    CHECK_WAIT(file_has("capture.log", "as watcher"), WAIT_MS);

    /* modax-edge: connect, subscribe, one reading, one method answered. */
    mark = file_size("capture.log");
    {
        char *args[] = {"--profile", "azure-iot-hub", "--hub", HUB, "--device-key-file", keyfile,
                        "--cafile", cafile, "--port", port, "--tenant", "acme.eu", "--machines",
                        "1", "--rate", "5", "--duration", "60", NULL};

        edge = edge_spawn("edge-sdk-ours.log", args);
    }
    CHECK_WAIT(strstr(log_from("capture.log", mark), "modax-leaf=sensor_data") != NULL, WAIT_MS);
    CHECK_EQ_INT(mosquitto_publish(w, &mid, "$iothub/methods/POST/command/?$rid=r1",
                                   (int)strlen(cmd), cmd, 1, false),
                 MOSQ_ERR_SUCCESS);
    CHECK_WAIT(strstr(log_from("capture.log", mark), "$iothub/methods/res/") != NULL, WAIT_MS);
    kill(edge, SIGTERM);
    CHECK_EQ_INT(wait_exit(edge), 0);
    parse_log(log_from("capture.log", mark), &ours);

    /* The SDK: the same device, hub and key. */
    mark = file_size("capture.log");
    snprintf(gw, sizeof(gw), "127.0.0.1:%d", port_n);
    snprintf(cs, sizeof(cs), "HostName=%s.azure-devices.net;DeviceId=%s;SharedAccessKey=%s;"
             "GatewayHostName=%s", HUB, DEVICE, KEY_B64, gw);
    {
        char *args[] = {"node", script, cs, cafile, NULL};
        char log[400];

        snprintf(log, sizeof(log), "%s/sdk.log", dir);
        node = fork();
        if (node == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execvp("node", args);
            _exit(127);
        }
    }
    CHECK_WAIT(file_has("sdk.log", "sent"), WAIT_MS);
    CHECK_EQ_INT(mosquitto_publish(w, &mid, "$iothub/methods/POST/command/?$rid=r1",
                                   (int)strlen(cmd), cmd, 1, false),
                 MOSQ_ERR_SUCCESS);
    status = wait_exit(node);
    CHECK_EQ_INT(status, 0);
    parse_log(log_from("capture.log", mark), &sdk);

    CHECK_STR(ours.proto, "p2");
    CHECK_STR(sdk.proto, ours.proto);
    CHECK_STR(ours.user, USER);
    CHECK(strncmp(sdk.user, ours.user, strlen(ours.user)) == 0 &&
          strncmp(sdk.user + strlen(ours.user), "&DeviceClientType=", 18) == 0);
    CHECK_EQ_INT(ours.nsubs, 2);
    CHECK_EQ_INT(sdk.nsubs, 2);
    for (int i = 0; i < ours.nsubs; i++) {
        int found = 0;

        for (int k = 0; k < sdk.nsubs; k++) {
            found |= strcmp(ours.subs[i], sdk.subs[k]) == 0;
        }
        if (!found) {
            fprintf(stderr, "  subscription %s: not the SDK's\n", ours.subs[i]);
        }
        CHECK(found);
    }
    CHECK(ours.events[0] != '\0');
    if (!same_bag(ours.events, sdk.events)) {
        fprintf(stderr, "  ours: %s\n  SDK:  %s\n", ours.events, sdk.events);
    }
    CHECK(same_bag(ours.events, sdk.events));
    CHECK_STR(ours.method_res, "$iothub/methods/res/200/?$rid=r1");
    CHECK_STR(sdk.method_res, ours.method_res);

    mosquitto_disconnect(w);
    mosquitto_loop_stop(w, false);
    mosquitto_destroy(w);
    stop(br);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir);
    }
}

/* What one client of the aws-iot profile did, read from a Mosquitto log with log_type all. */
struct aws_seen {
    char proto[8];      /* "p2": MQTT 3.1.1 */
    char clean[4];      /* "c0": a persistent session, "c1": a clean one */
    char user[300];     /* "" when none was sent */
    int has_user;
    char subs[4][160];  /* topic filters with their QoS: "FILTER (QoS N)" */
    int nsubs;
    char reading[300];  /* the first sensor_data PUBLISH: "(d0, q1, r0, ... 'TOPIC'" flags */
};

/* Fills 's' from the log text 't' for client DEVICE of tenant acme. */
static void parse_aws_log(const char *t, struct aws_seen *s)
{
    const char *p;

    memset(s, 0, sizeof(*s));
    p = strstr(t, "as " DEVICE " (");
    if (p != NULL) {
        const char *end = strchr(p, '\n');
        const char *u = strstr(p, "u'");

        sscanf(p, "as " DEVICE " (%7[^,], %3[^,]", s->proto, s->clean);
        if (u != NULL && (end == NULL || u < end)) {
            s->has_user = 1;
            sscanf(u + 2, "%299[^']", s->user);
        }
    }
    for (p = t; (p = strstr(p, ": \t")) != NULL && s->nsubs < 4; p++) {
        if (sscanf(p + 3, "%159[^\n]", s->subs[s->nsubs]) == 1 &&
            strstr(s->subs[s->nsubs], " (QoS ") != NULL) {
            s->nsubs++;
        }
    }
    p = strstr(t, "Received PUBLISH from " DEVICE " (");
    for (; p != NULL; p = strstr(p + 1, "Received PUBLISH from " DEVICE " (")) {
        const char *q = strstr(p, "/sensor_data'");
        const char *end = strchr(p, '\n');
        const char *f = strchr(p, '(');
        const char *m = strstr(p, ", m");

        if (q == NULL || (end != NULL && q > end) || f == NULL || m == NULL) {
            continue;
        }
        /* the flags without the message id, then the topic: "(d0, q1, r0) 'TOPIC'" */
        snprintf(s->reading, sizeof(s->reading), "%.*s) %.*s", (int)(m - f), f,
                 (int)(q + 13 - strchr(m, '\'')), strchr(m, '\''));
        break;
    }
}

/*
 * Amazon's device SDK (aws-iot-device-sdk-v2 on aws-crt, from tests/js, its
 * mqtt311 client as our profile speaks 3.1.1) and modax-edge's aws-iot
 * profile against one capturing Mosquitto (TLS 1.2 requiring a client
 * certificate, log_type all), both with the device certificate of thing
 * m-0001: the same protocol, client id and session kind (persistent), the
 * same subscription (filter and QoS), and the reading published on the
 * same topic with the same QoS and retain flag. What differs, on purpose:
 * the SDK sends its metrics as user name ("?SDK=IoTDeviceSDK/JS&Platform=
 * ...&Metadata=(...)"), which IoT Core ignores for certificate
 * authentication; ours sends none. The SDK also offers ALPN x-amzn-mqtt-ca
 * on 8883 (ours only on 443 or with --alpn; Mosquitto ignores it). Keep-alive
 * (SDK 1200 s, ours 30 s) and the Will (ours: status "offline", not
 * retained; the SDK: none unless asked) are settings, not the dialect.
 */
static void aws_iot_matches_the_device_sdk(void)
{
    char port[16], cafile[400], cert[400], key[400], script[700];
    struct aws_seen ours, sdk;
    pid_t br, edge, node;
    int port_n = free_port();
    long mark;
    const char *src = getenv("MODAX_SOURCE_DIR");

    tmp_make(dir, sizeof(dir), "edge-aws-sdk");
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(cert, sizeof(cert), "%s/" DEVICE ".crt", dir);
    snprintf(key, sizeof(key), "%s/" DEVICE ".key", dir);
    snprintf(script, sizeof(script), "%s/tests/js/aws_device_sdk.mjs", src != NULL ? src : ".");
    br = broker(port_n, "capture", "allow_anonymous true\nrequire_certificate true\n");
    CHECK(br > 0);

    /* modax-edge: connect, subscribe, readings. */
    mark = file_size("capture.log");
    {
        char *args[] = {"--profile", "aws-iot", "--cafile", cafile, "--cert", cert, "--key", key,
                        "--port", port, "--tenant", "acme", "--machines", "1", "--rate", "5",
                        "--duration", "60", NULL};

        edge = edge_spawn("edge-sdk-ours.log", args);
    }
    CHECK_WAIT(strstr(log_from("capture.log", mark), "/sensor_data'") != NULL, WAIT_MS);
    kill(edge, SIGTERM);
    CHECK_EQ_INT(wait_exit(edge), 0);
    parse_aws_log(log_from("capture.log", mark), &ours);

    /* The SDK: the same thing and certificate. */
    mark = file_size("capture.log");
    {
        char *args[] = {"node", script, "127.0.0.1", port, cafile, cert, key, "acme", DEVICE, NULL};
        char log[400];

        snprintf(log, sizeof(log), "%s/sdk.log", dir);
        node = fork();
        if (node == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execvp("node", args);
            _exit(127);
        }
    }
    CHECK_EQ_INT(wait_exit(node), 0);
    CHECK(file_has("sdk.log", "done"));
    parse_aws_log(log_from("capture.log", mark), &sdk);

    fprintf(stderr, "  ours: %s user %s; subs %s; reading %s\n", ours.proto,
            ours.has_user ? ours.user : "(none)", ours.subs[0], ours.reading);
    fprintf(stderr, "  SDK:  %s user %s; subs %s; reading %s\n", sdk.proto,
            sdk.has_user ? sdk.user : "(none)", sdk.subs[0], sdk.reading);
    CHECK_STR(ours.proto, "p2");
    CHECK_STR(sdk.proto, ours.proto);
    CHECK_STR(ours.clean, "c0"); /* both keep the session (the SDK's default) */
    CHECK_STR(sdk.clean, ours.clean);
    /* The SDK's user name is its metrics only; ours carries nothing in its place. */
    CHECK(!ours.has_user);
    CHECK(sdk.has_user && strncmp(sdk.user, "?SDK=", 5) == 0);
    CHECK_EQ_INT(ours.nsubs, 1);
    CHECK_EQ_INT(sdk.nsubs, ours.nsubs);
    CHECK_STR(ours.subs[0], "modax/acme/" DEVICE "/commands (QoS 1)");
    CHECK_STR(sdk.subs[0], ours.subs[0]);
    CHECK_STR(ours.reading, "(d0, q1, r0) 'modax/acme/" DEVICE "/sensor_data'");
    CHECK_STR(sdk.reading, ours.reading);

    stop(br);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir);
    }
}

/*
 * A SAS token is renewed while connected: with a 10 s lifetime the agent
 * ends its session a fifth of a lifetime before the token expires and
 * connects again (with a new token), and readings go on. A capturing
 * broker, since the token changes every period.
 */
static void azure_iot_hub_renews_the_token(void)
{
    char port[16], cafile[400], keyfile[400];
    const char *t;
    pid_t br, edge;
    int port_n = free_port();

    tmp_make(dir, sizeof(dir), "edge-renew");
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(keyfile, sizeof(keyfile), "%s/device.key", dir);
    write_file("device.key", KEY_B64 "\n");
    br = broker(port_n, "capture", "allow_anonymous true\n");
    CHECK(br > 0);
    {
        char *args[] = {"--profile", "azure-iot-hub", "--hub", HUB, "--device-key-file", keyfile,
                        "--sas-ttl", "10", "--cafile", cafile, "--port", port, "--machines", "1",
                        "--rate", "5", "--duration", "60", NULL};

        edge = edge_spawn("edge-renew.log", args);
    }
    /* The first token lives 10-20 s, renewed 2 s before it expires. */
    CHECK_WAIT(file_has("edge-renew.log", "renewing the session's credentials"), 30000);
    /* ... and the agent connects again, right after */
    CHECK_WAIT((t = strstr(log_from("capture.log", 0), "as " DEVICE " (")) != NULL &&
                   strstr(t + 1, "as " DEVICE " (") != NULL,
               WAIT_MS);
    {
        long mark = file_size("capture.log");

        CHECK_WAIT(strstr(log_from("capture.log", mark), "modax-leaf=sensor_data") != NULL,
                   WAIT_MS);
    }
    kill(edge, SIGTERM);
    CHECK_EQ_INT(wait_exit(edge), 0);
    CHECK(!file_has("edge-renew.log", "refused"));
    stop(br);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir);
    }
}

/*
 * A SAS token that expired while connected: the agent is stopped (SIGSTOP,
 * as a device that hung or slept) past its token's expiry, so renewal
 * could not happen in time and the hub would have closed the session.
 * Once it runs again it ends that session at once and connects again with
 * a new token (made from the time now), and readings go on; it does not
 * stop, nor spin.
 */
static void azure_iot_hub_token_expired_while_connected(void)
{
    char port[16], cafile[400], keyfile[400];
    const char *t;
    pid_t br, edge;
    int port_n = free_port();
    int64_t expiry_s;

    tmp_make(dir, sizeof(dir), "edge-expired");
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(keyfile, sizeof(keyfile), "%s/device.key", dir);
    write_file("device.key", KEY_B64 "\n");
    br = broker(port_n, "capture", "allow_anonymous true\n");
    CHECK(br > 0);
    {
        char *args[] = {"--profile", "azure-iot-hub", "--hub", HUB, "--device-key-file", keyfile,
                        "--sas-ttl", "10", "--cafile", cafile, "--port", port, "--machines", "1",
                        "--rate", "5", "--duration", "90", NULL};

        edge = edge_spawn("edge-expired.log", args);
    }
    CHECK_WAIT(file_has("capture.log", "as " DEVICE " ("), WAIT_MS);
    /* The first token expires at the end of the period after the one it was made in. */
    expiry_s = (mdx_now_ms() / 1000 / 10 + 2) * 10;
    CHECK_EQ_INT(kill(edge, SIGSTOP), 0);
    CHECK_WAIT(mdx_now_ms() / 1000 > expiry_s + 1, 30000);
    CHECK_EQ_INT(kill(edge, SIGCONT), 0);
    {
        long mark = file_size("capture.log");

        /* a new session at once, and readings on it */
        CHECK_WAIT(strstr(log_from("capture.log", mark), "as " DEVICE " (") != NULL, 5000);
        CHECK_WAIT((t = strstr(log_from("capture.log", mark), "as " DEVICE " (")) != NULL &&
                       strstr(t, "modax-leaf=sensor_data") != NULL,
                   WAIT_MS);
    }
    CHECK(file_has("edge-expired.log", "renewing the session's credentials"));
    kill(edge, SIGTERM);
    CHECK_EQ_INT(wait_exit(edge), 0);
    CHECK(!file_has("edge-expired.log", "refused"));
    stop(br);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir);
    }
}

/*
 * The bytes of the file 'name' of the test folder (binary: NULs too), in
 * 'buf'; how many.
 */
static size_t file_bytes(const char *name, unsigned char *buf, size_t cap)
{
    char path[400];
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f != NULL) {
        n = fread(buf, 1, cap, f);
        fclose(f);
    }
    return n;
}

/* Offset of 'needle' ('len' bytes) in 'hay' ('n' bytes), or -1. */
static long find_bytes(const unsigned char *hay, size_t n, const void *needle, size_t len)
{
    for (size_t i = 0; len <= n && i <= n - len; i++) {
        if (memcmp(hay + i, needle, len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Length of the MQTT string (2-byte length, then the bytes) at 'at' of 'b' ('n' bytes); -1 past n. */
static long mqtt_string(const unsigned char *b, size_t n, size_t at)
{
    return at + 2 <= n && at + 2 + (size_t)(b[at] << 8 | b[at + 1]) <= n
               ? (long)(b[at] << 8 | b[at + 1])
               : -1;
}

/*
 * The connect flags of the MQTT 3.1.1 CONNECT written into 's_server.log'
 * once it holds client id 'client_id' and user name 'user' (after the Will,
 * when there is one); -1 until then.
 */
static int connect_flags(const char *client_id, const char *user)
{
    static unsigned char bytes[1 << 16];
    static const unsigned char proto[] = {0, 4, 'M', 'Q', 'T', 'T', 4};
    size_t n = file_bytes("s_server.log", bytes, sizeof(bytes)), at;
    long p = find_bytes(bytes, n, proto, sizeof(proto)), len;
    int flags;

    if (p < 0 || (size_t)p + sizeof(proto) + 3 > n) {
        return -1;
    }
    flags = bytes[p + sizeof(proto)];
    at = (size_t)p + sizeof(proto) + 3; /* flags, keep-alive */
    len = mqtt_string(bytes, n, at);
    if (len != (long)strlen(client_id) || memcmp(bytes + at + 2, client_id, (size_t)len) != 0) {
        return -1;
    }
    at += 2 + (size_t)len;
    for (int k = 0; k < 2 && (flags & 0x04) != 0; k++) { /* the Will's topic and message */
        len = mqtt_string(bytes, n, at);
        if (len < 0) {
            return -1;
        }
        at += 2 + (size_t)len;
    }
    len = mqtt_string(bytes, n, at);
    if (len != (long)strlen(user) || memcmp(bytes + at + 2, user, (size_t)len) != 0) {
        return -1;
    }
    return flags;
}

/* Runs modax-edge's azure-iot-hub profile as DEVICE with certificate 'cn' (DIR/cn.crt) on 'port'. */
static pid_t edge_azure_x509(const char *log_name, const char *cn, const char *port)
{
    char cafile[400], cert[400], key[400];
    char *args[] = {"--profile", "azure-iot-hub", "--hub", HUB, "--cafile", cafile, "--cert", cert,
                    "--key", key, "--port", (char *)port, "--tenant", "acme.eu", "--machines",
                    "1", "--rate", "5", "--duration", "60", NULL};

    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(cert, sizeof(cert), "%s/%s.crt", dir, cn);
    snprintf(key, sizeof(key), "%s/%s.key", dir, cn);
    return edge_spawn(log_name, args);
}

/*
 * azure-iot-hub with an X.509 device certificate (CN = the device id)
 * instead of a SAS token. The hub: a listener that requires a client
 * certificate from the CA and has no password file; the ACL, by client id
 * (%c), lets a device write only its own events. Asserted: MQTT 3.1.1 as
 * client id m-0001 with exactly the hub's user name, readings on m-0001's
 * events topic with the property bag, nothing anywhere else, nothing
 * denied. Mosquitto's log does not say whether a password came, so an
 * `openssl s_server` (TLS 1.2, requiring a client certificate) takes one
 * handshake first and the CONNECT's flags are read from its bytes: user
 * name set, password not. Another device's certificate: the hub ties the
 * certificate to the device; a second Mosquitto with the certificate's CN
 * as identity (use_identity_as_username, ACL by %u) stands for that: the
 * certificate of m-0002 connecting as m-0001 cannot publish (Denied,
 * nothing arrives), while m-0001's own certificate can.
 */
static void azure_iot_hub_x509_certificate(void)
{
    char port[16], id_port[16], accept[64], log[400], crt[400], k[400], ca[400];
    struct mosquitto *w, *wi;
    pid_t br, br_id, srv, edge;
    int port_n = free_port(), id_port_n, fds[2], flags = -1, from;
    static const char acl[] =
        "user watcher\n"
        "topic read devices/#\n"
        "topic read $iothub/#\n"
        "\n"
        "pattern write devices/%c/messages/events/#\n"
        "pattern read devices/%c/messages/devicebound/#\n"
        "pattern read $iothub/methods/POST/#\n"
        "pattern write $iothub/methods/res/#\n";
    static const char acl_cn[] =
        "user watcher\n"
        "topic read devices/#\n"
        "\n"
        "pattern write devices/%u/messages/events/#\n"
        "pattern read devices/%u/messages/devicebound/#\n"
        "pattern read $iothub/methods/POST/#\n"
        "pattern write $iothub/methods/res/#\n";

    tmp_make(dir, sizeof(dir), "edge-azure-x509");
    inbox_clear();
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    write_file("acl", acl);
    write_file("acl-cn", acl_cn);

    /* The CONNECT's bytes: user name, no password. */
    snprintf(accept, sizeof(accept), "127.0.0.1:%d", port_n);
    snprintf(log, sizeof(log), "%s/s_server.log", dir);
    snprintf(crt, sizeof(crt), "%s/server.crt", dir);
    snprintf(k, sizeof(k), "%s/server.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    CHECK_EQ_INT(pipe(fds), 0);
    srv = fork();
    if (srv == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fds[0], 0); /* stdin stays open: s_server ends at its EOF */
        close(fds[1]);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("openssl", "openssl", "s_server", "-accept", accept, "-naccept", "1", "-tls1_2",
               "-cert", crt, "-key", k, "-CAfile", ca, "-Verify", "1", (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    CHECK_WAIT(file_has("s_server.log", "ACCEPT"), WAIT_MS);
    edge = edge_azure_x509("edge-s_server.log", DEVICE, port);
    CHECK_WAIT((flags = connect_flags(DEVICE, USER)) >= 0, WAIT_MS);
    CHECK(file_has("s_server.log", "CN = " DEVICE)); /* the device certificate was presented */
    CHECK(flags >= 0 && (flags & 0x80) != 0);        /* user name */
    CHECK(flags >= 0 && (flags & 0x40) == 0);        /* no password */
    CHECK(flags >= 0 && (flags & 0x04) != 0);        /* the Will (status offline) ... */
    CHECK(flags >= 0 && (flags & 0x20) == 0);        /* ... not retained: the hub keeps none */
    kill(edge, SIGTERM);
    wait_exit(edge);
    close(fds[1]);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);

    /* The hub: client certificate required, no password file, ACL by client id. */
    {
        char conf[1024];

        /* No password file: a user name without password gets in (allow_anonymous), and
         * only with a certificate of the CA. */
        snprintf(conf, sizeof(conf), "allow_anonymous true\nrequire_certificate true\n"
                 "acl_file %s/acl\n", dir);
        br = broker(port_n, "hub", conf);
    }
    CHECK(br > 0);
    w = watcher(port_n, "watcher", NULL, 1);
    CHECK_EQ_INT(mosquitto_subscribe(w, NULL, "devices/#", 1), MOSQ_ERR_SUCCESS);
    CHECK_WAIT(file_has("hub.log", "as watcher"), WAIT_MS);
    edge = edge_azure_x509("edge-x509.log", DEVICE, port);
    CHECK(edge > 0);
    CHECK_WAIT(file_has("hub.log", "as " DEVICE " (p2, c0, k30, u'" USER "')"), WAIT_MS);
    CHECK(wait_message(0, EVENTS("sensor_data"), "\"device_id\":\"" DEVICE "\"") >= 0);
    CHECK(wait_message(0, EVENTS("status"), "online") >= 0);
    CHECK_EQ_INT(kill(edge, SIGTERM), 0);
    CHECK_EQ_INT(wait_exit(edge), 0);
    /* Only the device's own events topic, nothing retained, nothing denied. */
    pthread_mutex_lock(&box.lock);
    for (int i = 0; i < box.n; i++) {
        CHECK(strncmp(box.topic[i], "devices/" DEVICE "/messages/events/", 31) == 0);
        CHECK(!box.retain[i]);
    }
    pthread_mutex_unlock(&box.lock);
    CHECK(!file_has("hub.log", "Denied"));
    CHECK(!file_has("edge-x509.log", "refused"));
    mosquitto_disconnect(w);
    mosquitto_loop_stop(w, false);
    mosquitto_destroy(w);
    stop(br);

    /* The certificate is the identity: m-0002's cannot publish as m-0001, m-0001's own can. */
    id_port_n = free_port();
    snprintf(id_port, sizeof(id_port), "%d", id_port_n);
    {
        char conf[1024];

        snprintf(conf, sizeof(conf),
                 "require_certificate true\nuse_identity_as_username true\nacl_file %s/acl-cn\n",
                 dir);
        br_id = broker(id_port_n, "ident", conf);
    }
    CHECK(br_id > 0);
    wi = watcher(id_port_n, NULL, NULL, 1);
    CHECK_EQ_INT(mosquitto_subscribe(wi, NULL, "devices/#", 1), MOSQ_ERR_SUCCESS);
    CHECK_WAIT(file_has("ident.log", "as watcher"), WAIT_MS);
    pthread_mutex_lock(&box.lock);
    from = box.n;
    pthread_mutex_unlock(&box.lock);
    edge = edge_azure_x509("edge-other.log", "m-0002", id_port);
    CHECK_WAIT(file_has("ident.log", "Denied PUBLISH from " DEVICE), WAIT_MS);
    CHECK_EQ_INT(kill(edge, SIGTERM), 0);
    CHECK_EQ_INT(wait_exit(edge), 0);
    edge = edge_azure_x509("edge-own.log", DEVICE, id_port);
    CHECK(wait_message(from, EVENTS("sensor_data"), "\"device_id\":\"" DEVICE "\"") >= 0);
    CHECK_EQ_INT(kill(edge, SIGTERM), 0);
    CHECK_EQ_INT(wait_exit(edge), 0);
    /* What came from the first (m-0002's certificate) run: nothing; from the second: its own. */
    pthread_mutex_lock(&box.lock);
    for (int i = from; i < box.n; i++) {
        CHECK(strncmp(box.topic[i], "devices/" DEVICE "/messages/events/", 31) == 0);
    }
    pthread_mutex_unlock(&box.lock);
    {
        /* Every Denied line is from before the own certificate's session. */
        const char *t = log_from("ident.log", 0);
        const char *own = strstr(t, "u'" DEVICE "')");
        const char *denied = strstr(t, "Denied PUBLISH");

        CHECK(own != NULL && strstr(own, "Denied") == NULL);
        CHECK(denied != NULL && (own == NULL || denied < own));
        CHECK(strstr(t, "u'm-0002')") != NULL); /* the other run's identity was m-0002's CN */
    }
    mosquitto_disconnect(wi);
    mosquitto_loop_stop(wi, false);
    mosquitto_destroy(wi);
    stop(br_id);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir);
    }
}

#define KEY2_B64 "dGhlIGtleSBvZiBtYWNoaW5lIG0tMDAwMiAodGVzdCk="
#define KEY3_B64 "dGhlIGtleSBvZiBtYWNoaW5lIG0tMDAwMyAodGVzdCk="
#define WRONG3_B64 "bm90IHRoZSBrZXkgb2YgbS0wMDAzLCBhIHdyb25nIDE="

/*
 * azure-iot-hub with per-device keys from --secrets: three machines, one
 * connection each, each signing its own SAS token with its own key. The
 * hub's password file holds each device's user name with the token made
 * here from the key the hub knows; the secrets file gives m-0003 a wrong
 * key. Asserted: m-0001 and m-0002 connect with their own user names and
 * deliver readings on their own events topics; m-0003 is refused (logged
 * by the agent, nothing from it arrives) while the agent goes on serving
 * the others; no key or token is logged.
 */
static void azure_iot_hub_per_device_keys(void)
{
    static const char *const devs[] = {DEVICE, "m-0002", "m-0003"};
    static const char *const hub_keys[] = {KEY_B64, KEY2_B64, KEY3_B64};
    char port[16], cafile[400], secrets[400], passwd[400], token[400], user[200], topic[200];
    struct mosquitto *w;
    pid_t br, edge;
    int port_n = free_port(), status = 0;
    static const char acl[] =
        "user watcher\n"
        "topic read devices/#\n"
        "\n"
        "pattern write devices/%c/messages/events/#\n"
        "pattern read devices/%c/messages/devicebound/#\n"
        "pattern read $iothub/methods/POST/#\n"
        "pattern write $iothub/methods/res/#\n";

    tmp_make(dir, sizeof(dir), "edge-azure-keys");
    inbox_clear();
    make_certificates();
    snprintf(port, sizeof(port), "%d", port_n);
    snprintf(cafile, sizeof(cafile), "%s/ca.crt", dir);
    snprintf(secrets, sizeof(secrets), "%s/secrets", dir);
    snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
    write_file("acl", acl);
    write_file("secrets", "# device key\n" DEVICE " " KEY_B64 "\nm-0002 " KEY2_B64
                          "\nm-0003 " WRONG3_B64 "\n");
    CHECK_EQ_INT(chmod(secrets, 0600), 0);
    /* Away from a period boundary, so the agent makes the tokens computed here. */
    WAIT_UNTIL(TTL - time(NULL) % TTL > 60, (TTL / 60 + 2) * 1000);
    {
        char *argw[] = {"mosquitto_passwd", "-c", "-b", passwd, "watcher", "watcher-secret", NULL};

        CHECK_EQ_INT(run(argw), 0);
    }
    for (int d = 0; d < 3; d++) {
        char *argv[] = {"mosquitto_passwd", "-b", passwd, user, token, NULL};

        snprintf(user, sizeof(user), "%s.azure-devices.net/%s/?api-version=2021-04-12", HUB,
                 devs[d]);
        device_token((int64_t)time(NULL), devs[d], hub_keys[d], token, sizeof(token));
        CHECK_EQ_INT(run(argv), 0);
    }
    {
        char conf[1024];

        snprintf(conf, sizeof(conf), "password_file %s\nacl_file %s/acl\n", passwd, dir);
        br = broker(port_n, "keys", conf);
    }
    CHECK(br > 0);
    w = watcher(port_n, "watcher", "watcher-secret", 0);
    CHECK_EQ_INT(mosquitto_subscribe(w, NULL, "devices/#", 1), MOSQ_ERR_SUCCESS);
    CHECK_WAIT(file_has("keys.log", "as watcher"), WAIT_MS);
    {
        char *args[] = {"--profile", "azure-iot-hub", "--hub", HUB, "--secrets", secrets,
                        "--cafile", cafile, "--port", port, "--tenant", "acme.eu", "--machines",
                        "3", "--rate", "5", "--duration", "60", NULL};

        edge = edge_spawn("edge-keys.log", args);
    }
    CHECK(edge > 0);
    for (int d = 0; d < 2; d++) {
        char needle[300];

        snprintf(needle, sizeof(needle), "as %s (p2, c0, k30, u'%s.azure-devices.net/%s/"
                 "?api-version=2021-04-12')", devs[d], HUB, devs[d]);
        CHECK_WAIT(file_has("keys.log", needle), WAIT_MS);
        snprintf(topic, sizeof(topic),
                 "devices/%s/messages/events/modax-tenant=acme.eu&modax-leaf=sensor_data"
                 "&$.ct=application%%2Fjson&$.ce=utf-8&modax-form=cloud", devs[d]);
        snprintf(needle, sizeof(needle), "\"device_id\":\"%s\"", devs[d]);
        CHECK(wait_message(0, topic, needle) >= 0);
    }
    CHECK_WAIT(file_has("edge-keys.log", "refused the connection of m-0003"), WAIT_MS);
    /* Refused, not fatal: the agent goes on with the others, and they go on delivering. */
    {
        int before = count_prefix("devices/" DEVICE "/");

        CHECK_WAIT(count_prefix("devices/" DEVICE "/") > before + 2, WAIT_MS);
    }
    CHECK_EQ_INT(waitpid(edge, &status, WNOHANG), 0);
    CHECK_EQ_INT(count_prefix("devices/m-0003/"), 0);
    CHECK(!file_has("keys.log", "as m-0003 ("));
    CHECK(!file_has("keys.log", "Denied"));
    CHECK_EQ_INT(kill(edge, SIGTERM), 0);
    CHECK_EQ_INT(wait_exit(edge), 0);
    /* secrets never logged */
    CHECK(!file_has("edge-keys.log", "SharedAccessSignature"));
    CHECK(!file_has("edge-keys.log", KEY2_B64));
    CHECK(!file_has("edge-keys.log", WRONG3_B64));
    mosquitto_disconnect(w);
    mosquitto_loop_stop(w, false);
    mosquitto_destroy(w);
    stop(br);
    if (mdx_test_failures_ == 0) {
        tmp_remove(dir);
    }
}

static const struct mdx_test tests[] = {
    {"azure-iot-hub: SAS handshake, telemetry property bag, direct methods, C2D, wrong key",
     azure_iot_hub_handshake_telemetry_methods},
    {"aws-iot: client certificate as the thing, policy topics, nothing retained",
     aws_iot_certificate_thing_topics_no_retain},
    {"aws-iot: ALPN x-amzn-mqtt-ca over TLS 1.2, device certificate", aws_iot_alpn_and_tls12},
    {"azure-iot-hub: the SAS token is renewed while connected", azure_iot_hub_renews_the_token},
    {"azure-iot-hub: a SAS token that expired while connected: a new session at once",
     azure_iot_hub_token_expired_while_connected},
    {"azure-iot-hub: X.509 device certificate, hub user name without password, own topics only",
     azure_iot_hub_x509_certificate},
    {"azure-iot-hub: per-device keys from --secrets, a wrong key refused, the others deliver",
     azure_iot_hub_per_device_keys},
    {"azure-iot-hub: CONNECT fields and topics equal azure-iot-device-mqtt's",
     azure_iot_hub_matches_the_device_sdk},
    {"aws-iot: CONNECT fields and topics equal aws-iot-device-sdk-v2's",
     aws_iot_matches_the_device_sdk},
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mosquitto_lib_init();
    return mdx_test_run(tests, argc, argv);
}
