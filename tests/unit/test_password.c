/*
 * test_password.c - argon2id hashes in PHC format.
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
#include "core/password.h"

/* Cheap parameters, so the suite stays fast; one test uses the defaults. */
static const struct gau_kdf_params low = { 1024, 1, 1 };

static void test_round_trip(void **state)
{
    char phc[GAU_PHC_MAX];

    assert_int_equal(gau_password_hash("correct horse", &low, phc), 0);
    assert_int_equal(gau_password_verify(phc, "correct horse"), 0);
    assert_int_equal(gau_password_verify(phc, "correct horsf"),
                     GAU_EUNAUTH);
    assert_int_equal(gau_password_verify(phc, "correct hors"), GAU_EUNAUTH);
    assert_int_equal(gau_password_verify(phc, "correct horse "),
                     GAU_EUNAUTH);
    assert_int_equal(gau_password_verify(phc, ""), GAU_EUNAUTH);
}

static void test_phc_format(void **state)
{
    struct gau_kdf_params p = { 2048, 3, 2 };
    char phc[GAU_PHC_MAX];
    const char *salt, *hash;

    assert_int_equal(gau_password_hash("pässwörd", &p, phc), 0);
    assert_memory_equal(phc, "$argon2id$v=19$m=2048,t=3,p=2$", 30);

    /* 16 bytes of salt and 32 of hash, base64 without padding. */
    salt = phc + 30;
    hash = strchr(salt, '$');
    assert_non_null(hash);
    assert_int_equal(hash - salt, 22);
    assert_int_equal(strlen(hash + 1), 43);
    assert_int_equal(gau_password_verify(phc, "pässwörd"), 0);
}

