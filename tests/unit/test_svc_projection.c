/*
 * test_svc_projection.c - the services' pure parts: the Redis hashes built
 * from their events, conflict messages, and the seal key format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/account/account.h"
#include "actors/authorization/authorization.h"
#include "actors/runtime/projection.h"
#include "core/err.h"
#include "gau_schema.h"

static struct proj_hash h;

static const char *field(const struct proj_hash *ph, const char *name)
{
    int i;

    for (i = 0; i < ph->n; i++)
        if (strcmp(ph->name[i], name) == 0)
            return ph->value[i];
    return NULL;
}

static void test_account_registered(void **state)
{
    struct gau_account_user_registered ev;

    (void)state;
    memset(&ev, 0, sizeof(ev));
    strcpy(ev.user_id, "0b6a8f3e-8c2f-4c8e-9a57-3d9c1f0e2a11");
    strcpy(ev.username, "alice");
    ev.has_username = true;
    strcpy(ev.fullname, "Alice");
    ev.created_at = 1700000000123;
    ev.updated_at = 1700000000123;
    ev.version = 1;
    proj_hash_init(&h);
    assert_int_equal(account_project_registered(&ev, &h), 0);
    assert_string_equal(h.key, "gau:account:user:"
                               "0b6a8f3e-8c2f-4c8e-9a57-3d9c1f0e2a11");
    assert_int_equal(h.version, 1);
    assert_int_equal(h.expire_s, 0);
    assert_string_equal(field(&h, "username"), "alice");
    assert_string_equal(field(&h, "created_at"), "1700000000123");
    assert_string_equal(field(&h, "version"), "1");
    /* Absent optional fields are absent from the hash. */
    assert_null(field(&h, "email"));
    assert_null(field(&h, "date_of_birth"));
    assert_null(field(&h, "gender"));
    assert_null(field(&h, "password_hash"));
}

static void test_account_updated(void **state)
{
    struct gau_account_profile_updated ev;

    (void)state;
    memset(&ev, 0, sizeof(ev));
    strcpy(ev.user_id, "0b6a8f3e-8c2f-4c8e-9a57-3d9c1f0e2a11");
    strcpy(ev.email, "a@example.com");
    ev.has_email = true;
    strcpy(ev.gender, "other");
    ev.has_gender = true;
    ev.version = 4;
    proj_hash_init(&h);
    assert_int_equal(account_project_updated(&ev, &h), 0);
    assert_int_equal(h.version, 4);
    assert_string_equal(field(&h, "gender"), "other");
    assert_string_equal(field(&h, "fullname"), "");
    assert_null(field(&h, "username"));
}

static void test_session_projections(void **state)
{
    struct gau_authorization_session_opened op;
    struct gau_authorization_session_revoked rv;

    (void)state;
    memset(&op, 0, sizeof(op));
    strcpy(op.session_id, "5a1f0c9e-2f4e-4a55-8d3b-7c1e9f2a6b00");
    strcpy(op.user_id, "0b6a8f3e-8c2f-4c8e-9a57-3d9c1f0e2a11");
    strcpy(op.status, "active");
    op.version = 1;
    proj_hash_init(&h);
    assert_int_equal(authz_project_opened(&op, &h), 0);
    assert_string_equal(h.key, "gau:authorization:session:"
                               "5a1f0c9e-2f4e-4a55-8d3b-7c1e9f2a6b00");
    assert_string_equal(field(&h, "status"), "active");
    assert_int_equal(h.expire_s, 0);
    assert_int_equal(h.n, 4);

    memset(&rv, 0, sizeof(rv));
    strcpy(rv.session_id, op.session_id);
    strcpy(rv.user_id, op.user_id);
    strcpy(rv.reason, "logout");
    strcpy(rv.status, "revoked");
    rv.version = 3;
    setenv("GAU_ACCESS_TTL_S", "900", 1);
    proj_hash_init(&h);
    assert_int_equal(authz_project_revoked(&rv, &h), 0);
    assert_string_equal(field(&h, "status"), "revoked");
    assert_int_equal(h.version, 3);
    assert_int_equal(h.expire_s, 960);
}

static void test_conflict_message(void **state)
{
    const char *f;

    (void)state;
    assert_string_equal(account_conflict_message("users_username", &f),
                        "username is taken");
    assert_string_equal(f, "username");
    assert_string_equal(account_conflict_message("users_email", &f),
                        "email is taken");
    assert_string_equal(f, "email");
    assert_string_equal(account_conflict_message("users_pkey", &f),
                        "user already exists");
    assert_null(f);
}

static void test_seal_key(void **state)
{
    unsigned char key[32];
    char hex[65];

    (void)state;
    memset(hex, 'a', 64);
    hex[64] = '\0';
    hex[0] = '0';
    hex[1] = 'F';
    assert_int_equal(authz_parse_seal_key(hex, key), 0);
    assert_int_equal(key[0], 0x0f);
    assert_int_equal(key[31], 0xaa);
    hex[5] = 'g';
    assert_int_equal(authz_parse_seal_key(hex, key), GAU_EINVAL);
    assert_int_equal(authz_parse_seal_key("abcd", key), GAU_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_registered),
        cmocka_unit_test(test_account_updated),
        cmocka_unit_test(test_session_projections),
        cmocka_unit_test(test_conflict_message),
        cmocka_unit_test(test_seal_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
