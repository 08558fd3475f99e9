/*
 * test_bus_props.c - the broker-free parts of the bus: url handling and
 * the conversions between librabbitmq's tables and properties and the bus
 * structs.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus/conn_internal.h"
#include "core/err.h"

static amqp_table_entry_t entry_int(const char *key, char kind, int64_t v)
{
    amqp_table_entry_t e;

    memset(&e, 0, sizeof(e));
    e.key = amqp_cstring_bytes(key);
    e.value.kind = kind;
    switch (kind) {
    case AMQP_FIELD_KIND_I8: e.value.value.i8 = (int8_t)v; break;
    case AMQP_FIELD_KIND_U8: e.value.value.u8 = (uint8_t)v; break;
    case AMQP_FIELD_KIND_I16: e.value.value.i16 = (int16_t)v; break;
    case AMQP_FIELD_KIND_U16: e.value.value.u16 = (uint16_t)v; break;
    case AMQP_FIELD_KIND_I32: e.value.value.i32 = (int32_t)v; break;
    case AMQP_FIELD_KIND_U32: e.value.value.u32 = (uint32_t)v; break;
    case AMQP_FIELD_KIND_I64: e.value.value.i64 = v; break;
    case AMQP_FIELD_KIND_U64: e.value.value.u64 = (uint64_t)v; break;
    }
    return e;
}

static void test_table_int_any_width(void **state)
{
    static const char kinds[] = { AMQP_FIELD_KIND_I8,  AMQP_FIELD_KIND_U8,
                                  AMQP_FIELD_KIND_I16, AMQP_FIELD_KIND_U16,
                                  AMQP_FIELD_KIND_I32, AMQP_FIELD_KIND_U32,
                                  AMQP_FIELD_KIND_I64, AMQP_FIELD_KIND_U64 };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(kinds); i++) {
        amqp_table_entry_t e = entry_int("x-gau-attempt", kinds[i], 3);
        amqp_table_t t = { 1, &e };
        int64_t v = 0;

        assert_true(bus__table_int(&t, "x-gau-attempt", &v));
        assert_int_equal(v, 3);
        assert_false(bus__table_int(&t, "x-other", &v));
    }
}

static void test_table_int_rejects_strings(void **state)
{
    amqp_table_entry_t e;
    amqp_table_t t = { 1, &e };
    char s[8];
    int64_t v;

    (void)state;
    e.key = amqp_cstring_bytes("k");
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes("123456789");
    assert_false(bus__table_int(&t, "k", &v));
    assert_true(bus__table_str(&t, "k", s, sizeof(s)));
    assert_string_equal(s, "1234567");
    assert_false(bus__table_int(NULL, "k", &v));
}

static void test_copy_bytes_truncates(void **state)
{
    char small[4];

    (void)state;
    bus__copy_bytes(small, sizeof(small), amqp_cstring_bytes("abcdef"));
    assert_string_equal(small, "abc");
    bus__copy_bytes(small, sizeof(small), amqp_empty_bytes);
    assert_string_equal(small, "");
}

static void test_props_round_trip(void **state)
{
    struct bus_props in = { .message_id = "m-1", .correlation_id = "c-1",
                            .reply_to = "amq.gen-x", .type = "account.register",
                            .user_id = "gau-edge", .timestamp_s = 1700000000,
                            .attempt = 2, .reason = "decode: bad",
                            .origin = "account.register",
                            .redacted = true };
    amqp_basic_properties_t p;
    amqp_table_entry_t hdrs[BUS_HDR_MAX];
    struct bus_delivery d;

    (void)state;
    bus__build_props(&p, hdrs, &in);
    assert_int_equal(p.delivery_mode, 2);
    assert_int_equal(p.headers.num_entries, 4);
    assert_string_equal(p.headers.entries[3].key.bytes, GAU_HDR_REDACTED);
    assert_int_equal(p.headers.entries[3].value.kind,
                     AMQP_FIELD_KIND_BOOLEAN);
    assert_true(p.headers.entries[3].value.value.boolean);
    assert_true(p._flags & AMQP_BASIC_TIMESTAMP_FLAG);

    memset(&d, 0, sizeof(d));
    bus__delivery_props(&d, &p);
    assert_string_equal(d.message_id, "m-1");
    assert_string_equal(d.correlation_id, "c-1");
    assert_string_equal(d.reply_to, "amq.gen-x");
    assert_string_equal(d.type, "account.register");
    assert_string_equal(d.user_id, "gau-edge");
    assert_int_equal(d.attempt, 2);
    assert_string_equal(d.reason, "decode: bad");
    assert_string_equal(d.origin, "account.register");
}

static void test_props_minimal(void **state)
{
    struct bus_props in = { .transient = true };
    amqp_basic_properties_t p;
    amqp_table_entry_t hdrs[BUS_HDR_MAX];
    struct bus_delivery d;

    (void)state;
    bus__build_props(&p, hdrs, &in);
    assert_int_equal(p.delivery_mode, 1);
    assert_false(p._flags & AMQP_BASIC_HEADERS_FLAG);
    assert_false(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG);

    memset(&d, 'z', sizeof(d));
    bus__delivery_props(&d, &p);
    assert_string_equal(d.message_id, "");
    assert_string_equal(d.user_id, "");
    assert_int_equal(d.attempt, 0);
    assert_string_equal(d.reason, "");
}

static void test_attempt_clamped(void **state)
{
    amqp_table_entry_t e = entry_int(GAU_HDR_ATTEMPT, AMQP_FIELD_KIND_I64,
                                     (int64_t)INT_MAX + 10);
    amqp_basic_properties_t p;
    struct bus_delivery d;

    (void)state;
    memset(&p, 0, sizeof(p));
    p._flags = AMQP_BASIC_HEADERS_FLAG;
    p.headers.num_entries = 1;
    p.headers.entries = &e;
    bus__delivery_props(&d, &p);
    assert_int_equal(d.attempt, INT_MAX);
    e.value.value.i64 = -4;
    bus__delivery_props(&d, &p);
    assert_int_equal(d.attempt, 0);
}

static void test_url(void **state)
{
    struct bus_conn *c;

    (void)state;
    c = bus_conn_new("amqp://gau-edge:pw@127.0.0.1:5672/", "t");
    assert_string_equal(bus_conn_user(c), "gau-edge");
    assert_string_equal(c->info.vhost, "/");
    assert_int_equal(c->info.port, 5672);
    assert_false(bus_conn_is_open(c));
    assert_int_equal(bus_conn_fd(c), -1);
    bus_conn_free(c);

    c = bus_conn_new("amqp://u:p@h/gau", "t");
    assert_string_equal(c->info.vhost, "gau");
    bus_conn_free(c);

    c = bus_conn_new("not a url", "t");
    assert_string_equal(bus_conn_user(c), "");
    assert_int_equal(bus_conn_open(c), GAU_EINVAL);
    bus_conn_free(c);
    bus_conn_free(NULL);
}

static void test_code_rc(void **state)
{
    (void)state;
    assert_int_equal(bus__code_rc(403), GAU_EFORBIDDEN);
    assert_int_equal(bus__code_rc(404), GAU_ENOTFOUND);
    assert_int_equal(bus__code_rc(406), GAU_ECONFLICT);
    assert_int_equal(bus__code_rc(320), GAU_EUNAVAIL);
    assert_int_equal(bus__code_rc(541), GAU_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_int_any_width),
        cmocka_unit_test(test_table_int_rejects_strings),
        cmocka_unit_test(test_copy_bytes_truncates),
        cmocka_unit_test(test_props_round_trip),
        cmocka_unit_test(test_props_minimal),
        cmocka_unit_test(test_attempt_clamped),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_code_rc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
