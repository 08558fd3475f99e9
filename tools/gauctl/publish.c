/*
 * gauctl publish <type> '<json payload>' [--principal user:session]
 *                [--timeout ms] [--id command-id]
 *
 * Maps the JSON payload with the generated mapping, publishes the command
 * to gau.commands with a reply queue of its own (GAU_AMQP_URL), waits for
 * the reply and prints it as JSON. Exit 0 for a success reply, 1 for an
 * error reply or no reply, 2 for bad usage or a payload that does not map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "bus/bus.h"
#include "bus/envelope.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "gau_schema.h"
#include "tools/gauctl/gauctl.h"

struct pub_opts {
    const char *type;
    const char *json;
    const char *principal;
    const char *id;
    long timeout_ms;
};

static int pub_usage(void)
{
    fprintf(stderr, "usage: gauctl publish <type> '<json payload>' "
                    "[--principal user_id:session_id] [--timeout ms] "
                    "[--id command-id]\n");
    return CTL_USAGE;
}

static int pub_parse(int argc, char **argv, struct pub_opts *o)
{
    int i, pos = 0;

    memset(o, 0, sizeof(*o));
    o->timeout_ms = 5000;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--principal") == 0 && i + 1 < argc)
            o->principal = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            o->timeout_ms = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
            o->id = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return -1;
        else if (pos == 0 && ++pos)
            o->type = argv[i];
        else if (pos == 1 && ++pos)
            o->json = argv[i];
        else
            return -1;
    }
    if (!o->type || !o->json || o->timeout_ms <= 0)
        return -1;
    return 0;
}

static void pub_print_fields(const struct gau_field_errors *fe)
{
    int i;

    for (i = 0; i < fe->count; i++)
        fprintf(stderr, "  %s: %s\n", fe->e[i].field, fe->e[i].reason);
}

/* Builds the envelope body of the command into sb. Returns 0 or usage. */
static int pub_build(const struct pub_opts *o, msgpack_sbuffer *sb,
                     struct gau_env_hdr *hdr)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    const struct gau_msg_info *info = gau_msg_find(o->type);
    json_error_t jerr;
    json_t *j = NULL;
    void *payload = NULL;
    const char *colon;
    int rc = CTL_USAGE;

    if (!info || info->kind != GAU_MSG_COMMAND) {
        fprintf(stderr, "gauctl publish: '%s' is not a command type\n",
                o->type);
        return CTL_USAGE;
    }
    j = json_loads(o->json, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "gauctl publish: the payload is not a JSON object%s"
                "%s\n", j ? "" : ": ", j ? "" : jerr.text);
        goto out;
    }
    payload = xcalloc(1, info->size);
    if (info->from_json(j, payload, &fe) < 0) {
        fprintf(stderr, "gauctl publish: invalid payload:\n");
        pub_print_fields(&fe);
        goto out;
    }
    gau_env_hdr_init(hdr, info->name, info->version, NULL, NULL);
    if (o->id)
        snprintf(hdr->id, sizeof(hdr->id), "%s", o->id);
    hdr->deadline_ms = gau_now_ms() + o->timeout_ms;
    if (o->principal) {
        colon = strchr(o->principal, ':');
        hdr->has_principal = true;
        snprintf(hdr->principal.user_id, sizeof(hdr->principal.user_id),
                 "%.*s", colon ? (int)(colon - o->principal) : 36,
                 o->principal);
        snprintf(hdr->principal.session_id,
                 sizeof(hdr->principal.session_id), "%s",
                 colon ? colon + 1 : "");
    }
    gau_envelope_pack(sb, hdr, info, payload);
    rc = 0;
out:
    if (payload)
        memset(payload, 0, info->size);
    free(payload);
    json_decref(j);
    return rc;
}

