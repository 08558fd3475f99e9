/*
 * test_actor_runtime.c - the server-free parts of the actor runtime:
 * supervisor backoff, retry levels, dead-letter reasons, trusted
 * publishers, the request hash and the projection hash builder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "actors/runtime/actor.h"
#include "actors/runtime/pool.h"
#include "actors/runtime/projection.h"
#include "actors/runtime/tx.h"
#include "bus/bus.h"
#include "core/err.h"
#include "gau_schema.h"

static void test_backoff(void **state)
{
    int64_t d = 0;
    int i;

    (void)state;
    assert_int_equal(pool_backoff_ms(0, 0), 100);
    d = pool_backoff_ms(0, 5);
    for (i = 0; i < 6; i++)
        d = pool_backoff_ms(d, 5);
    assert_int_equal(d, 6400);
    d = pool_backoff_ms(d, 5);
    assert_int_equal(d, POOL_BACKOFF_MAX_MS);
    assert_int_equal(pool_backoff_ms(d, 5), POOL_BACKOFF_MAX_MS);
    /* A child that stayed up 30 s starts over. */
    assert_int_equal(pool_backoff_ms(d, POOL_STABLE_MS), 100);
    assert_int_equal(pool_backoff_ms(d, POOL_STABLE_MS - 1),
                     POOL_BACKOFF_MAX_MS);
}

static void test_retry_queue(void **state)
{
    char q[64];

    (void)state;
    assert_int_equal(actor_retry_queue("account", 0, q, sizeof(q)), 0);
    assert_string_equal(q, "account.retry.1");
    assert_int_equal(actor_retry_queue("account", 2, q, sizeof(q)), 0);
    assert_string_equal(q, "account.retry.3");
    assert_int_equal(actor_retry_queue("account", GAU_BUS_RETRY_LEVELS, q,
                                       sizeof(q)), GAU_ENOTFOUND);
    assert_int_equal(actor_retry_queue("account", -4, q, sizeof(q)), 0);
    assert_string_equal(q, "account.retry.1");
}

static void test_reason_invalid(void **state)
{
    struct gau_field_errors fe = GAU_FIELD_ERRORS_INIT;
    char buf[200], tiny[12];

    (void)state;
    actor_reason_invalid(&fe, buf, sizeof(buf));
    assert_string_equal(buf, "invalid: payload rejected");
    gau_field_errors_add(&fe, "password", "must be at least 8 characters");
    gau_field_errors_add(&fe, "email", "is not an email address");
    actor_reason_invalid(&fe, buf, sizeof(buf));
    assert_string_equal(buf, "invalid: password: must be at least 8 "
                             "characters; email: is not an email address");
    actor_reason_invalid(&fe, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void test_user_in(void **state)
{
    (void)state;
    assert_true(actor_user_in("gau-edge", "gau-edge"));
    assert_true(actor_user_in("a, gau-edge,b", "gau-edge"));
    assert_false(actor_user_in("gau-edge", "gau-edg"));
    assert_false(actor_user_in("gau-edge", "gau-edge2"));
    assert_false(actor_user_in("gau-edge", ""));
    assert_false(actor_user_in("", "gau-edge"));
}

static void route(struct bus_delivery *d, const char *exchange,
                  const char *key, const char *origin)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->exchange, sizeof(d->exchange), "%s", exchange);
    snprintf(d->routing_key, sizeof(d->routing_key), "%s", key);
    snprintf(d->origin, sizeof(d->origin), "%s", origin);
}

