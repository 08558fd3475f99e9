/*
 * conn.c - the life of a bus connection: url, connect and login, channels,
 * the translation of librabbitmq's replies into gau errors, and close.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <amqp_tcp_socket.h>

#include "bus/conn_internal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#define BUS_BACKOFF_MIN_MS 100
#define BUS_BACKOFF_MAX_MS 5000

struct bus_conn *bus_conn_new(const char *url, const char *name)
{
    struct bus_conn *c = xcalloc(1, sizeof(*c));

    c->name = xstrdup(name ? name : "gau");
    /* amqp_parse_url() cuts the string it is given into the fields of
     * info, so the copy lives as long as the connection. */
    c->url_buf = xstrdup(url ? url : "");
    amqp_default_connection_info(&c->info);
    if (amqp_parse_url(c->url_buf, &c->info) != AMQP_STATUS_OK) {
        log_error("cannot parse amqp url for connection '%s'", c->name);
        c->url_rc = GAU_EINVAL;
    } else if (!c->info.vhost[0]) {
        /* "amqp://host/" names the empty vhost by the letter of the URI
         * spec, but everyone writing it means the default one, and
         * RabbitMQ has no empty vhost. */
        c->info.vhost = "/";
    }
    /* TODO: amqps (TLS) is refused until the bus links librabbitmq's SSL
     * socket; safe while every broker is on loopback or a private net. */
    if (c->url_rc == 0 && c->info.ssl) {
        log_error("cannot use amqps url for connection '%s': tls is not "
                  "supported", c->name);
        c->url_rc = GAU_EINVAL;
    }
    return c;
}

void bus_conn_free(struct bus_conn *c)
{
    if (!c)
        return;
    bus_conn_close(c);
    free(c->url_buf);
    free(c->name);
    free(c);
}

bool bus_conn_is_open(const struct bus_conn *c)
{
    return c && c->open;
}

const char *bus_conn_user(const struct bus_conn *c)
{
    return c->url_rc == 0 && c->info.user ? c->info.user : "";
}

int bus_conn_fd(const struct bus_conn *c)
{
    if (!c->open)
        return -1;
    return amqp_socket_get_sockfd(amqp_get_socket(c->amqp));
}

static struct timeval ms_tv(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    return tv;
}

void bus__set_hooks(struct bus_conn *c, const struct bus_hooks *h)
{
    if (h)
        c->hooks = *h;
    else
        memset(&c->hooks, 0, sizeof(c->hooks));
}

static void reset_state(struct bus_conn *c)
{
    c->open = false;
    c->pub_seq = 0;
    if (c->wait_seq && c->wait_rc == 1)
        c->wait_rc = GAU_EUNAVAIL;
    c->ret_state = BUS_CONTENT_NONE;
    c->consuming = false;
    c->ctag[0] = '\0';
    bus__drop_queue(c);
}

int bus__lost(struct bus_conn *c, const char *why)
{
    if (c->amqp) {
        log_warn("lost connection '%s' to the broker: %s", c->name, why);
        amqp_destroy_connection(c->amqp);
        c->amqp = NULL;
    }
    reset_state(c);
    return GAU_EUNAVAIL;
}

void bus_conn_close(struct bus_conn *c)
{
    if (!c || !c->amqp)
        return;
    if (c->open)
        amqp_connection_close(c->amqp, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c->amqp);
    c->amqp = NULL;
    reset_state(c);
}

static int server_close_rc(struct bus_conn *c, amqp_rpc_reply_t r,
                           int channel, const char *what, const char *object)
{
    if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        amqp_channel_close_ok_t ok = { 0 };
        int rc = bus__code_rc(m->reply_code);

        log_error("cannot %s '%s': %.*s", what, object,
                  (int)m->reply_text.len, (char *)m->reply_text.bytes);
        if (amqp_send_method(c->amqp, channel, AMQP_CHANNEL_CLOSE_OK_METHOD,
                             &ok) != AMQP_STATUS_OK)
            return bus__lost(c, "cannot acknowledge a channel close");
        /* The declaration channel is opened per use; the others carry
         * state and are reopened at once. */
        if (channel != BUS_CH_DECLARE && bus__channel_reopen(c, channel) < 0)
            return GAU_EUNAVAIL;
        return rc;
    }
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        amqp_connection_close_ok_t ok = { 0 };

        log_error("cannot %s '%s': connection closed by the broker: %.*s",
                  what, object, (int)m->reply_text.len,
                  (char *)m->reply_text.bytes);
        amqp_send_method(c->amqp, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        return bus__lost(c, "closed by the broker");
    }
    log_error("cannot %s '%s': unexpected method 0x%08x", what, object,
              (unsigned)r.reply.id);
    return bus__lost(c, "unexpected method");
}

int bus__reply_rc(struct bus_conn *c, amqp_rpc_reply_t r, int channel,
                  const char *what, const char *object)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        return server_close_rc(c, r, channel, what, object);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        log_error("cannot %s '%s': %s", what, object,
                  amqp_error_string2(r.library_error));
        return bus__lost(c, amqp_error_string2(r.library_error));
    default:
        log_error("cannot %s '%s': no reply", what, object);
        return bus__lost(c, "no reply");
    }
}

/* Opens a channel during connect or after the broker closed it; any
 * failure here means the connection is unusable. */
