/*
 * busbench - the bus and projection-lag figures of make bench.
 *
 *   busbench pool N USERS     publish N account.profile_update commands
 *                             straight to gau.commands as gau-edge (a
 *                             trusted publisher, so the principal counts)
 *                             and wait until every reply came back
 *   busbench raw N C P USERS  the reference: the same N bodies to a plain
 *                             quorum queue, C consumer connections with
 *                             prefetch P that ack and send the body back
 *                             as the reply; the same waiting publisher
 *   busbench lag RATE SECS USERS
 *                             publish commands at RATE/s for SECS seconds
 *                             (no reply queue) and time, for every event,
 *                             commit to visible in Redis (see lag_run)
 *
 * USERS is a file of "user_id session_id" lines; commands go round-robin
 * over them so that the row locks of one user do not serialise the pool.
 * URLs come from the stack's environment: GAU_AMQP_URL_EDGE (pool, lag),
 * GAU_AMQP_URL (raw, the admin user), GAU_REDIS_URL, GAU_PG_URL_ACCOUNT.
 * The result is one line of key=value pairs on stdout.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <msgpack.h>

#include "bus/envelope.h"
#include "core/util.h"
#include "gau_schema.h"

#define BB_USERS_MAX 256
#define BB_RAW_QUEUE "bench.raw"
#define BB_WAIT_S 180
#define BB_OBS_MAX (1 << 20)

struct bb_user {
    char user_id[37];
    char session_id[37];
};

static struct bb_user bb_users[BB_USERS_MAX];
static int bb_nusers;

static void bb_die(const char *what)
{
    fprintf(stderr, "busbench: %s\n", what);
    exit(1);
}

static double bb_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bb_load_users(const char *path)
{
    FILE *f = fopen(path, "r");

    if (!f)
        bb_die("cannot open the users file");
    while (bb_nusers < BB_USERS_MAX &&
           fscanf(f, "%36s %36s", bb_users[bb_nusers].user_id,
                  bb_users[bb_nusers].session_id) == 2)
        bb_nusers++;
    fclose(f);
    if (bb_nusers == 0)
        bb_die("no users in the users file");
}

static void bb_check(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "busbench: %s failed (reply type %d)\n", what,
                (int)r.reply_type);
        exit(1);
    }
}

/* Connects to url and opens channel 1. */
static amqp_connection_state_t bb_connect(const char *url, char *user,
                                          size_t user_size)
{
    struct amqp_connection_info ci;
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    char *copy = strdup(url);

    if (!copy || amqp_parse_url(copy, &ci) != AMQP_STATUS_OK)
        bb_die("bad AMQP url");
    /* "amqp://u:p@host:port/" names the default vhost, "/". */
    if (!ci.vhost[0])
        ci.vhost = "/";
    if (!s || amqp_socket_open(s, ci.host, ci.port) != AMQP_STATUS_OK)
        bb_die("cannot connect to the broker");
    bb_check(amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                        ci.user, ci.password),
             "login");
    if (user)
        snprintf(user, user_size, "%s", ci.user);
    amqp_channel_open(c, 1);
    bb_check(amqp_get_rpc_reply(c), "channel.open");
    free(copy);
    return c;
}