static void test_check_route(void **state)
{
    struct bus_delivery d;
    char why[200];

    (void)state;
    /* Published to gau.commands: the routing key itself must match. */
    route(&d, "gau.commands", "account.register", "");
    assert_int_equal(actor_check_route(&d, "account.register", why,
                                       sizeof(why)), 0);
    assert_int_equal(actor_check_route(&d, "account.login", why,
                                       sizeof(why)), GAU_EPROTO);
    assert_string_equal(why, "routing key 'account.register' does not "
                             "match type 'account.login'");
    /* A forged header does not override the real routing key. */
    route(&d, "gau.commands", "account.register", "account.login");
    assert_int_equal(actor_check_route(&d, "account.login", why,
                                       sizeof(why)), GAU_EPROTO);
    /* Back from a retry queue: routing key is the queue, origin counts. */
    route(&d, "", "account.commands", "account.login");
    assert_string_equal(actor_routed_key(&d), "account.login");
    assert_int_equal(actor_check_route(&d, "account.login", why,
                                       sizeof(why)), 0);
    assert_int_equal(actor_check_route(&d, "account.register", why,
                                       sizeof(why)), GAU_EPROTO);
    route(&d, "gau.dlx", "account.commands", "account.login");
    assert_int_equal(actor_check_route(&d, "account.login", why,
                                       sizeof(why)), 0);
    /* Straight into the queue, with no origin: refused. */
    route(&d, "", "account.commands", "");
    assert_int_equal(actor_check_route(&d, "account.login", why,
                                       sizeof(why)), GAU_EPROTO);
    assert_string_equal(why, "routing key '' does not match type "
                             "'account.login'");
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Looks up key in map m; NULL when absent. */
static const msgpack_object *map_get(const msgpack_object *m, const char *k)
{
    uint32_t i;

    for (i = 0; i < m->via.map.size; i++)
        if (m->via.map.ptr[i].key.via.str.size == strlen(k) &&
            memcmp(m->via.map.ptr[i].key.via.str.ptr, k, strlen(k)) == 0)
            return &m->via.map.ptr[i].val;
    return NULL;
}

static void test_redact_secrets(void **state)
{
    msgpack_sbuffer in, out;
    msgpack_packer pk;
    msgpack_unpacked u, r;
    const msgpack_object *pl, *v;

    (void)state;
    msgpack_sbuffer_init(&in);
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "type");
    pack_str(&pk, "account.register");
    pack_str(&pk, "payload");
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "username");
    pack_str(&pk, "idem1");
    pack_str(&pk, "password");
    pack_str(&pk, "short");
    pack_str(&pk, "bogus");
    msgpack_pack_int(&pk, 1);
    msgpack_unpacked_init(&u);
    msgpack_unpacked_init(&r);
    assert_int_equal(msgpack_unpack_next(&u, in.data, in.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);

    assert_int_equal(actor_redact_secrets(&u.data,
                                          &gau_account_register_info, &out),
                     1);
    assert_null(memmem(out.data, out.size, "short", 5));
    assert_int_equal(msgpack_unpack_next(&r, out.data, out.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    v = map_get(&r.data, "type");
    assert_non_null(v);
    assert_memory_equal(v->via.str.ptr, "account.register", 16);
    pl = map_get(&r.data, "payload");
    assert_non_null(pl);
    assert_int_equal(pl->via.map.size, 3);
    assert_int_equal(map_get(pl, "password")->type, MSGPACK_OBJECT_NIL);
    assert_memory_equal(map_get(pl, "username")->via.str.ptr, "idem1", 5);
    assert_int_equal(map_get(pl, "bogus")->via.u64, 1);

    /* A type without secrets: nothing replaced. */
    msgpack_sbuffer_clear(&out);
    assert_int_equal(actor_redact_secrets(&u.data,
                                          &gau_account_profile_update_info,
                                          &out),
                     0);
    msgpack_unpacked_destroy(&u);
    msgpack_unpacked_destroy(&r);
    msgpack_sbuffer_destroy(&in);
    msgpack_sbuffer_destroy(&out);
}

static void test_request_hash(void **state)
{
    unsigned char a[TX_HASH_LEN], b[TX_HASH_LEN];

    (void)state;
    tx_request_hash("account.register", "", "\x81\xa1x\x01", 4, a);
    tx_request_hash("account.register", "", "\x81\xa1x\x01", 4, b);
    assert_memory_equal(a, b, TX_HASH_LEN);
    /* The NUL separators keep type, user and payload apart. */
    tx_request_hash("account.registe", "r", "\x81\xa1x\x01", 4, b);
    assert_memory_not_equal(a, b, TX_HASH_LEN);
    tx_request_hash("account.register", "u", "\x81\xa1x\x01", 4, b);
    assert_memory_not_equal(a, b, TX_HASH_LEN);
    tx_request_hash("account.register", "", "\x81\xa1x\x02", 4, b);
    assert_memory_not_equal(a, b, TX_HASH_LEN);
}

static void test_proj_hash(void **state)
{
    static struct proj_hash h;
    char name[8];
    int i;

    (void)state;
    proj_hash_init(&h);
    proj_hash_key(&h, "gau:%s:user:%d", "account", 7);
    assert_string_equal(h.key, "gau:account:user:7");
    proj_hash_i64(&h, "version", -3);
    assert_string_equal(h.value[0], "-3");
    for (i = 0; i < PROJ_FIELDS_MAX + 4; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        proj_hash_str(&h, name, "v");
    }
    assert_int_equal(h.n, PROJ_FIELDS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry_queue),
        cmocka_unit_test(test_reason_invalid),
        cmocka_unit_test(test_user_in),
        cmocka_unit_test(test_check_route),
        cmocka_unit_test(test_redact_secrets),
        cmocka_unit_test(test_request_hash),
        cmocka_unit_test(test_proj_hash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