static void test_salted(void **state)
{
    char a[GAU_PHC_MAX], b[GAU_PHC_MAX];

    assert_int_equal(gau_password_hash("same password", &low, a), 0);
    assert_int_equal(gau_password_hash("same password", &low, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(gau_password_verify(a, "same password"), 0);
    assert_int_equal(gau_password_verify(b, "same password"), 0);
}

static void test_length_limits(void **state)
{
    char pw[GAU_PASSWORD_MAX + 2], phc[GAU_PHC_MAX];

    assert_int_equal(gau_password_hash("", &low, phc), GAU_EINVAL);
    assert_string_equal(phc, "");
    memset(pw, 'a', sizeof(pw));
    pw[GAU_PASSWORD_MAX] = '\0';
    assert_int_equal(gau_password_hash(pw, &low, phc), 0);
    assert_int_equal(gau_password_verify(phc, pw), 0);
    pw[GAU_PASSWORD_MAX] = 'a';
    pw[GAU_PASSWORD_MAX + 1] = '\0';
    assert_int_equal(gau_password_verify(phc, pw), GAU_EUNAUTH);
    assert_int_equal(gau_password_hash(pw, &low, phc), GAU_EINVAL);
    assert_int_equal(gau_password_hash("x", &low, phc), 0);
    assert_int_equal(gau_password_verify(phc, "x"), 0);
}

static void test_bad_params(void **state)
{
    static const struct gau_kdf_params bad[] = {
        { 7, 1, 1 }, { 4194305, 1, 1 }, { 1024, 0, 1 }, { 1024, 11, 1 },
        { 1024, 1, 0 }, { 1024, 1, 9 }, { 8, 1, 2 },
    };
    char phc[GAU_PHC_MAX];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gau_password_hash("password", &bad[i], phc),
                         GAU_EINVAL);
}

static void test_garbage_phc(void **state)
{
    static const char *const garbage[] = {
        "",
        "password",
        "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "iPCsFwJ3VmCBGpMWkm6hb0xKbt3EXMiHdzm5ekHfZBo",
        "$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "iPCsFwJ3VmCBGpMWkm6hb0xKbt3EXMiHdzm5ekHfZBo",
        "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1$",
        "$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
        "$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "iPCsFwJ3VmCBGpMWkm6hb0xKbt3EXMiHdzm5ekHfZBo",
        /* Parameters past the bounds: never handed to argon2. */
        "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "iPCsFwJ3VmCBGpMWkm6hb0xKbt3EXMiHdzm5ekHfZBo",
        "$argon2id$v=19$m=1024,t=1000,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "iPCsFwJ3VmCBGpMWkm6hb0xKbt3EXMiHdzm5ekHfZBo",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "iPCsFwJ3VmCBGpMWkm6hb0xKbt3EXMiHdzm5ekHfZBoAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    size_t i;

    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        assert_int_equal(gau_password_verify(garbage[i], "password"),
                         GAU_EINVAL);
}

static void test_known_phc(void **state)
{
    /* Vectors of the argon2 reference implementation (its README example
     * and test suite): password "password", salt "somesalt". */
    static const char readme[] = "$argon2id$v=19$m=65536,t=2,p=1$"
                                 "c29tZXNhbHQ$"
                                 "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    static const char small[] = "$argon2id$v=19$m=256,t=2,p=1$"
                                "c29tZXNhbHQ$"
                                "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";

    assert_int_equal(gau_password_verify(readme, "password"), 0);
    assert_int_equal(gau_password_verify(readme, "Password"), GAU_EUNAUTH);
    assert_int_equal(gau_password_verify(small, "password"), 0);
    assert_int_equal(gau_password_verify(small, "passwore"), GAU_EUNAUTH);
}

static void test_env_params(void **state)
{
    struct gau_kdf_params p = { 0, 0, 0 };
    char phc[GAU_PHC_MAX];

    unsetenv("GAU_ARGON2_M_KIB");
    unsetenv("GAU_ARGON2_T");
    unsetenv("GAU_ARGON2_P");
    assert_int_equal(gau_kdf_params_from_env(&p), 0);
    assert_int_equal(p.m_kib, 19456);
    assert_int_equal(p.t, 2);
    assert_int_equal(p.p, 1);

    setenv("GAU_ARGON2_M_KIB", "1536", 1);
    setenv("GAU_ARGON2_T", "3", 1);
    setenv("GAU_ARGON2_P", "2", 1);
    assert_int_equal(gau_kdf_params_from_env(&p), 0);
    assert_int_equal(p.m_kib, 1536);
    assert_int_equal(p.t, 3);
    assert_int_equal(p.p, 2);
    assert_int_equal(gau_password_hash("password", &p, phc), 0);
    assert_memory_equal(phc, "$argon2id$v=19$m=1536,t=3,p=2$", 30);
    assert_int_equal(gau_password_verify(phc, "password"), 0);

    unsetenv("GAU_ARGON2_M_KIB");
    unsetenv("GAU_ARGON2_T");
    unsetenv("GAU_ARGON2_P");
}

static void expect_env_rejected(const char *name, const char *value)
{
    struct gau_kdf_params p = { 0, 0, 0 };

    setenv(name, value, 1);
    assert_int_equal(gau_kdf_params_from_env(&p), GAU_EINVAL);
    unsetenv(name);
}

static void test_env_out_of_range(void **state)
{
    expect_env_rejected("GAU_ARGON2_M_KIB", "7");
    expect_env_rejected("GAU_ARGON2_M_KIB", "4194305");
    expect_env_rejected("GAU_ARGON2_M_KIB", "-1");
    expect_env_rejected("GAU_ARGON2_M_KIB", "19456k");
    expect_env_rejected("GAU_ARGON2_T", "0");
    expect_env_rejected("GAU_ARGON2_T", "11");
    expect_env_rejected("GAU_ARGON2_T", "two");
    expect_env_rejected("GAU_ARGON2_P", "0");
    expect_env_rejected("GAU_ARGON2_P", "9");

    /* 8 KiB is enough for one lane, not for two. */
    setenv("GAU_ARGON2_M_KIB", "8", 1);
    expect_env_rejected("GAU_ARGON2_P", "2");
    unsetenv("GAU_ARGON2_M_KIB");
}

static void test_defaults(void **state)
{
    struct gau_kdf_params p;
    struct timespec a, b;
    char phc[GAU_PHC_MAX];
    double ms;

    assert_int_equal(gau_kdf_params_from_env(&p), 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(gau_password_hash("a default password", &p, phc), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
         (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    print_message("argon2id m=%u t=%u p=%u: %.1f ms per hash\n", p.m_kib,
                  p.t, p.p, ms);
    assert_memory_equal(phc, "$argon2id$v=19$m=19456,t=2,p=1$", 31);
    assert_int_equal(gau_password_verify(phc, "a default password"), 0);
    assert_int_equal(gau_password_verify(phc, "a default passworD"),
                     GAU_EUNAUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_phc_format),
        cmocka_unit_test(test_salted),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_garbage_phc),
        cmocka_unit_test(test_known_phc),
        cmocka_unit_test(test_env_params),
        cmocka_unit_test(test_env_out_of_range),
        cmocka_unit_test(test_defaults),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
