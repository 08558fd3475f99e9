/*
 * test_token.c - refresh tokens, their hash, base64url and sealed blobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/token.h"
#include "core/util.h"

static const unsigned char key_a[GAU_SEAL_KEY_LEN] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
};

static void test_token_shape(void **state)
{
    char t[GAU_TOKEN_LEN + 1];
    size_t i;

    assert_int_equal(gau_token_new(t), 0);
    assert_int_equal(strlen(t), GAU_TOKEN_LEN);
    for (i = 0; i < GAU_TOKEN_LEN; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                               "opqrstuvwxyz0123456789-_", t[i]));
}

static void test_token_unique(void **state)
{
    enum { N = 200 };
    char (*t)[GAU_TOKEN_LEN + 1] = calloc(N, sizeof(*t));
    int i, j;

    for (i = 0; i < N; i++)
        assert_int_equal(gau_token_new(t[i]), 0);
    for (i = 0; i < N; i++)
        for (j = i + 1; j < N; j++)
            assert_string_not_equal(t[i], t[j]);
    free(t);
}

static void test_token_hash_vector(void **state)
{
    unsigned char h[GAU_TOKEN_HASH_LEN];
    char hex[2 * GAU_TOKEN_HASH_LEN + 1];

    gau_token_hash("abc", h);
    gau_hex(h, sizeof(h), hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    gau_token_hash("", h);
    gau_hex(h, sizeof(h), hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855");
}

static void test_b64url_vectors(void **state)
{
    /* RFC 4648 section 10, without padding. */
    static const char *const want[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
                                        "Zm9vYmE", "Zm9vYmFy" };
    unsigned char back[8];
    char out[16];
    size_t i, n;

    for (i = 0; i < 7; i++) {
        assert_int_equal(gau_b64url_encode("foobar", i, out), strlen(want[i]));
        assert_string_equal(out, want[i]);
        assert_int_equal(GAU_B64URL_LEN(i), strlen(want[i]));
        assert_int_equal(gau_b64url_decode(want[i], strlen(want[i]), back,
                                           sizeof(back), &n), 0);
        assert_int_equal(n, i);
        assert_memory_equal(back, "foobar", i);
    }
    gau_b64url_encode("\xfb\xff\xfe", 3, out);
    assert_string_equal(out, "-__-");
}

static void test_b64url_rejects(void **state)
{
    unsigned char out[16];
    size_t n = 99;

    assert_int_equal(gau_b64url_decode("Zg==", 4, out, 16, &n), GAU_EPROTO);
    assert_int_equal(n, 0);
    assert_int_equal(gau_b64url_decode("Z", 1, out, 16, &n), GAU_EPROTO);
    assert_int_equal(gau_b64url_decode("Zm9v+", 5, out, 16, &n),
                     GAU_EPROTO);
    assert_int_equal(gau_b64url_decode("Zm/v", 4, out, 16, &n), GAU_EPROTO);
    assert_int_equal(gau_b64url_decode("Zm v", 4, out, 16, &n), GAU_EPROTO);
    assert_int_equal(gau_b64url_decode("Zm\nv", 4, out, 16, &n),
                     GAU_EPROTO);
    /* "Zh" carries a stray bit after the one byte it encodes. */
    assert_int_equal(gau_b64url_decode("Zh", 2, out, 16, &n), GAU_EPROTO);
    assert_int_equal(gau_b64url_decode("Zm9", 3, out, 16, &n), GAU_EPROTO);
    assert_int_equal(gau_b64url_decode("Zm9vYmFy", 8, out, 5, &n),
                     GAU_ETOOBIG);
    assert_int_equal(gau_b64url_decode("Zm9vYmFy", 8, out, 6, &n), 0);
    assert_int_equal(n, 6);
}