static void bb_close(amqp_connection_state_t c)
{
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

/* The envelope of command i: a profile update of user i mod nusers. */
static void bb_command(int i, msgpack_sbuffer *sb, struct gau_env_hdr *hdr)
{
    struct gau_account_profile_update p;
    const struct bb_user *u = &bb_users[i % bb_nusers];

    memset(&p, 0, sizeof(p));
    snprintf(p.fullname, sizeof(p.fullname), "bus bench %08d", i);
    p.has_fullname = true;
    gau_env_hdr_init(hdr, "account.profile_update", 1, NULL, NULL);
    hdr->has_principal = true;
    memcpy(hdr->principal.user_id, u->user_id, sizeof(u->user_id));
    memcpy(hdr->principal.session_id, u->session_id, sizeof(u->session_id));
    msgpack_sbuffer_clear(sb);
    gau_envelope_pack(sb, hdr, &gau_account_profile_update_info, &p);
}

static void bb_publish(amqp_connection_state_t c, const char *exchange,
                       const char *key, const char *user,
                       const char *reply_to, const struct gau_env_hdr *hdr,
                       const msgpack_sbuffer *sb)
{
    amqp_basic_properties_t props;
    amqp_bytes_t body = { sb->size, sb->data };
    int rc;

    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG |
                   AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_MESSAGE_ID_FLAG |
                   AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_TYPE_FLAG;
    props.content_type = amqp_cstring_bytes("application/msgpack");
    props.delivery_mode = 2;
    props.message_id = amqp_cstring_bytes(hdr->id);
    props.correlation_id = amqp_cstring_bytes(hdr->id);
    props.type = amqp_cstring_bytes(hdr->type);
    if (user) {
        props._flags |= AMQP_BASIC_USER_ID_FLAG;
        props.user_id = amqp_cstring_bytes(user);
    }
    if (reply_to) {
        props._flags |= AMQP_BASIC_REPLY_TO_FLAG;
        props.reply_to = amqp_cstring_bytes(reply_to);
    }
    rc = amqp_basic_publish(c, 1, amqp_cstring_bytes(exchange),
                            amqp_cstring_bytes(key), 0, 0, &props, body);
    if (rc != AMQP_STATUS_OK)
        bb_die("cannot publish");
}

/* Declares an exclusive reply queue and consumes it without acks. */
static void bb_reply_queue(amqp_connection_state_t c, char *name,
                           size_t size)
{
    amqp_queue_declare_ok_t *q;

    q = amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1,
                           amqp_empty_table);
    bb_check(amqp_get_rpc_reply(c), "queue.declare (replies)");
    snprintf(name, size, "%.*s", (int)q->queue.len, (char *)q->queue.bytes);
    amqp_basic_consume(c, 1, amqp_cstring_bytes(name), amqp_empty_bytes, 0,
                       1, 1, amqp_empty_table);
    bb_check(amqp_get_rpc_reply(c), "basic.consume (replies)");
}

