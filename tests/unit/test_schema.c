/*
 * test_schema.c - the generated message code: round trips of every
 * message, formats, limits, msgpack and JSON mapping rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/err.h"
#include "gau_schema.h"

#define USER "0b6f1c7e-5d1a-4c1e-9a8e-2f1d3c4b5a69"
#define TS 1796288022123LL /* 2026-12-03T08:53:42.123Z */

/* The reason recorded for field, or NULL. */
static const char *reason(const struct gau_field_errors *errs,
                          const char *field)
{
    int i;

    for (i = 0; i < errs->count; i++)
        if (strcmp(errs->e[i].field, field) == 0)
            return errs->e[i].reason;
    return NULL;
}

static void expect_reason(const struct gau_field_errors *errs,
                          const char *field, const char *want)
{
    const char *got = reason(errs, field);

    if (!got)
        fail_msg("no error for field '%s'", field);
    assert_string_equal(got, want);
}

/* Parses JSON text (single quotes stand for double quotes). */
static json_t *js(const char *text)
{
    char *t = strdup(text), *p;
    json_error_t je;
    json_t *j;

    for (p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    j = json_loads(t, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    free(t);
    return j;
}

/* Runs account.register from_json on text; returns rc, fills errs. */
static int reg_json(const char *text, struct gau_account_register *out,
                    struct gau_field_errors *errs)
{
    json_t *j = js(text);
    int rc;

    memset(errs, 0, sizeof(*errs));
    rc = gau_account_register_from_json(j, out, errs);
    json_decref(j);
    return rc;
}

/* Fills every field of a message with a valid value. */
static void fill_valid(const struct gau_msg_info *m, void *s)
{
    size_t i;

    memset(s, 0, m->size);
    for (i = 0; i < m->fields_count; i++) {
        const struct gau_field_info *f = &m->fields[i];
        char *p = (char *)s + f->offset;
        size_t n;

        if (f->optional)
            *(bool *)((char *)s + f->has_offset) = true;
        switch (f->type) {
        case GAU_FIELD_STRING:
            /* As many two-byte characters as min asks, at least 5. */
            n = f->has_min && f->min > 5 ? (size_t)f->min : 5;
            for (size_t k = 0; k < n; k++)
                memcpy(p + 2 * k, "\xc3\xa9", 2);
            p[2 * n] = '\0';
            break;
        case GAU_FIELD_UUID: strcpy(p, USER); break;
        case GAU_FIELD_EMAIL: strcpy(p, "bob@example.com"); break;
        case GAU_FIELD_USERNAME: strcpy(p, "bob"); break;
        case GAU_FIELD_DATE: strcpy(p, "2000-02-29"); break;
        case GAU_FIELD_ENUM: strcpy(p, f->values[0]); break;
        case GAU_FIELD_BOOL: *(bool *)p = true; break;
        case GAU_FIELD_TIMESTAMP: *(int64_t *)p = TS; break;
        default: *(int64_t *)p = f->has_min ? f->min + 1 : 42;
        }
    }
}

static void test_round_trip_every_message(void **state)
{
    struct gau_field_errors errs = GAU_FIELD_ERRORS_INIT;
    size_t i;

    assert_true(gau_msgs_count == 16);
    for (i = 0; i < gau_msgs_count; i++) {
        const struct gau_msg_info *m = gau_msgs[i];
        void *a = malloc(m->size), *b = malloc(m->size);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_unpacked u;
        json_t *j;

        fill_valid(m, a);
        if (m->validate(a, &errs) != 0)
            fail_msg("%s: %s %s", m->name, errs.e[0].field,
                     errs.e[0].reason);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        m->pack(&pk, a);
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(m->decode(&u.data, b, &errs), 0);
        assert_memory_equal(a, b, m->size);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&sb);

        j = m->to_json(a);
        assert_int_equal(m->from_json(j, b, &errs), 0);
        assert_memory_equal(a, b, m->size);
        json_decref(j);
        assert_ptr_equal(gau_msg_find(m->name), m);
        free(a);
        free(b);
    }
    assert_int_equal(errs.count, 0);
}

static void test_table(void **state)
{
    const struct gau_msg_info *m;

    assert_null(gau_msg_find("account.nope"));
    m = gau_msg_find("account.register");
    assert_non_null(m);
    assert_int_equal(m->kind, GAU_MSG_COMMAND);
    assert_int_equal(m->version, 1);
    assert_string_equal(m->reply, "account.register.reply");
    assert_false(m->principal_required);
    assert_int_equal(m->size, sizeof(struct gau_account_register));
    assert_string_equal(gau_msg_find("account.profile_update")->reply,
                        "account.profile");
    assert_true(gau_msg_find("account.profile_update")->principal_required);
    assert_true(gau_msg_find("authorization.session_open")->trusted_only);
    assert_true(
        gau_msg_find("authorization.session_revoke")->principal_required);
    assert_string_equal(gau_msg_find("authorization.token_refresh")->reply,
                        "authorization.tokens");
    assert_int_equal(gau_msg_find("account.user_registered")->kind,
                     GAU_MSG_EVENT);
    assert_null(gau_msg_find("account.user_registered")->reply);
    assert_int_equal(gau_msg_find("authorization.tokens")->kind,
                     GAU_MSG_REPLY);
    /* Sizes: max characters * 4 + 1 for text, fixed for formats. */
    assert_int_equal(sizeof(((struct gau_account_register *)0)->password),
                     513);
    assert_int_equal(sizeof(((struct gau_account_register *)0)->username),
                     33);
    assert_int_equal(m->fields[2].secret, true);
    assert_string_equal(m->fields[2].name, "password");
}

static void test_required_and_require_any(void **state)
{
    struct gau_field_errors errs;
    struct gau_account_register r;

    assert_int_equal(reg_json("{}", &r, &errs), GAU_EINVAL);
    assert_int_equal(errs.count, 2);
    expect_reason(&errs, "password", "is required");
    expect_reason(&errs, "username", "one of username, email is required");

    assert_int_equal(reg_json("{'email':'a@b.co','password':'12345678'}",
                              &r, &errs), 0);
    assert_true(r.has_email);
    assert_false(r.has_username);
    assert_string_equal(r.email, "a@b.co");

    /* null is absent, for require_any too. */
    assert_int_equal(reg_json("{'username':null,'email':null,"
                              "'password':'12345678'}", &r, &errs),
                     GAU_EINVAL);
    assert_int_equal(errs.count, 1);
    expect_reason(&errs, "username", "one of username, email is required");
}

static void test_profile_update_require_any(void **state)
{
    struct gau_account_profile_update p;
    struct gau_field_errors errs = GAU_FIELD_ERRORS_INIT;
    json_t *j = js("{}");

    assert_int_equal(gau_account_profile_update_from_json(j, &p, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "fullname",
                  "one of fullname, date_of_birth, gender is required");
    json_decref(j);
    j = js("{'gender':'female'}");
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(gau_account_profile_update_from_json(j, &p, &errs), 0);
    assert_true(p.has_gender);
    assert_false(p.has_fullname);
    json_decref(j);
}

static void test_json_types(void **state)
{
    struct gau_field_errors errs;
    struct gau_account_register r;
    struct gau_account_profile p;
    json_t *j;

    assert_int_equal(reg_json("{'username':5,'password':true,"
                              "'gender':[],'fullname':{},"
                              "'date_of_birth':1.5,'x':1}", &r, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "username", "must be a string");
    expect_reason(&errs, "password", "must be a string");
    expect_reason(&errs, "gender", "must be a string");
    expect_reason(&errs, "fullname", "must be a string");
    expect_reason(&errs, "date_of_birth", "must be a string");
    expect_reason(&errs, "x", "unknown field");
    assert_int_equal(errs.count, 6);

    /* null for a required field is a type error. */
    assert_int_equal(reg_json("{'username':'bob','password':null}", &r,
                              &errs), GAU_EINVAL);
    expect_reason(&errs, "password", "must be a string");

    assert_int_equal(reg_json("[1]", &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "body", "must be a JSON object");
    assert_int_equal(reg_json("'text'", &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "body", "must be a JSON object");

    j = js("{'user_id':'" USER "','fullname':'','created_at':'soon',"
           "'updated_at':true,'version':'1'}");
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(gau_account_profile_from_json(j, &p, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "created_at", "must be an RFC 3339 time");
    expect_reason(&errs, "updated_at",
                  "must be an RFC 3339 time or an integer");
    expect_reason(&errs, "version", "must be an integer");
    json_decref(j);
}

static void test_json_timestamps(void **state)
{
    struct gau_field_errors errs = GAU_FIELD_ERRORS_INIT;
    struct gau_account_profile p;
    json_t *j, *o;

    j = js("{'user_id':'" USER "','fullname':'Bob',"
           "'created_at':'2026-12-03T08:53:42.123Z',"
           "'updated_at':1796288022123,'version':3}");
    assert_int_equal(gau_account_profile_from_json(j, &p, &errs), 0);
    assert_true(p.created_at == TS);
    assert_true(p.updated_at == TS);
    json_decref(j);
    o = gau_account_profile_to_json(&p);
    assert_string_equal(json_string_value(json_object_get(o, "created_at")),
                        "2026-12-03T08:53:42.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "updated_at")),
                        "2026-12-03T08:53:42.123Z");
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 3);
    assert_null(json_object_get(o, "username"));
    assert_null(json_object_get(o, "email"));
    json_decref(o);
}

static void test_ts_helpers(void **state)
{
    char buf[GAU_SCHEMA_TS_LEN + 1];
    int64_t ms;

    gau_schema_ts_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    gau_schema_ts_format(TS, buf);
    assert_string_equal(buf, "2026-12-03T08:53:42.123Z");
    gau_schema_ts_format(951782400000LL, buf);
    assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
    gau_schema_ts_format(GAU_SCHEMA_TS_MAX, buf);
    assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
    gau_schema_ts_format(-5, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");

    assert_int_equal(gau_schema_ts_parse("2026-12-03T08:53:42.123Z", &ms), 0);
    assert_true(ms == TS);
    assert_int_equal(gau_schema_ts_parse("2026-12-03T09:53:42.1234+01:00",
                                         &ms), 0);
    assert_true(ms == TS);
    assert_int_equal(gau_schema_ts_parse("2026-12-03T08:53:42Z", &ms), 0);
    assert_true(ms == TS - 123);
    assert_int_equal(gau_schema_ts_parse("2026-02-30T08:53:42Z", &ms),
                     GAU_EINVAL);
    assert_int_equal(gau_schema_ts_parse("2026-12-03 08:53:42Z", &ms),
                     GAU_EINVAL);
    assert_int_equal(gau_schema_ts_parse("2026-12-03T24:00:00Z", &ms),
                     GAU_EINVAL);
    assert_int_equal(gau_schema_ts_parse("2026-12-03T08:53:42.Z", &ms),
                     GAU_EINVAL);
    assert_int_equal(gau_schema_ts_parse("2026-12-03T08:53:42", &ms),
                     GAU_EINVAL);
    assert_int_equal(gau_schema_ts_parse("1969-12-31T23:59:59Z", &ms),
                     GAU_EINVAL);
    assert_int_equal(gau_schema_ts_parse("", &ms), GAU_EINVAL);
}

static void test_formats(void **state)
{
    static const char *const bad_emails[] = {
        "a", "a@b", "a@@b.co", "a b@c.co", "@b.co", "a@.co", "a@b.",
        "a@b..co", ".a@b.co", "a.@b.co", "a@b,c.co", "\xc3\xa9@b.co",
        "a@b.co\n", NULL
    };
    static const char *const bad_users[] = {
        "ab", "Bob", "_bob", ".bob", "bob!", "b b", "bøb",
        "abcdefghijklmnopqrstuvwxyz0123456", NULL
    };
    static const char *const bad_dates[] = {
        "2001-02-29", "1900-02-29", "2001-02-30", "2001-13-01",
        "2001-00-10", "2001-1-01", "2001-01-01x", "0000-01-01",
        "2001/01/01", "", NULL
    };
    char email[300];
    int i;

    for (i = 0; bad_emails[i]; i++)
        if (gau_schema_email_valid(bad_emails[i]))
            fail_msg("email '%s' passed", bad_emails[i]);
    for (i = 0; bad_users[i]; i++)
        if (gau_schema_username_valid(bad_users[i]))
            fail_msg("username '%s' passed", bad_users[i]);
    for (i = 0; bad_dates[i]; i++)
        if (gau_schema_date_valid(bad_dates[i]))
            fail_msg("date '%s' passed", bad_dates[i]);
    assert_true(gau_schema_email_valid("bob.smith+tag@mail.example.com"));
    assert_true(gau_schema_username_valid("bob"));
    assert_true(gau_schema_username_valid("1a.b-c_d"));
    assert_true(gau_schema_username_valid(
        "abcdefghijklmnopqrstuvwxyz012345"));
    assert_true(gau_schema_date_valid("2000-02-29"));
    assert_true(gau_schema_date_valid("2024-12-31"));

    memset(email, 'a', 250);
    strcpy(email + 250, "@b.co"); /* 255 characters */
    assert_false(gau_schema_email_valid(email));
    memset(email, 'a', 60);
    strcpy(email + 60, "@");
    memset(email + 61, 'b', 190);
    strcpy(email + 251, ".co"); /* 254 characters */
    assert_true(gau_schema_email_valid(email));
}

static void test_format_reasons(void **state)
{
    struct gau_field_errors errs;
    struct gau_account_register r;

    assert_int_equal(reg_json("{'username':'Bob','email':'a@b',"
                              "'password':'1234567',"
                              "'date_of_birth':'2001-02-30',"
                              "'gender':'robot'}", &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "username", "must be 3 to 32 of a-z, 0-9, '_', "
                  "'.', '-', starting with a letter or digit");
    expect_reason(&errs, "email", "must be an email address");
    expect_reason(&errs, "password", "must be at least 8 characters");
    expect_reason(&errs, "date_of_birth", "must be a date (YYYY-MM-DD)");
    expect_reason(&errs, "gender",
                  "must be one of: male, female, other, unspecified");
    assert_int_equal(errs.count, 5);
}

/* Builds {"username":"bob","password":"12345678","fullname": n * unit}. */
static int reg_fullname(const char *unit, int n,
                        struct gau_field_errors *errs)
{
    struct gau_account_register r;
    json_t *o = json_object();
    size_t ul = strlen(unit);
    char *s = malloc(ul * (size_t)n + 1);
    int i, rc;

    for (i = 0; i < n; i++)
        memcpy(s + ul * (size_t)i, unit, ul);
    s[ul * (size_t)n] = '\0';
    json_object_set_new(o, "username", json_string("bob"));
    json_object_set_new(o, "password", json_string("12345678"));
    json_object_set_new(o, "fullname", json_string(s));
    memset(errs, 0, sizeof(*errs));
    rc = gau_account_register_from_json(o, &r, errs);
    if (rc == 0)
        assert_string_equal(r.fullname, s);
    json_decref(o);
    free(s);
    return rc;
}

static void test_date_past(void **state)
{
    struct gau_field_errors errs;
    struct gau_account_register r;
    struct gau_account_profile_update u;
    char text[160], day[16];
    time_t t = time(NULL);
    struct tm tm;
    json_t *j;

    (void)state;
    assert_int_equal(reg_json("{'username':'bob','password':'12345678',"
                              "'date_of_birth':'3000-01-01'}", &r, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "date_of_birth", "must not be in the future");
    assert_int_equal(errs.count, 1);
    assert_int_equal(reg_json("{'username':'bob','password':'12345678',"
                              "'date_of_birth':'2000-01-01'}", &r, &errs),
                     0);
    assert_string_equal(r.date_of_birth, "2000-01-01");

    /* Today (UTC) is allowed; two days ahead is not, whatever the hour. */
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(text, sizeof(text), "{'username':'bob','password':'12345678',"
             "'date_of_birth':'%s'}", day);
    assert_int_equal(reg_json(text, &r, &errs), 0);
    t += 2 * 86400;
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(text, sizeof(text), "{'username':'bob','password':'12345678',"
             "'date_of_birth':'%s'}", day);
    assert_int_equal(reg_json(text, &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "date_of_birth", "must not be in the future");

    /* The profile update has the same rule. */
    j = js("{'date_of_birth':'3000-01-01'}");
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(gau_account_profile_update_from_json(j, &u, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "date_of_birth", "must not be in the future");
    json_decref(j);
    /* An impossible date keeps its own reason. */
    assert_int_equal(reg_json("{'username':'bob','password':'12345678',"
                              "'date_of_birth':'3000-02-30'}", &r, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "date_of_birth", "must be a date (YYYY-MM-DD)");

    /* The helper against a fixed clock: TS is 2026-12-03T08:53:42Z. */
    assert_int_equal(gau_schema_date_past("2026-12-03", TS), 1);
    assert_int_equal(gau_schema_date_past("2026-12-04", TS), 0);
    assert_int_equal(gau_schema_date_past("1970-01-01", 0), 1);
    assert_int_equal(gau_schema_date_past("1970-01-02", 86399999), 0);
    assert_int_equal(gau_schema_date_past("1970-01-02", 86400000), 1);
}

/* account.register with fullname "ab" c "cd"; returns rc. */
static int reg_fullname_with(const char *c, struct gau_field_errors *errs)
{
    struct gau_account_register r;
    json_t *o = json_object();
    char s[32];
    int rc;

    snprintf(s, sizeof(s), "ab%scd", c);
    json_object_set_new(o, "username", json_string("bob"));
    json_object_set_new(o, "password", json_string("12345678"));
    json_object_set_new(o, "fullname", json_string(s));
    memset(errs, 0, sizeof(*errs));
    rc = gau_account_register_from_json(o, &r, errs);
    json_decref(o);
    return rc;
}

static void test_control_characters(void **state)
{
    static const char *const bad[] = {
        "\n", "\r", "\t", "\x01", "\x1b", "\x1f", "\x7f",
        "\xc2\x80", "\xc2\x85", "\xc2\x9f",                /* C1 */
        "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", /* LRE RLE PDF */
        "\xe2\x80\xad", "\xe2\x80\xae",                   /* LRO RLO */
        "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8", /* LRI RLI FSI */
        "\xe2\x81\xa9",                                     /* PDI */
    };
    static const char *const good[] = {
        " ", "\xc2\xa0", "\xc2\xbf", "\xe2\x80\xa9", "\xe2\x80\xaf",
        "\xe2\x81\xa5", "\xe2\x81\xaa", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
    };
    struct gau_field_errors errs;
    struct gau_account_login l;
    size_t i;
    json_t *j;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(reg_fullname_with(bad[i], &errs), GAU_EINVAL);
        expect_reason(&errs, "fullname",
                      "must not contain control characters");
        assert_int_equal(errs.count, 1);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(reg_fullname_with(good[i], &errs), 0);

    /* Every string field by default, the new password too. */
    j = js("{'username':'bob','password':'1234\\t5678'}");
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(gau_account_register_from_json(
                         j, &(struct gau_account_register){ 0 }, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "password", "must not contain control characters");
    json_decref(j);
    /* The login password opts out: an older password may hold one. */
    j = js("{'login':'bob','password':'1234\\t5678'}");
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(gau_account_login_from_json(j, &l, &errs), 0);
    assert_string_equal(l.password, "1234\t5678");
    json_decref(j);

    /* The helper looks at n bytes, NUL included. */
    assert_int_equal(gau_schema_text_clean("a\0b", 3), 0);
    assert_int_equal(gau_schema_text_clean("a\0b", 1), 1);
    assert_int_equal(gau_schema_text_clean("\xe2\x80", 2), 1);
}

static void test_lengths_in_characters(void **state)
{
    struct gau_field_errors errs;
    static const char *const units[] = { "a", "\xc3\xa9", "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80" };
    size_t i;

    for (i = 0; i < 4; i++) {
        assert_int_equal(reg_fullname(units[i], 100, &errs), 0);
        assert_int_equal(reg_fullname(units[i], 101, &errs), GAU_EINVAL);
        expect_reason(&errs, "fullname", "must be at most 100 characters");
    }
    /* Far past the buffer: the same reason, no overflow. */
    assert_int_equal(reg_fullname("\xf0\x9f\x98\x80", 1000, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "fullname", "must be at most 100 characters");
}

/* Packs a map of key -> raw msgpack bytes given by the caller's packer. */
static int reg_mp(void (*fill)(msgpack_packer *),
                  struct gau_account_register *r,
                  struct gau_field_errors *errs)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fill(&pk);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    memset(errs, 0, sizeof(*errs));
    rc = gau_account_register_decode(&u.data, r, errs);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void kv(msgpack_packer *pk, const char *k, const char *v, size_t n)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, v, n);
}

static void key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
}

static void fill_bad_utf8(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    kv(pk, "username", "bob", 3);
    kv(pk, "password", "12345678\xc3\x28", 10);     /* bad continuation */
    kv(pk, "fullname", "\xc0\xaf", 2);              /* overlong */
    kv(pk, "email", "\xed\xa0\x80@b.co", 8);       /* surrogate */
    kv(pk, "gender", "ma\0le", 5);                   /* NUL */
}

static void fill_types(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    key(pk, "username");
    msgpack_pack_int(pk, 1);
    key(pk, "password");
    msgpack_pack_bin(pk, 8);
    msgpack_pack_bin_body(pk, "12345678", 8);
    key(pk, "fullname");
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, 5);
    msgpack_pack_int(pk, 6);
    key(pk, "nope");
    msgpack_pack_nil(pk);
}

static void fill_dup(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    kv(pk, "username", "bob", 3);
    kv(pk, "password", "12345678", 8);
    kv(pk, "username", "bob", 3);
}

static void fill_nil(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    kv(pk, "email", "bob@example.com", 15);
    kv(pk, "password", "12345678", 8);
    key(pk, "username");
    msgpack_pack_nil(pk);
}

static void fill_not_map(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}

static void test_msgpack_rules(void **state)
{
    struct gau_field_errors errs;
    struct gau_account_register r;

    assert_int_equal(reg_mp(fill_bad_utf8, &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "password", "must be valid UTF-8");
    expect_reason(&errs, "fullname", "must be valid UTF-8");
    expect_reason(&errs, "email", "must be valid UTF-8");
    expect_reason(&errs, "gender", "must be valid UTF-8");
    assert_int_equal(errs.count, 4);

    assert_int_equal(reg_mp(fill_types, &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "username", "must be a string");
    expect_reason(&errs, "password", "must be a string");
    expect_reason(&errs, "payload", "keys must be strings");
    expect_reason(&errs, "nope", "unknown field");
    assert_null(reason(&errs, "fullname"));

    assert_int_equal(reg_mp(fill_dup, &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "username", "duplicate field");
    assert_int_equal(errs.count, 1);

    assert_int_equal(reg_mp(fill_nil, &r, &errs), 0);
    assert_false(r.has_username);
    assert_true(r.has_email);

    assert_int_equal(reg_mp(fill_not_map, &r, &errs), GAU_EINVAL);
    expect_reason(&errs, "payload", "must be a map");
}

static void test_ints(void **state)
{
    struct gau_field_errors errs = GAU_FIELD_ERRORS_INIT;
    struct gau_authorization_tokens t;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    json_t *j;

    j = js("{'access_token':'a.b.c','refresh_token':'r','token_type':"
           "'Bearer','expires_in':0,'session_id':'" USER "','user_id':"
           "'0B6F1C7E-5D1A-4C1E-9A8E-2F1D3C4B5A69'}");
    assert_int_equal(gau_authorization_tokens_from_json(j, &t, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "expires_in", "must be at least 1");
    assert_int_equal(errs.count, 1);
    assert_string_equal(t.user_id, USER); /* stored lower-case */
    json_decref(j);

    t.expires_in = 900;
    assert_int_equal(gau_authorization_tokens_validate(&t, NULL), 0);
    j = gau_authorization_tokens_to_json(&t);
    assert_string_equal(json_string_value(json_object_get(j,
                        "access_token")), "a.b.c");
    assert_string_equal(json_string_value(json_object_get(j,
                        "refresh_token")), "r");
    json_decref(j);

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    key(&pk, "expires_in");
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(gau_authorization_tokens_decode(&u.data, &t, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "expires_in", "is out of range");
    expect_reason(&errs, "access_token", "is required");
    expect_reason(&errs, "user_id", "is required");
    assert_int_equal(errs.count, 6);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void test_validate_struct(void **state)
{
    struct gau_field_errors errs = GAU_FIELD_ERRORS_INIT;
    struct gau_authorization_session_revoked ev;

    memset(&ev, 0, sizeof(ev));
    strcpy(ev.session_id, USER);
    strcpy(ev.user_id, "nope");
    strcpy(ev.reason, "logout");
    strcpy(ev.status, "active");
    ev.version = 0;
    assert_int_equal(gau_authorization_session_revoked_validate(&ev, &errs),
                     GAU_EINVAL);
    expect_reason(&errs, "user_id", "must be a UUID");
    expect_reason(&errs, "status", "must be one of: revoked");
    expect_reason(&errs, "version", "must be at least 1");
    assert_int_equal(errs.count, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_message),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_required_and_require_any),
        cmocka_unit_test(test_profile_update_require_any),
        cmocka_unit_test(test_json_types),
        cmocka_unit_test(test_json_timestamps),
        cmocka_unit_test(test_ts_helpers),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_format_reasons),
        cmocka_unit_test(test_date_past),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_lengths_in_characters),
        cmocka_unit_test(test_msgpack_rules),
        cmocka_unit_test(test_ints),
        cmocka_unit_test(test_validate_struct),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