static int channel_open(struct bus_conn *c, int ch)
{
    amqp_rpc_reply_t r;

    amqp_channel_open(c->amqp, ch);
    r = amqp_get_rpc_reply(c->amqp);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return bus__lost(c, "cannot open a channel");
    if (ch != BUS_CH_PUB)
        return 0;

    amqp_confirm_select(c->amqp, ch);
    r = amqp_get_rpc_reply(c->amqp);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return bus__lost(c, "cannot put the publish channel in confirm mode");
    return 0;
}

int bus__channel_reopen(struct bus_conn *c, int ch)
{
    uint64_t last = c->pub_seq;

    if (ch == BUS_CH_CONSUME) {
        /* The consumer died with the channel. */
        c->consuming = false;
        c->ctag[0] = '\0';
    }
    if (ch == BUS_CH_PUB) {
        /* Numbering restarts with the new channel; whatever was not
         * confirmed on the old one never will be. */
        c->pub_seq = 0;
        if (c->wait_seq && c->wait_rc == 1)
            c->wait_rc = GAU_EIO;
        if (last && c->hooks.confirm)
            c->hooks.confirm(c->hooks.arg, last, true, false);
    }
    if (!c->amqp)
        return GAU_EUNAVAIL;
    return channel_open(c, ch);
}

static int login_rc(struct bus_conn *c, amqp_rpc_reply_t r)
{
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;

        log_error("cannot log in to the broker as '%s': %.*s",
                  c->info.user, (int)m->reply_text.len,
                  (char *)m->reply_text.bytes);
        return GAU_EUNAUTH;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        log_error("cannot log in to the broker as '%s': %s", c->info.user,
                  amqp_error_string2(r.library_error));
        return GAU_EUNAVAIL;
    }
    log_error("cannot log in to the broker as '%s': unexpected reply",
              c->info.user);
    return GAU_EUNAVAIL;
}

static int connect_socket(struct bus_conn *c)
{
    struct timeval tv = ms_tv(BUS_CONNECT_TIMEOUT_MS);
    amqp_socket_t *sock;
    int st;

    c->amqp = amqp_new_connection();
    sock = amqp_tcp_socket_new(c->amqp);
    if (!sock) {
        log_error("cannot create a socket for connection '%s'", c->name);
        return GAU_EIO;
    }
    st = amqp_socket_open_noblock(sock, c->info.host, c->info.port, &tv);
    if (st != AMQP_STATUS_OK) {
        log_warn("cannot connect to the broker at %s:%d: %s", c->info.host,
                 c->info.port, amqp_error_string2(st));
        return GAU_EUNAVAIL;
    }
    tv = ms_tv(BUS_CONNECT_TIMEOUT_MS);
    amqp_set_handshake_timeout(c->amqp, &tv);
    tv = ms_tv(BUS_RPC_TIMEOUT_MS);
    amqp_set_rpc_timeout(c->amqp, &tv);
    return 0;
}

static int login(struct bus_conn *c)
{
    amqp_table_entry_t entry;
    amqp_table_t props = { 1, &entry };
    amqp_rpc_reply_t r;

    /* Shown as the connection's name in the management UI. */
    entry.key = amqp_cstring_bytes("connection_name");
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = amqp_cstring_bytes(c->name);
    r = amqp_login_with_properties(c->amqp, c->info.vhost,
                                   AMQP_DEFAULT_MAX_CHANNELS, BUS_FRAME_MAX,
                                   BUS_HEARTBEAT_S, &props,
                                   AMQP_SASL_METHOD_PLAIN, c->info.user,
                                   c->info.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return login_rc(c, r);
    return 0;
}

int bus_conn_open(struct bus_conn *c)
{
    int rc;

    bus_conn_close(c);
    if (c->url_rc)
        return c->url_rc;

    rc = connect_socket(c);
    if (rc == 0)
        rc = login(c);
    if (rc < 0)
        goto out;

    c->open = true;
    rc = channel_open(c, BUS_CH_PUB);
    if (rc == 0)
        rc = channel_open(c, BUS_CH_CONSUME);
    if (rc == 0)
        log_info("connected '%s' to the broker at %s:%d as '%s'", c->name,
                 c->info.host, c->info.port, c->info.user);

out:
    if (rc < 0 && c->amqp) {
        amqp_destroy_connection(c->amqp);
        c->amqp = NULL;
        reset_state(c);
    }
    return rc;
}

/* Sleeps ms, waking every 50 ms to look at *stop. */
static void nap(int ms, volatile int *stop)
{
    while (ms > 0 && !(stop && *stop)) {
        int step = ms < 50 ? ms : 50;

        poll(NULL, 0, step);
        ms -= step;
    }
}

int bus_conn_open_retry(struct bus_conn *c, volatile int *stop,
                        int64_t deadline_mono_ms)
{
    int delay = BUS_BACKOFF_MIN_MS;
    int rc;

    for (;;) {
        if (stop && *stop)
            return GAU_ESTOPPED;
        rc = bus_conn_open(c);
        if (rc == 0 || rc == GAU_EINVAL)
            return rc;
        if (deadline_mono_ms &&
            gau_mono_ms() + delay >= deadline_mono_ms)
            return GAU_EUNAVAIL;

        log_info("retrying connection '%s' in %d ms", c->name, delay);
        nap(delay, stop);
        delay = delay * 2 > BUS_BACKOFF_MAX_MS ? BUS_BACKOFF_MAX_MS
                                               : delay * 2;
    }
}