/* Waits for n replies; returns how many were error envelopes. */
static int bb_wait_replies(amqp_connection_state_t c, int n, bool decode)
{
    struct timeval tv = { 1, 0 };
    double until = bb_now() + BB_WAIT_S;
    struct gau_envelope env;
    amqp_envelope_t e;
    amqp_rpc_reply_t r;
    char why[128];
    int got = 0, errors = 0;

    while (got < n) {
        if (bb_now() > until)
            bb_die("replies did not all come back in time");
        amqp_maybe_release_buffers(c);
        r = amqp_consume_message(c, &e, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        bb_check(r, "basic.consume");
        got++;
        if (decode) {
            if (gau_envelope_decode(&env, e.message.body.bytes,
                                    e.message.body.len, GAU_ENV_BODY_MAX,
                                    why, sizeof(why)) < 0 ||
                strcmp(env.hdr.type, "error") == 0)
                errors++;
            gau_envelope_release(&env);
        }
        amqp_destroy_envelope(&e);
    }
    return errors;
}

static int pool_run(int n)
{
    const char *url = getenv("GAU_AMQP_URL_EDGE");
    amqp_connection_state_t c;
    struct gau_env_hdr hdr;
    msgpack_sbuffer sb;
    char user[64], rq[256];
    double t0, t1;
    int i, errors;

    if (!url)
        bb_die("GAU_AMQP_URL_EDGE is not set");
    c = bb_connect(url, user, sizeof(user));
    bb_reply_queue(c, rq, sizeof(rq));
    msgpack_sbuffer_init(&sb);
    t0 = bb_now();
    for (i = 0; i < n; i++) {
        bb_command(i, &sb, &hdr);
        bb_publish(c, "gau.commands", "account.profile_update", user, rq,
                   &hdr, &sb);
    }
    errors = bb_wait_replies(c, n, true);
    t1 = bb_now();
    printf("mode=pool n=%d errors=%d size=%zu secs=%.3f rate=%.1f\n", n,
           errors, sb.size, t1 - t0, n / (t1 - t0));
    msgpack_sbuffer_destroy(&sb);
    bb_close(c);
    return errors ? 1 : 0;
}

struct raw_consumer {
    pthread_t th;
    const char *url;
    int prefetch;
    volatile int *stop;
    int ready;
};

/* Consume, ack, send the body back: the loop of an actor without work. */
static void *raw_consume(void *arg)
{
    struct raw_consumer *rc = arg;
    amqp_connection_state_t c = bb_connect(rc->url, NULL, 0);
    amqp_basic_properties_t props;
    struct timeval tv = { 0, 200000 };
    amqp_envelope_t e;
    amqp_rpc_reply_t r;

    amqp_basic_qos(c, 1, 0, (uint16_t)rc->prefetch, 0);
    bb_check(amqp_get_rpc_reply(c), "basic.qos");
    amqp_basic_consume(c, 1, amqp_cstring_bytes(BB_RAW_QUEUE),
                       amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    bb_check(amqp_get_rpc_reply(c), "basic.consume (raw)");
    __atomic_store_n(&rc->ready, 1, __ATOMIC_SEQ_CST);
    while (!*rc->stop) {
        amqp_maybe_release_buffers(c);
        r = amqp_consume_message(c, &e, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        bb_check(r, "basic.consume (raw)");
        amqp_basic_ack(c, 1, e.delivery_tag, 0);
        memset(&props, 0, sizeof(props));
        props._flags = AMQP_BASIC_CORRELATION_ID_FLAG;
        props.correlation_id = e.message.properties.correlation_id;
        amqp_basic_publish(c, 1, amqp_empty_bytes,
                           e.message.properties.reply_to, 0, 0, &props,
                           e.message.body);
        amqp_destroy_envelope(&e);
    }
    bb_close(c);
    return NULL;
}

static int raw_run(int n, int consumers, int prefetch)
{
    const char *url = getenv("GAU_AMQP_URL");
    struct raw_consumer cs[64];
    amqp_connection_state_t c;
    amqp_table_entry_t arg;
    amqp_table_t args = { 1, &arg };
    struct gau_env_hdr hdr;
    msgpack_sbuffer sb;
    volatile int stop = 0;
    char rq[256];
    double t0, t1;
    int i;

    if (!url)
        bb_die("GAU_AMQP_URL is not set");
    if (consumers < 1 || consumers > 64)
        bb_die("consumers must be 1..64");
    c = bb_connect(url, NULL, 0);
    /* A quorum queue, as <service>.commands is. */
    arg.key = amqp_cstring_bytes("x-queue-type");
    arg.value.kind = AMQP_FIELD_KIND_UTF8;
    arg.value.value.bytes = amqp_cstring_bytes("quorum");
    amqp_queue_declare(c, 1, amqp_cstring_bytes(BB_RAW_QUEUE), 0, 1, 0, 0,
                       args);
    bb_check(amqp_get_rpc_reply(c), "queue.declare (raw)");
    amqp_queue_purge(c, 1, amqp_cstring_bytes(BB_RAW_QUEUE));
    bb_check(amqp_get_rpc_reply(c), "queue.purge (raw)");
    bb_reply_queue(c, rq, sizeof(rq));
    for (i = 0; i < consumers; i++) {
        cs[i].url = url;
        cs[i].prefetch = prefetch;
        cs[i].stop = &stop;
        cs[i].ready = 0;
        pthread_create(&cs[i].th, NULL, raw_consume, &cs[i]);
    }
    for (i = 0; i < consumers; i++)
        while (!__atomic_load_n(&cs[i].ready, __ATOMIC_SEQ_CST))
            nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    msgpack_sbuffer_init(&sb);
    t0 = bb_now();
    for (i = 0; i < n; i++) {
        bb_command(i, &sb, &hdr);
        bb_publish(c, "", BB_RAW_QUEUE, NULL, rq, &hdr, &sb);
    }
    bb_wait_replies(c, n, false);
    t1 = bb_now();
    stop = 1;
    for (i = 0; i < consumers; i++)
        pthread_join(cs[i].th, NULL);
    printf("mode=raw n=%d consumers=%d prefetch=%d size=%zu secs=%.3f "
           "rate=%.1f\n", n, consumers, prefetch, sb.size, t1 - t0,
           n / (t1 - t0));
    msgpack_sbuffer_destroy(&sb);
    amqp_queue_delete(c, 1, amqp_cstring_bytes(BB_RAW_QUEUE), 0, 0);
    bb_close(c);
    return 0;
}

/* --- projection lag ---------------------------------------------------- */

/* A version of a user seen in Redis, and the wall-clock time it was. */
struct lag_obs {
    int user;
    long version;
    int64_t ms;
};

struct lag_watch {
    pthread_t th;
    redisContext *sub, *rd;
    volatile int stop;
    struct lag_obs *obs;
    int nobs;
};

static int lag_user_index(const char *id)
{
    int i;

    for (i = 0; i < bb_nusers; i++)
        if (strcmp(bb_users[i].user_id, id) == 0)
            return i;
    return -1;
}

static redisContext *lag_redis(void)
{
    const char *url = getenv("GAU_REDIS_URL");
    char host[64] = "127.0.0.1";
    int port = 6379;
    redisContext *rd;

    if (url)
        sscanf(url, "redis://%63[^:/]:%d", host, &port);
    rd = redisConnect(host, port);
    if (!rd || rd->err)
        bb_die("cannot connect to Redis");
    return rd;
}

/*
 * Every change of a user hash raises a keyspace notification; the watcher
 * then reads the hash's version and stamps it with the time the read came
 * back. That time is at or after the moment the version became visible,
 * so the lag is never understated.
 */
static void *lag_watch(void *arg)
{
    static const char prefix[] = "__keyspace@0__:";
    struct lag_watch *w = arg;
    redisReply *r, *v;
    const char *key;
    int user;

    while (!w->stop) {
        if (redisGetReply(w->sub, (void **)&r) != REDIS_OK)
            break;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
            strncmp(r->element[2]->str, prefix, sizeof(prefix) - 1) == 0) {
            key = r->element[2]->str + sizeof(prefix) - 1;
            user = lag_user_index(key + strlen("gau:account:user:"));
            v = user >= 0 ? redisCommand(w->rd, "HGET %s version", key)
                          : NULL;
            if (v && v->type == REDIS_REPLY_STRING && w->nobs < BB_OBS_MAX) {
                w->obs[w->nobs].user = user;
                w->obs[w->nobs].version = atol(v->str);
                w->obs[w->nobs].ms = gau_now_ms();
                w->nobs++;
            }
            freeReplyObject(v);
        }
        freeReplyObject(r);
    }
    return NULL;
}

static int lag_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The first time a version >= version of user was seen; -1 never. */
static int64_t lag_seen(const struct lag_watch *w, int user, long version)
{
    int64_t best = -1;
    int i;

    for (i = 0; i < w->nobs; i++)
        if (w->obs[i].user == user && w->obs[i].version >= version &&
            (best < 0 || w->obs[i].ms < best))
            best = w->obs[i].ms;
    return best;
}

/*
 * Publishes at a fixed rate, then reads from the events table the
 * (user, version, occurred_at) of every event the run made. occurred_at is
 * the time the actor built the event, just before its COMMIT, so "commit
 * to visible" below includes the commit itself: an upper bound again.
 */
static int lag_run(double rate, double secs)
{
    static const char sql[] =
        "SELECT aggregate_id, aggregate_version, "
        "(extract(epoch from occurred_at) * 1000)::bigint FROM events "
        "WHERE occurred_at >= to_timestamp($1::double precision / 1000) "
        "AND type = 'account.profile_updated' ORDER BY seq";
    const char *url = getenv("GAU_AMQP_URL_EDGE");
    const char *pgurl = getenv("GAU_PG_URL_ACCOUNT");
    struct lag_watch w;
    amqp_connection_state_t c;
    struct gau_env_hdr hdr;
    msgpack_sbuffer sb;
    PGconn *pg;
    PGresult *res;
    redisContext *stopper;
    redisReply *r;
    char user[64], since[24];
    const char *vals[1] = { since };
    int64_t start_ms, *lags;
    double t0, next;
    int i, n, rows, nlag = 0, missing = 0, u;

    if (!url || !pgurl)
        bb_die("GAU_AMQP_URL_EDGE or GAU_PG_URL_ACCOUNT is not set");
    memset(&w, 0, sizeof(w));
    w.obs = calloc(BB_OBS_MAX, sizeof(*w.obs));
    w.rd = lag_redis();
    w.sub = lag_redis();
    r = redisCommand(w.rd, "CONFIG SET notify-keyspace-events Kh");
    freeReplyObject(r);
    /* The second pattern is how the watcher is told to stop. */
    r = redisCommand(w.sub, "PSUBSCRIBE __keyspace@0__:gau:account:user:* "
                            "busbench.stop");
    freeReplyObject(r);
    pthread_create(&w.th, NULL, lag_watch, &w);

    c = bb_connect(url, user, sizeof(user));
    msgpack_sbuffer_init(&sb);
    n = (int)(rate * secs);
    start_ms = gau_now_ms();
    t0 = bb_now();
    for (i = 0; i < n; i++) {
        next = t0 + i / rate;
        while (bb_now() < next)
            nanosleep(&(struct timespec){ 0, 200000 }, NULL);
        bb_command(i, &sb, &hdr);
        bb_publish(c, "gau.commands", "account.profile_update", user, NULL,
                   &hdr, &sb);
    }
    /* Time for the last events to travel; far beyond any goal. */
    nanosleep(&(struct timespec){ 2, 0 }, NULL);
    w.stop = 1;
    stopper = lag_redis();
    r = redisCommand(stopper, "PUBLISH busbench.stop 1");
    freeReplyObject(r);
    redisFree(stopper);
    pthread_join(w.th, NULL);
    r = redisCommand(w.rd, "CONFIG SET notify-keyspace-events %s", "");
    freeReplyObject(r);

    pg = PQconnectdb(pgurl);
    if (PQstatus(pg) != CONNECTION_OK)
        bb_die("cannot connect to PostgreSQL");
    snprintf(since, sizeof(since), "%lld", (long long)start_ms);
    res = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        bb_die("cannot read the events");
    rows = PQntuples(res);
    lags = calloc((size_t)rows + 1, sizeof(*lags));
    for (i = 0; i < rows; i++) {
        int64_t at = atoll(PQgetvalue(res, i, 2)), seen;

        u = lag_user_index(PQgetvalue(res, i, 0));
        if (u < 0)
            continue;
        seen = lag_seen(&w, u, atol(PQgetvalue(res, i, 1)));
        if (seen < 0) {
            missing++;
            continue;
        }
        lags[nlag++] = seen > at ? seen - at : 0;
    }
    qsort(lags, (size_t)nlag, sizeof(*lags), lag_cmp);
    printf("mode=lag sent=%d events=%d measured=%d missing=%d rate=%.1f "
           "p50_ms=%lld p99_ms=%lld max_ms=%lld\n", n, rows, nlag, missing,
           rate, nlag ? (long long)lags[nlag / 2] : -1LL,
           nlag ? (long long)lags[(nlag * 99) / 100] : -1LL,
           nlag ? (long long)lags[nlag - 1] : -1LL);
    PQclear(res);
    PQfinish(pg);
    free(lags);
    free(w.obs);
    redisFree(w.rd);
    redisFree(w.sub);
    msgpack_sbuffer_destroy(&sb);
    bb_close(c);
    return missing || nlag == 0 ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: busbench pool N USERS | raw N CONSUMERS "
                    "PREFETCH USERS | lag RATE SECS USERS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "pool") == 0) {
        bb_load_users(argv[3]);
        return pool_run(atoi(argv[2]));
    }
    if (argc == 6 && strcmp(argv[1], "raw") == 0) {
        bb_load_users(argv[5]);
        return raw_run(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    }
    if (argc == 5 && strcmp(argv[1], "lag") == 0) {
        bb_load_users(argv[4]);
        return lag_run(atof(argv[2]), atof(argv[3]));
    }
    usage();
    return 2;
}
