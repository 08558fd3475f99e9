/*
 * props.c - conversions between librabbitmq's property and table types and
 * the bus structs. Pure functions: no connection, no allocation.
 */
#include <limits.h>
#include <string.h>

#include "bus/conn_internal.h"
#include "core/err.h"

#define BUS_CONTENT_TYPE "application/msgpack"

void bus__copy_bytes(char *dst, size_t size, amqp_bytes_t b)
{
    size_t n = b.len;

    if (size == 0)
        return;
    if (n > size - 1)
        n = size - 1;
    if (n)
        memcpy(dst, b.bytes, n);
    dst[n] = '\0';
}

static const amqp_field_value_t *table_find(const amqp_table_t *t,
                                            const char *key)
{
    size_t klen = strlen(key);
    int i;

    for (i = 0; t && i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];

        if (e->key.len == klen && memcmp(e->key.bytes, key, klen) == 0)
            return &e->value;
    }
    return NULL;
}

bool bus__table_int(const amqp_table_t *t, const char *key, int64_t *out)
{
    const amqp_field_value_t *v = table_find(t, key);

    if (!v)
        return false;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: *out = v->value.i8; return true;
    case AMQP_FIELD_KIND_U8: *out = v->value.u8; return true;
    case AMQP_FIELD_KIND_I16: *out = v->value.i16; return true;
    case AMQP_FIELD_KIND_U16: *out = v->value.u16; return true;
    case AMQP_FIELD_KIND_I32: *out = v->value.i32; return true;
    case AMQP_FIELD_KIND_U32: *out = v->value.u32; return true;
    case AMQP_FIELD_KIND_I64: *out = v->value.i64; return true;
    case AMQP_FIELD_KIND_U64:
        /* Values past INT64_MAX are clamped; no attempt count gets there. */
        *out = v->value.u64 > INT64_MAX ? INT64_MAX : (int64_t)v->value.u64;
        return true;
    default:
        return false;
    }
}

bool bus__table_str(const amqp_table_t *t, const char *key, char *dst,
                    size_t size)
{
    const amqp_field_value_t *v = table_find(t, key);

    if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 &&
               v->kind != AMQP_FIELD_KIND_BYTES))
        return false;
    bus__copy_bytes(dst, size, v->value.bytes);
    return true;
}

static void copy_prop(char *dst, size_t size, const amqp_basic_properties_t *p,
                      amqp_flags_t flag, amqp_bytes_t b)
{
    if (p->_flags & flag)
        bus__copy_bytes(dst, size, b);
    else if (size)
        dst[0] = '\0';
}

void bus__delivery_props(struct bus_delivery *d,
                         const amqp_basic_properties_t *p)
{
    int64_t attempt = 0;

    copy_prop(d->message_id, sizeof(d->message_id), p,
              AMQP_BASIC_MESSAGE_ID_FLAG, p->message_id);
    copy_prop(d->correlation_id, sizeof(d->correlation_id), p,
              AMQP_BASIC_CORRELATION_ID_FLAG, p->correlation_id);
    copy_prop(d->reply_to, sizeof(d->reply_to), p, AMQP_BASIC_REPLY_TO_FLAG,
              p->reply_to);
    copy_prop(d->type, sizeof(d->type), p, AMQP_BASIC_TYPE_FLAG, p->type);
    copy_prop(d->user_id, sizeof(d->user_id), p, AMQP_BASIC_USER_ID_FLAG,
              p->user_id);

    d->attempt = 0;
    d->reason[0] = '\0';
    d->origin[0] = '\0';
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return;
    if (bus__table_int(&p->headers, GAU_HDR_ATTEMPT, &attempt))
        d->attempt = attempt < 0 ? 0 : attempt > INT_MAX ? INT_MAX
                                                         : (int)attempt;
    bus__table_str(&p->headers, GAU_HDR_REASON, d->reason, sizeof(d->reason));
    bus__table_str(&p->headers, GAU_HDR_ORIGIN, d->origin, sizeof(d->origin));
}

static void set_str(amqp_basic_properties_t *out, amqp_flags_t flag,
                    amqp_bytes_t *field, const char *s)
{
    if (!s)
        return;
    out->_flags |= flag;
    *field = amqp_cstring_bytes(s);
}

static void add_header_str(amqp_table_t *t, const char *key, const char *s)
{
    amqp_table_entry_t *e = &t->entries[t->num_entries++];

    e->key = amqp_cstring_bytes(key);
    e->value.kind = AMQP_FIELD_KIND_UTF8;
    e->value.value.bytes = amqp_cstring_bytes(s);
}

void bus__build_props(amqp_basic_properties_t *out,
                      amqp_table_entry_t entries[BUS_HDR_MAX],
                      const struct bus_props *props)
{
    memset(out, 0, sizeof(*out));
    out->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    out->content_type = amqp_cstring_bytes(BUS_CONTENT_TYPE);
    out->delivery_mode = props && props->transient ? 1 : 2;
    if (!props)
        return;

    set_str(out, AMQP_BASIC_MESSAGE_ID_FLAG, &out->message_id,
            props->message_id);
    set_str(out, AMQP_BASIC_CORRELATION_ID_FLAG, &out->correlation_id,
            props->correlation_id);
    set_str(out, AMQP_BASIC_REPLY_TO_FLAG, &out->reply_to, props->reply_to);
    set_str(out, AMQP_BASIC_TYPE_FLAG, &out->type, props->type);
    set_str(out, AMQP_BASIC_USER_ID_FLAG, &out->user_id, props->user_id);
    if (props->timestamp_s > 0) {
        out->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        out->timestamp = (uint64_t)props->timestamp_s;
    }

    out->headers.entries = entries;
    out->headers.num_entries = 0;
    if (props->attempt > 0) {
        amqp_table_entry_t *e = &entries[out->headers.num_entries++];

        e->key = amqp_cstring_bytes(GAU_HDR_ATTEMPT);
        e->value.kind = AMQP_FIELD_KIND_I32;
        e->value.value.i32 = props->attempt;
    }
    if (props->reason)
        add_header_str(&out->headers, GAU_HDR_REASON, props->reason);
    if (props->origin)
        add_header_str(&out->headers, GAU_HDR_ORIGIN, props->origin);
    if (props->redacted) {
        amqp_table_entry_t *e = &entries[out->headers.num_entries++];

        e->key = amqp_cstring_bytes(GAU_HDR_REDACTED);
        e->value.kind = AMQP_FIELD_KIND_BOOLEAN;
        e->value.value.boolean = 1;
    }
    if (out->headers.num_entries)
        out->_flags |= AMQP_BASIC_HEADERS_FLAG;
}

int bus__code_rc(int code)
{
    switch (code) {
    case AMQP_ACCESS_REFUSED:
    case AMQP_NOT_ALLOWED:
        return GAU_EFORBIDDEN;
    case AMQP_NOT_FOUND:
        return GAU_ENOTFOUND;
    case AMQP_PRECONDITION_FAILED:
    case AMQP_RESOURCE_LOCKED:
        return GAU_ECONFLICT;
    case AMQP_CONNECTION_FORCED:
    case AMQP_RESOURCE_ERROR:
        return GAU_EUNAVAIL;
    default:
        return GAU_EIO;
    }
}