/* Prints a reply body as JSON; returns the exit code it stands for. */
static int pub_print_reply(const void *body, size_t len)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    const struct gau_msg_info *info;
    struct gau_error_reply er;
    struct gau_envelope env;
    json_t *j = NULL, *fields;
    void *payload = NULL;
    char why[160], *text;
    int rc = CTL_FAILED, i;

    if (gau_envelope_decode(&env, body, len, GAU_ENV_BODY_MAX, why,
                            sizeof(why)) < 0) {
        fprintf(stderr, "gauctl publish: malformed reply: %s\n", why);
        return CTL_FAILED;
    }
    info = gau_msg_find(env.hdr.type);
    if (strcmp(env.hdr.type, "error") == 0) {
        if (gau_error_reply_decode(env.payload, &er) == 0) {
            fields = json_object();
            for (i = 0; i < er.fields.count; i++)
                json_object_set_new(fields, er.fields.e[i].field,
                                    json_string(er.fields.e[i].reason));
            j = json_pack("{s:{s:s,s:s,s:o}}", "error", "code", er.code,
                          "message", er.message, "fields", fields);
        }
    } else if (info) {
        payload = xcalloc(1, info->size);
        if (info->decode(env.payload, payload, &fe) == 0) {
            j = info->to_json(payload);
            rc = CTL_OK;
        }
    }
    text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    if (text)
        printf("%s\n", text);
    else
        fprintf(stderr, "gauctl publish: cannot read reply of type %s\n",
                env.hdr.type);
    free(text);
    json_decref(j);
    free(payload);
    gau_envelope_release(&env);
    return text ? rc : CTL_FAILED;
}

static int pub_wait(struct bus_conn *c, const char *corr, int64_t deadline)
{
    struct bus_delivery d;
    int64_t left;
    int rc;

    while ((left = deadline - gau_mono_ms()) > 0) {
        rc = bus_next(c, &d, (int)left);
        if (rc == GAU_ETIMEOUT)
            break;
        if (rc < 0) {
            fprintf(stderr, "gauctl publish: lost the broker connection\n");
            return CTL_FAILED;
        }
        bus_ack(c, d.tag);
        if (strcmp(d.correlation_id, corr) == 0) {
            rc = pub_print_reply(d.body, d.len);
            bus_delivery_release(&d);
            return rc;
        }
        bus_delivery_release(&d);
    }
    fprintf(stderr, "gauctl publish: no reply within the timeout\n");
    return CTL_FAILED;
}

int ctl_publish(int argc, char **argv)
{
    struct pub_opts o;
    struct gau_env_hdr hdr;
    struct bus_props p;
    struct bus_conn *c = NULL;
    msgpack_sbuffer sb;
    char queue[256], corr[GAU_UUID_LEN + 1];
    int64_t deadline;
    int rc;

    if (pub_parse(argc, argv, &o) < 0)
        return pub_usage();
    msgpack_sbuffer_init(&sb);
    rc = pub_build(&o, &sb, &hdr);
    if (rc != 0)
        goto out;
    deadline = gau_mono_ms() + o.timeout_ms;
    c = bus_conn_new(gau_env("GAU_AMQP_URL",
                             "amqp://guest:guest@127.0.0.1:5672/"),
                     "gauctl publish");
    rc = CTL_FAILED;
    if (bus_conn_open_retry(c, NULL, deadline) < 0 ||
        bus_declare_topology(c, NULL) < 0 ||
        bus_declare_reply_queue(c, queue, sizeof(queue)) < 0 ||
        bus_consume(c, queue, 16, GAU_ENV_BODY_MAX) < 0) {
        fprintf(stderr, "gauctl publish: cannot reach the broker\n");
        goto out;
    }
    gau_uuid_new(corr);
    memset(&p, 0, sizeof(p));
    p.message_id = hdr.id;
    p.correlation_id = corr;
    p.reply_to = queue;
    p.type = hdr.type;
    p.user_id = bus_conn_user(c);
    rc = bus_publish(c, GAU_EXCHANGE_COMMANDS, hdr.type, &p, sb.data,
                     sb.size);
    if (rc < 0) {
        fprintf(stderr, "gauctl publish: cannot publish %s: %s\n", hdr.type,
                gau_strerror(rc));
        rc = CTL_FAILED;
        goto out;
    }
    rc = pub_wait(c, corr, deadline);
out:
    bus_conn_free(c);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}