static void test_seal_round_trip(void **state)
{
    static const char text[] = "{\"access_token\":\"secret\"}";
    unsigned char *sealed = NULL, *plain = NULL, *sealed2 = NULL;
    size_t slen = 0, plen = 0, slen2 = 0;

    gau_seal(key_a, text, sizeof(text), &sealed, &slen);
    assert_int_equal(slen, sizeof(text) + GAU_SEAL_OVERHEAD);
    assert_null(memmem(sealed, slen, "secret", 6));
    assert_int_equal(gau_unseal(key_a, sealed, slen, &plain, &plen), 0);
    assert_int_equal(plen, sizeof(text));
    assert_memory_equal(plain, text, sizeof(text));

    /* A fresh nonce each time: the same text never seals the same way. */
    gau_seal(key_a, text, sizeof(text), &sealed2, &slen2);
    assert_int_equal(slen2, slen);
    assert_memory_not_equal(sealed, sealed2, 12);
    free(sealed);
    free(sealed2);
    free(plain);
}

static void test_seal_empty(void **state)
{
    unsigned char *sealed = NULL, *plain = NULL;
    size_t slen = 0, plen = 99;

    gau_seal(key_a, "", 0, &sealed, &slen);
    assert_int_equal(slen, GAU_SEAL_OVERHEAD);
    assert_int_equal(gau_unseal(key_a, sealed, slen, &plain, &plen), 0);
    assert_int_equal(plen, 0);
    assert_non_null(plain);
    free(plain);
    free(sealed);
}

static void test_unseal_tampered(void **state)
{
    static const char text[] = "reply bytes";
    unsigned char *sealed = NULL, *plain = NULL;
    size_t slen = 0, plen = 0, i;

    gau_seal(key_a, text, sizeof(text), &sealed, &slen);
    for (i = 0; i < slen; i++) {
        sealed[i] ^= 0x01;
        assert_int_equal(gau_unseal(key_a, sealed, slen, &plain, &plen),
                         GAU_EPROTO);
        assert_null(plain);
        assert_int_equal(plen, 0);
        sealed[i] ^= 0x01;
    }
    assert_int_equal(gau_unseal(key_a, sealed, slen, &plain, &plen), 0);
    free(plain);
    free(sealed);
}

static void test_unseal_wrong_key(void **state)
{
    unsigned char key_b[GAU_SEAL_KEY_LEN], *sealed = NULL, *plain = NULL;
    size_t slen = 0, plen = 0;

    memcpy(key_b, key_a, sizeof(key_b));
    key_b[31] ^= 0x80;
    gau_seal(key_a, "x", 1, &sealed, &slen);
    assert_int_equal(gau_unseal(key_b, sealed, slen, &plain, &plen),
                     GAU_EPROTO);
    assert_null(plain);
    free(sealed);
}

static void test_unseal_short(void **state)
{
    unsigned char blob[GAU_SEAL_OVERHEAD] = { 0 }, *plain = NULL;
    unsigned char *sealed = NULL;
    size_t plen = 0, slen = 0, n;

    for (n = 0; n < GAU_SEAL_OVERHEAD; n++)
        assert_int_equal(gau_unseal(key_a, blob, n, &plain, &plen),
                         GAU_EPROTO);
    /* A full-length blob of zeros fails authentication instead. */
    assert_int_equal(gau_unseal(key_a, blob, sizeof(blob), &plain, &plen),
                     GAU_EPROTO);

    /* Every truncation of a real blob fails too. */
    gau_seal(key_a, "hello", 5, &sealed, &slen);
    for (n = 0; n < slen; n++)
        assert_int_equal(gau_unseal(key_a, sealed, n, &plain, &plen),
                         GAU_EPROTO);
    assert_null(plain);
    free(sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_shape),
        cmocka_unit_test(test_token_unique),
        cmocka_unit_test(test_token_hash_vector),
        cmocka_unit_test(test_b64url_vectors),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_empty),
        cmocka_unit_test(test_unseal_tampered),
        cmocka_unit_test(test_unseal_wrong_key),
        cmocka_unit_test(test_unseal_short),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
