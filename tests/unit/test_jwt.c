/*
 * test_jwt.c - ES256 access tokens and the key set behind them.
 *
 * Keys are made at run time with OpenSSL, except one fixed key whose RFC
 * 7638 thumbprint was computed independently (openssl + python3). Hostile
 * tokens are built by hand: base64url of chosen header and payload bytes,
 * signed with a chosen key, so every check of the verifier is reached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/err.h"
#include "core/jwt.h"
#include "core/token.h"
#include "core/util.h"

#define NOW 1800000000LL
#define SUB "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b"
#define SID "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
#define JTI "11111111-2222-4333-8444-555555555555"

/* A fixed P-256 key and its thumbprint, computed outside this code:
 * openssl pkey -pubout -outform DER | tail -c 65, then in python3
 * base64url(sha256('{"crv":"P-256","kty":"EC","x":"..","y":".."}')). */
static const char fixed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBX1PEytI8SsRDJj1\n"
    "+xvnl0qYmCg8o9g+NdnQ9N+5CJehRANCAARuO9Jb9g3vW/V53slZj0WcMmFE6T2X\n"
    "tpnpSrznTPbr7EpyTVEGNHl8iim9uUw8xIHK0Qf2c7DiGcEWSO/DF7KE\n"
    "-----END PRIVATE KEY-----\n";
static const char fixed_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEbjvSW/YN71v1ed7JWY9FnDJhROk9\n"
    "l7aZ6Uq850z26+xKck1RBjR5fIopvblMPMSBytEH9nOw4hnBFkjvwxeyhA==\n"
    "-----END PUBLIC KEY-----\n";
static const char fixed_kid[] = "uc3OHw3bfka4wKlBAez_9ePACKeL4if3pgO-tPyhR-0";
static const char fixed_x[] = "bjvSW_YN71v1ed7JWY9FnDJhROk9l7aZ6Uq850z26-w";
static const char fixed_y[] = "SnJNUQY0eXyKKb25TDzEgcrRB_ZzsOIZwRZI78MXsoQ";

static const struct gau_jwt_config cfg = {
    .issuer = "gau", .audience = "gau-api", .ttl_s = 900, .leeway_s = 30
};

/* One signing key in a set (ks), a verifier set with its public half
 * (vs), and a second key the verifier does not know. */
struct fx {
    EVP_PKEY *key, *other;
    char *priv_pem, *pub_pem, *other_priv, *other_pub;
    struct gau_keyset *ks, *vs;
    char kid[65], other_kid[65];
};

static char *pem_of(EVP_PKEY *pkey, int private)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long n;

    if (private)
        assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
                                                  NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    n = BIO_get_mem_data(bio, &data);
    out = strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct gau_keyset *tmp = gau_keyset_new();

    f->key = EVP_EC_gen("P-256");
    f->other = EVP_EC_gen("P-256");
    assert_non_null(f->key);
    assert_non_null(f->other);
    f->priv_pem = pem_of(f->key, 1);
    f->pub_pem = pem_of(f->key, 0);
    f->other_priv = pem_of(f->other, 1);
    f->other_pub = pem_of(f->other, 0);

    f->ks = gau_keyset_new();
    assert_int_equal(gau_keyset_add_pem(f->ks, f->priv_pem,
                                        strlen(f->priv_pem), 1), 0);
    f->vs = gau_keyset_new();
    assert_int_equal(gau_keyset_add_pem(f->vs, f->pub_pem,
                                        strlen(f->pub_pem), 0), 0);
    strcpy(f->kid, gau_keyset_signing_kid(f->ks));
    assert_int_equal(gau_keyset_add_pem(tmp, f->other_priv,
                                        strlen(f->other_priv), 1), 0);
    strcpy(f->other_kid, gau_keyset_signing_kid(tmp));
    gau_keyset_free(tmp);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    gau_keyset_free(f->ks);
    gau_keyset_free(f->vs);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->other);
    free(f->priv_pem);
    free(f->pub_pem);
    free(f->other_priv);
    free(f->other_pub);
    free(f);
    return 0;
}

static char *b64(const void *data, size_t n)
{
    char *out = malloc(GAU_B64URL_LEN(n) + 1);

    gau_b64url_encode(data, n, out);
    return out;
}

/* n of P-256; caller frees. */
static BIGNUM *p256_order(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *n = BN_dup(EC_GROUP_get0_order(g));

    EC_GROUP_free(g);
    return n;
}

/* s' = n - s of the raw r || s in sig, in place: the other valid form. */
static void flip_s(unsigned char sig[64])
{
    BIGNUM *n = p256_order();
    BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);

    assert_int_equal(BN_sub(s, n, s), 1);
    BN_bn2binpad(s, sig + 32, 32);
    BN_free(s);
    BN_free(n);
}

/* 1 when the s of raw r || s is in the upper half (s > n / 2). */
static int high_s(const unsigned char sig[64])
{
    BIGNUM *n = p256_order();
    BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);
    int high;

    BN_rshift1(n, n);
    high = BN_cmp(s, n) > 0;
    BN_free(s);
    BN_free(n);
    return high;
}

/*
 * ES256 over signing input with pkey, as raw r || s, in the low-s form
 * gau signs and accepts.
 */
static void es256(EVP_PKEY *pkey, const char *input, unsigned char out[64])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[80];
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    size_t n = sizeof(der);
    ECDSA_SIG *sig;

    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey),
                     1);
    assert_int_equal(EVP_DigestSign(ctx, der, &n,
                                    (const unsigned char *)input,
                                    strlen(input)), 1);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
    assert_non_null(sig);
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, out, 32);
    BN_bn2binpad(s, out + 32, 32);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    if (high_s(out))
        flip_s(out);
}

/*
 * head.body.sig from raw header and payload text. sig: NULL signs with
 * pkey; otherwise it is the third part verbatim.
 */
static char *forge(const char *head, const char *body, EVP_PKEY *pkey,
                   const char *sig)
{
    char *h = b64(head, strlen(head)), *b = b64(body, strlen(body));
    char *input = malloc(strlen(h) + strlen(b) + 2), *out, *s;
    unsigned char raw[64];

    sprintf(input, "%s.%s", h, b);
    if (sig) {
        s = strdup(sig);
    } else {
        es256(pkey, input, raw);
        s = b64(raw, sizeof(raw));
    }
    out = malloc(strlen(input) + strlen(s) + 2);
    sprintf(out, "%s.%s", input, s);
    free(h);
    free(b);
    free(s);
    free(input);
    return out;
}

static char *head_for(const char *kid)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "{\"alg\":\"ES256\",\"typ\":\"JWT\","
                               "\"kid\":\"%s\"}", kid);
    return buf;
}

/* A payload with the given values; NULL leaves a member out. */
static char *body_with(const char *iss, const char *aud, const char *exp,
                       const char *nbf, const char *iat)
{
    static char buf[1024];
    int n;

    n = snprintf(buf, sizeof(buf), "{\"sub\":\"" SUB "\",\"sid\":\"" SID
                                   "\",\"jti\":\"" JTI "\"");
    if (iss)
        n += snprintf(buf + n, sizeof(buf) - n, ",\"iss\":%s", iss);
    if (aud)
        n += snprintf(buf + n, sizeof(buf) - n, ",\"aud\":%s", aud);
    if (exp)
        n += snprintf(buf + n, sizeof(buf) - n, ",\"exp\":%s", exp);
    if (nbf)
        n += snprintf(buf + n, sizeof(buf) - n, ",\"nbf\":%s", nbf);
    if (iat)
        n += snprintf(buf + n, sizeof(buf) - n, ",\"iat\":%s", iat);
    snprintf(buf + n, sizeof(buf) - n, "}");
    return buf;
}

#define GOOD_BODY                                                            \
    body_with("\"gau\"", "\"gau-api\"", "1800000900", "1800000000",         \
              "1800000000")

/* Verifies token with f->vs at NOW and checks the outcome. */
static void expect_verify(struct fx *f, const char *token, int want_rc,
                          const char *want_why)
{
    struct gau_jwt_claims c;
    const char *why = "unset";
    int rc = gau_jwt_verify(f->vs, &cfg, token, NOW, &c, &why);

    if (rc != want_rc || (want_why && (!why || strcmp(why, want_why))))
        fail_msg("token %.60s...: rc %d why '%s', want %d '%s'", token, rc,
                 why ? why : "(null)", want_rc,
                 want_why ? want_why : "(null)");
    if (rc == 0)
        assert_null(why);
    else
        assert_string_equal(c.sub, "");
}

static void expect_refused(struct fx *f, char *token, const char *why)
{
    expect_verify(f, token, GAU_EUNAUTH, why);
    free(token);
}

static void expect_ok(struct fx *f, char *token)
{
    expect_verify(f, token, 0, NULL);
    free(token);
}

static json_t *part(const char *token, int index)
{
    const char *p = token, *end;
    unsigned char buf[2048];
    size_t n;
    int i;

    for (i = 0; i < index; i++)
        p = strchr(p, '.') + 1;
    end = strchr(p, '.');
    if (!end)
        end = p + strlen(p);
    assert_int_equal(gau_b64url_decode(p, (size_t)(end - p), buf,
                                       sizeof(buf), &n), 0);
    return json_loadb((const char *)buf, n, 0, NULL);
}

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct gau_jwt_claims c;
    const char *why = "unset";
    char *tok = NULL;
    json_t *h, *b;

    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &tok), 0);
    assert_non_null(tok);
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, tok, NOW, &c, &why), 0);
    assert_null(why);
    assert_string_equal(c.sub, SUB);
    assert_string_equal(c.sid, SID);
    assert_true(gau_uuid_valid(c.jti));
    assert_int_equal(c.iat, NOW);
    assert_int_equal(c.nbf, NOW);
    assert_int_equal(c.exp, NOW + 900);

    /* The signer's own set verifies too. */
    assert_int_equal(gau_jwt_verify(f->ks, &cfg, tok, NOW + 100, &c, &why),
                     0);

    h = part(tok, 0);
    b = part(tok, 1);
    assert_string_equal(json_string_value(json_object_get(h, "alg")),
                        "ES256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")),
                        f->kid);
    assert_string_equal(json_string_value(json_object_get(b, "iss")), "gau");
    assert_string_equal(json_string_value(json_object_get(b, "aud")),
                        "gau-api");
    assert_string_equal(json_string_value(json_object_get(b, "jti")),
                        c.jti);
    assert_true(json_is_integer(json_object_get(b, "exp")));
    json_decref(h);
    json_decref(b);
    free(tok);
}

/* Our own raw r || s of a token's signature part. */
static void token_sig(const char *tok, unsigned char sig[64])
{
    const char *p = strrchr(tok, '.') + 1;
    size_t n = 0;

    assert_int_equal(gau_b64url_decode(p, strlen(p), sig, 64, &n), 0);
    assert_int_equal(n, 64);
}

/*
 * ECDSA's (r, n - s) is valid whenever (r, s) is: gau signs only with the
 * low s and refuses the high one, so a token has one spelling only.
 */
static void test_low_s_only(void **state)
{
    struct fx *f = *state;
    struct gau_jwt_claims c;
    const char *why = NULL;
    unsigned char sig[64];
    char *tok = NULL, *other;
    int i;

    for (i = 0; i < 32; i++) {
        assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &tok), 0);
        token_sig(tok, sig);
        assert_false(high_s(sig));
        flip_s(sig);
        assert_true(high_s(sig));
        other = b64(sig, 64);
        memcpy(strrchr(tok, '.') + 1, other, strlen(other));
        assert_int_equal(gau_jwt_verify(f->vs, &cfg, tok, NOW, &c, &why),
                         GAU_EUNAUTH);
        assert_string_equal(why, "high-s signature");
        free(other);
        free(tok);
        tok = NULL;
    }
}

static void test_jti_fresh(void **state)
{
    struct fx *f = *state;
    struct gau_jwt_claims a, b;
    const char *why;
    char *t1 = NULL, *t2 = NULL;

    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &t1), 0);
    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &t2), 0);
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, t1, NOW, &a, &why), 0);
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, t2, NOW, &b, &why), 0);
    assert_string_not_equal(a.jti, b.jti);
    free(t1);
    free(t2);
}

static void test_sign_errors(void **state)
{
    struct fx *f = *state;
    char *tok = (char *)"x";

    assert_int_equal(gau_jwt_sign(f->vs, &cfg, SUB, SID, NOW, &tok),
                     GAU_EINVAL);
    assert_null(tok);
    assert_int_equal(gau_jwt_sign(f->ks, &cfg, "not-a-uuid", SID, NOW, &tok),
                     GAU_EINVAL);
    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, "", NOW, &tok),
                     GAU_EINVAL);
    assert_null(tok);
}

static void test_forged_baseline(void **state)
{
    struct fx *f = *state;
    char *tok = forge(head_for(f->kid), GOOD_BODY, f->key, NULL);

    /* The hand-made tokens below differ from this one in one thing. */
    expect_verify(f, tok, 0, NULL);
    free(tok);
}

static void test_alg_none(void **state)
{
    static const char *const spellings[] = { "none", "None", "NONE",
                                             "nOnE" };
    struct fx *f = *state;
    char head[128];
    size_t i;

    for (i = 0; i < 4; i++) {
        snprintf(head, sizeof(head), "{\"alg\":\"%s\",\"typ\":\"JWT\","
                                     "\"kid\":\"%s\"}", spellings[i], f->kid);
        expect_refused(f, forge(head, GOOD_BODY, NULL, ""),
                       "alg not allowed");
        expect_refused(f, forge(head, GOOD_BODY, NULL, "c2lnbmF0dXJl"),
                       "alg not allowed");
        expect_refused(f, forge(head, GOOD_BODY, f->key, NULL),
                       "alg not allowed");
    }
    /* And without a kid at all. */
    expect_refused(f, forge("{\"alg\":\"none\"}", GOOD_BODY, NULL, ""),
                   "alg not allowed");
}

static void test_hs256_with_public_key(void **state)
{
    struct fx *f = *state;
    jwt_t *jwt = NULL, *out = NULL;
    char *tok;

    /* An HS256 token whose HMAC key is the verifier's public key PEM. */
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256,
                                 (const unsigned char *)f->pub_pem,
                                 (int)strlen(f->pub_pem)), 0);
    assert_int_equal(jwt_add_header(jwt, "kid", f->kid), 0);
    assert_int_equal(jwt_add_grants_json(jwt, GOOD_BODY), 0);
    tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    jwt_free(jwt);

    /* libjwt alone, given the public key, accepts it: the reason the
     * header is checked first. */
    assert_int_equal(jwt_decode(&out, tok, (const unsigned char *)f->pub_pem,
                                (int)strlen(f->pub_pem)), 0);
    assert_int_equal(jwt_get_alg(out), JWT_ALG_HS256);
    jwt_free(out);

    expect_verify(f, tok, GAU_EUNAUTH, "alg not allowed");
    free(tok);
}

static void test_other_algs(void **state)
{
    static const char *const algs[] = {
        "\"RS256\"", "\"ES384\"", "\"ES512\"", "\"HS256\"", "\"PS256\"",
        "\"EdDSA\"", "\"es256\"", "\"ES256 \"", "\" ES256\"", "\"\"",
        "[\"ES256\"]", "256", "null", "true",
    };
    struct fx *f = *state;
    char head[160];
    size_t i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        snprintf(head, sizeof(head), "{\"alg\":%s,\"kid\":\"%s\"}", algs[i],
                 f->kid);
        expect_refused(f, forge(head, GOOD_BODY, f->key, NULL),
                       "alg not allowed");
    }
    snprintf(head, sizeof(head), "{\"kid\":\"%s\"}", f->kid);
    expect_refused(f, forge(head, GOOD_BODY, f->key, NULL),
                   "alg not allowed");
}

static void test_header_members(void **state)
{
    static const char *const extra[] = {
        "\"crit\":[\"exp\"]", "\"jku\":\"https://evil.example/jwks\"",
        "\"x5u\":\"https://evil.example/cert\"", "\"jwk\":{\"kty\":\"EC\"}",
        "\"x5c\":[\"MIIB\"]",
    };
    struct fx *f = *state;
    char head[256];
    size_t i;

    for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        snprintf(head, sizeof(head), "{\"alg\":\"ES256\",\"kid\":\"%s\",%s}",
                 f->kid, extra[i]);
        expect_refused(f, forge(head, GOOD_BODY, f->key, NULL),
                       "header member not allowed");
    }
    snprintf(head, sizeof(head), "{\"alg\":\"ES256\",\"typ\":\"JWS\","
                                 "\"kid\":\"%s\"}", f->kid);
    expect_refused(f, forge(head, GOOD_BODY, f->key, NULL), "wrong typ");
    snprintf(head, sizeof(head), "{\"alg\":\"ES256\",\"typ\":1,"
                                 "\"kid\":\"%s\"}", f->kid);
    expect_refused(f, forge(head, GOOD_BODY, f->key, NULL), "wrong typ");

    /* Without typ, and with members nobody asked for, it is fine. */
    snprintf(head, sizeof(head), "{\"kid\":\"%s\",\"alg\":\"ES256\","
                                 "\"cty\":\"x\"}", f->kid);
    expect_ok(f, forge(head, GOOD_BODY, f->key, NULL));
}

static void test_duplicate_members(void **state)
{
    struct fx *f = *state;
    char head[256];

    snprintf(head, sizeof(head), "{\"alg\":\"ES256\",\"kid\":\"%s\","
                                 "\"alg\":\"HS256\"}", f->kid);
    expect_refused(f, forge(head, GOOD_BODY, f->key, NULL),
                   "malformed header");
    expect_refused(f, forge(head_for(f->kid),
                            "{\"iss\":\"gau\",\"iss\":\"gau\"}", f->key,
                            NULL),
                   "malformed claims");
}

static void test_kid(void **state)
{
    struct fx *f = *state;
    char head[256], long_kid[66];

    expect_refused(f, forge(head_for(f->other_kid), GOOD_BODY, f->other,
                            NULL),
                   "unknown kid");
    expect_refused(f, forge(head_for("../../etc/passwd"), GOOD_BODY, f->key,
                            NULL),
                   "malformed kid");
    expect_refused(f, forge(head_for("a b"), GOOD_BODY, f->key, NULL),
                   "malformed kid");
    expect_refused(f, forge(head_for(""), GOOD_BODY, f->key, NULL),
                   "malformed kid");
    memset(long_kid, 'a', 65);
    long_kid[65] = '\0';
    expect_refused(f, forge(head_for(long_kid), GOOD_BODY, f->key, NULL),
                   "malformed kid");
    long_kid[64] = '\0';
    expect_refused(f, forge(head_for(long_kid), GOOD_BODY, f->key, NULL),
                   "unknown kid");
    expect_refused(f, forge("{\"alg\":\"ES256\",\"typ\":\"JWT\"}",
                            GOOD_BODY, f->key, NULL),
                   "missing kid");
    expect_refused(f, forge("{\"alg\":\"ES256\",\"kid\":7}", GOOD_BODY,
                            f->key, NULL),
                   "malformed kid");
    snprintf(head, sizeof(head), "{\"alg\":\"ES256\",\"kid\":null}");
    expect_refused(f, forge(head, GOOD_BODY, f->key, NULL), "malformed kid");
}

static void test_wrong_key_same_kid(void **state)
{
    struct fx *f = *state;
    char *tok = NULL, *swapped;

    /* Signed by a key the verifier does not hold, naming one it does. */
    expect_refused(f, forge(head_for(f->kid), GOOD_BODY, f->other, NULL),
                   "bad signature");

    /* A real signature moved onto another payload. */
    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &tok), 0);
    swapped = forge(head_for(f->kid),
                    body_with("\"gau\"", "\"gau-api\"", "1800090000",
                              "1800000000", "1800000000"),
                    NULL, strrchr(tok, '.') + 1);
    expect_refused(f, swapped, "bad signature");
    free(tok);

    /* A signature of the wrong length. */
    expect_refused(f, forge(head_for(f->kid), GOOD_BODY, NULL,
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                   "bad signature");
    expect_refused(f, forge(head_for(f->kid), GOOD_BODY, NULL, ""),
                   "bad signature");
}

static void test_time_claims(void **state)
{
    struct fx *f = *state;

    /* exp must be later than now - leeway. */
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "\"gau-api\"", "1799999970",
                                      "1799999000", "1799999000"),
                            f->key, NULL),
                   "expired");
    expect_ok(f, forge(head_for(f->kid),
                           body_with("\"gau\"", "\"gau-api\"", "1799999971",
                                     "1799999000", "1799999000"),
                           f->key, NULL));

    /* nbf no later than now + leeway. */
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "\"gau-api\"", "1800009000",
                                      "1800000031", "1800000000"),
                            f->key, NULL),
                   "not yet valid");
    expect_ok(f, forge(head_for(f->kid),
                           body_with("\"gau\"", "\"gau-api\"", "1800009000",
                                     "1800000030", "1800000000"),
                           f->key, NULL));

    /* iat no later than now + leeway. */
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "\"gau-api\"", "1800009000",
                                      "1800000000", "1800000031"),
                            f->key, NULL),
                   "issued in the future");
}

static void test_signed_token_expires(void **state)
{
    struct fx *f = *state;
    struct gau_jwt_claims c;
    const char *why;
    char *tok = NULL;

    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &tok), 0);
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, tok, NOW + 929, &c, &why),
                     0);
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, tok, NOW + 930, &c, &why),
                     GAU_EUNAUTH);
    assert_string_equal(why, "expired");
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, tok, NOW - 31, &c, &why),
                     GAU_EUNAUTH);
    assert_string_equal(why, "not yet valid");
    free(tok);
}

static void test_claim_types(void **state)
{
    static const char *const bad[] = { "\"1800000900\"", "1800000900.0",
                                       "1.8e9", "null", "true", "[1]" };
    struct fx *f = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused(f, forge(head_for(f->kid),
                                body_with("\"gau\"", "\"gau-api\"", bad[i],
                                          "1800000000", "1800000000"),
                                f->key, NULL),
                       "malformed claims");
        expect_refused(f, forge(head_for(f->kid),
                                body_with("\"gau\"", "\"gau-api\"",
                                          "1800000900", bad[i],
                                          "1800000000"),
                                f->key, NULL),
                       "malformed claims");
        expect_refused(f, forge(head_for(f->kid),
                                body_with("\"gau\"", "\"gau-api\"",
                                          "1800000900", "1800000000",
                                          bad[i]),
                                f->key, NULL),
                       "malformed claims");
    }
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "\"gau-api\"", NULL,
                                      "1800000000", "1800000000"),
                            f->key, NULL),
                   "malformed claims");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "\"gau-api\"", "1800000900",
                                      NULL, "1800000000"),
                            f->key, NULL),
                   "malformed claims");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "\"gau-api\"", "1800000900",
                                      "1800000000", NULL),
                            f->key, NULL),
                   "malformed claims");
    expect_refused(f, forge(head_for(f->kid),
                            "{\"iss\":\"gau\",\"aud\":\"gau-api\","
                            "\"sub\":\"nobody\",\"sid\":\"" SID "\","
                            "\"jti\":\"" JTI "\",\"exp\":1800000900,"
                            "\"nbf\":1800000000,\"iat\":1800000000}",
                            f->key, NULL),
                   "malformed claims");
    expect_refused(f, forge(head_for(f->kid),
                            "{\"iss\":\"gau\",\"aud\":\"gau-api\","
                            "\"sub\":\"" SUB "\",\"exp\":1800000900,"
                            "\"nbf\":1800000000,\"iat\":1800000000}",
                            f->key, NULL),
                   "malformed claims");
    expect_refused(f, forge(head_for(f->kid), "[1,2]", f->key, NULL),
                   "malformed claims");
}

static void test_issuer_audience(void **state)
{
    struct fx *f = *state;

    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau2\"", "\"gau-api\"",
                                      "1800000900", "1800000000",
                                      "1800000000"),
                            f->key, NULL),
                   "wrong issuer");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"Gau\"", "\"gau-api\"", "1800000900",
                                      "1800000000", "1800000000"),
                            f->key, NULL),
                   "wrong issuer");
    expect_refused(f, forge(head_for(f->kid),
                            body_with(NULL, "\"gau-api\"", "1800000900",
                                      "1800000000", "1800000000"),
                            f->key, NULL),
                   "wrong issuer");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("[\"gau\"]", "\"gau-api\"",
                                      "1800000900", "1800000000",
                                      "1800000000"),
                            f->key, NULL),
                   "wrong issuer");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "\"other-api\"",
                                      "1800000900", "1800000000",
                                      "1800000000"),
                            f->key, NULL),
                   "wrong audience");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", NULL, "1800000900",
                                      "1800000000", "1800000000"),
                            f->key, NULL),
                   "wrong audience");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "[\"a\",\"b\"]",
                                      "1800000900", "1800000000",
                                      "1800000000"),
                            f->key, NULL),
                   "wrong audience");
    expect_refused(f, forge(head_for(f->kid),
                            body_with("\"gau\"", "{\"gau-api\":1}",
                                      "1800000900", "1800000000",
                                      "1800000000"),
                            f->key, NULL),
                   "wrong audience");
    expect_ok(f, forge(head_for(f->kid),
                           body_with("\"gau\"", "[\"other\",\"gau-api\"]",
                                     "1800000900", "1800000000",
                                     "1800000000"),
                           f->key, NULL));
}

static void test_truncated(void **state)
{
    struct fx *f = *state;
    struct gau_jwt_claims c;
    const char *why;
    char *tok = NULL, *cut;
    size_t n, len;

    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &tok), 0);
    len = strlen(tok);
    for (n = 0; n < len; n++) {
        cut = strndup(tok, n);
        why = NULL;
        assert_int_equal(gau_jwt_verify(f->vs, &cfg, cut, NOW, &c, &why),
                         GAU_EUNAUTH);
        assert_non_null(why);
        free(cut);
    }
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, tok, NOW, &c, &why), 0);
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, NULL, NOW, &c, &why),
                     GAU_EUNAUTH);
    assert_string_equal(why, "malformed token");
    free(tok);
}

static void test_dots(void **state)
{
    struct fx *f = *state;
    char *tok = NULL, *buf;
    size_t len;

    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &tok), 0);
    len = strlen(tok);
    buf = malloc(len + 8);

    /* One dot: header and payload only. */
    memcpy(buf, tok, (size_t)(strrchr(tok, '.') - tok));
    buf[strrchr(tok, '.') - tok] = '\0';
    expect_verify(f, buf, GAU_EUNAUTH, "malformed token");

    /* Three dots, anywhere. */
    sprintf(buf, "%s.", tok);
    expect_verify(f, buf, GAU_EUNAUTH, "malformed token");
    sprintf(buf, ".%s", tok);
    expect_verify(f, buf, GAU_EUNAUTH, "malformed token");
    sprintf(buf, "%s.e30", tok);
    expect_verify(f, buf, GAU_EUNAUTH, "malformed token");
    expect_verify(f, "..", GAU_EUNAUTH, "malformed token");
    expect_verify(f, "...", GAU_EUNAUTH, "malformed token");
    expect_verify(f, "e30", GAU_EUNAUTH, "malformed token");
    expect_verify(f, "", GAU_EUNAUTH, "malformed token");
    free(buf);
    free(tok);
}

static void test_alphabet(void **state)
{
    static const char bad[] = { '+', '/', '=', ' ', '%', '\n', '*', '\t',
                                '\x80' };
    struct fx *f = *state;
    struct gau_jwt_claims c;
    const char *why;
    char *tok = NULL, *buf;
    size_t len, i, at[3];

    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &tok), 0);
    len = strlen(tok);
    at[0] = 3;
    at[1] = (size_t)(strchr(tok, '.') - tok) + 3;
    at[2] = len - 5;
    buf = strdup(tok);
    for (i = 0; i < sizeof(bad) * 3; i++) {
        memcpy(buf, tok, len + 1);
        buf[at[i % 3]] = bad[i / 3];
        assert_int_equal(gau_jwt_verify(f->vs, &cfg, buf, NOW, &c, &why),
                         GAU_EUNAUTH);
        assert_string_equal(why, "malformed token");
    }
    free(buf);

    /* Padding on the signature. */
    buf = malloc(len + 3);
    sprintf(buf, "%s==", tok);
    expect_verify(f, buf, GAU_EUNAUTH, "malformed token");
    free(buf);
    free(tok);
}

static void test_stray_bits(void **state)
{
    struct fx *f = *state;
    char *tok = forge(head_for(f->kid), GOOD_BODY, f->key, NULL);
    size_t len = strlen(tok);

    /* 64 bytes take 86 characters, the last carrying 4 unused bits; a
     * token with any of them set is another text for the same signature. */
    expect_verify(f, tok, 0, NULL);
    tok[len - 1] = tok[len - 1] == 'A' ? 'B' : tok[len - 1] == 'Q' ? 'R' :
                   tok[len - 1] == 'g' ? 'h' : 'x';
    expect_refused(f, tok, "bad signature");
}

static void test_header_not_object(void **state)
{
    struct fx *f = *state;

    expect_refused(f, forge("not json", GOOD_BODY, f->key, NULL),
                   "malformed header");
    expect_refused(f, forge("[\"ES256\"]", GOOD_BODY, f->key, NULL),
                   "malformed header");
    expect_refused(f, forge("\"ES256\"", GOOD_BODY, f->key, NULL),
                   "malformed header");
    expect_refused(f, forge("{\"alg\":\"ES256\"", GOOD_BODY, f->key, NULL),
                   "malformed header");
    expect_refused(f, forge(head_for(f->kid), "not json", f->key, NULL),
                   "malformed claims");
    /* A header part that is not whole base64url bytes (5 characters). */
    expect_verify(f, "AAAAA.e30.AAAA", GAU_EUNAUTH, "malformed header");
}

static void test_oversized(void **state)
{
    struct fx *f = *state;
    char *big = malloc(GAU_JWT_MAX + 2), *body, *tok;
    size_t fill, last = 0;
    int n;

    memset(big, 'A', GAU_JWT_MAX + 1);
    big[GAU_JWT_MAX + 1] = '\0';
    big[10] = '.';
    big[20] = '.';
    expect_verify(f, big, GAU_EUNAUTH, "token too long");
    free(big);

    /* Properly signed tokens with a padded payload: the longest one within
     * the limit is accepted, one more byte of payload is not. */
    fill = GAU_JWT_MAX * 3 / 4;
    body = malloc(fill + 256);
    for (;; fill--) {
        n = sprintf(body, "{\"iss\":\"gau\",\"aud\":\"gau-api\",\"sub\":\""
                    SUB "\",\"sid\":\"" SID "\",\"jti\":\"" JTI "\","
                    "\"exp\":1800000900,\"nbf\":1800000000,"
                    "\"iat\":1800000000,\"pad\":\"");
        memset(body + n, 'p', fill);
        strcpy(body + n + fill, "\"}");
        tok = forge(head_for(f->kid), body, f->key, NULL);
        if (strlen(tok) <= GAU_JWT_MAX)
            break;
        last = strlen(tok);
        free(tok);
    }
    assert_true(last > GAU_JWT_MAX);
    assert_true(strlen(tok) > GAU_JWT_MAX - 3);
    expect_ok(f, tok);

    memset(body + n, 'p', fill + 1);
    strcpy(body + n + fill + 1, "\"}");
    tok = forge(head_for(f->kid), body, f->key, NULL);
    assert_true(strlen(tok) > GAU_JWT_MAX);
    expect_refused(f, tok, "token too long");
    free(body);
}

static void test_rotation(void **state)
{
    struct fx *f = *state;
    struct gau_keyset *other = gau_keyset_new(), *both = gau_keyset_new();
    struct gau_jwt_claims c;
    const char *why;
    char *t1 = NULL, *t2 = NULL;

    assert_int_equal(gau_keyset_add_pem(other, f->other_priv,
                                        strlen(f->other_priv), 1), 0);
    assert_int_equal(gau_keyset_add_pem(both, f->pub_pem,
                                        strlen(f->pub_pem), 0), 0);
    /* A private key file is accepted by a verifier: its public half. */
    assert_int_equal(gau_keyset_add_pem(both, f->other_priv,
                                        strlen(f->other_priv), 0), 0);
    assert_int_equal(gau_keyset_count(both), 2);
    assert_null(gau_keyset_signing_kid(both));

    assert_int_equal(gau_jwt_sign(f->ks, &cfg, SUB, SID, NOW, &t1), 0);
    assert_int_equal(gau_jwt_sign(other, &cfg, SUB, SID, NOW, &t2), 0);
    assert_int_equal(gau_jwt_verify(both, &cfg, t1, NOW, &c, &why), 0);
    assert_int_equal(gau_jwt_verify(both, &cfg, t2, NOW, &c, &why), 0);
    assert_int_equal(gau_jwt_verify(f->vs, &cfg, t2, NOW, &c, &why),
                     GAU_EUNAUTH);
    assert_string_equal(why, "unknown kid");
    free(t1);
    free(t2);
    gau_keyset_free(other);
    gau_keyset_free(both);
}

static void test_thumbprint_fixed(void **state)
{
    struct gau_keyset *ks = gau_keyset_new(), *pub = gau_keyset_new();
    json_t *doc, *k;
    char *jwks;

    assert_int_equal(gau_keyset_add_pem(ks, fixed_pem, strlen(fixed_pem), 1),
                     0);
    assert_string_equal(gau_keyset_signing_kid(ks), fixed_kid);
    assert_int_equal(gau_keyset_add_pem(pub, fixed_pub_pem,
                                        strlen(fixed_pub_pem), 0), 0);

    jwks = gau_keyset_jwks(pub);
    doc = json_loads(jwks, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "keys")), 1);
    k = json_array_get(json_object_get(doc, "keys"), 0);
    assert_int_equal(json_object_size(k), 7);
    assert_string_equal(json_string_value(json_object_get(k, "kid")),
                        fixed_kid);
    assert_string_equal(json_string_value(json_object_get(k, "x")), fixed_x);
    assert_string_equal(json_string_value(json_object_get(k, "y")), fixed_y);
    assert_string_equal(json_string_value(json_object_get(k, "kty")), "EC");
    assert_string_equal(json_string_value(json_object_get(k, "crv")),
                        "P-256");
    assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
    assert_string_equal(json_string_value(json_object_get(k, "alg")),
                        "ES256");
    json_decref(doc);
    free(jwks);
    gau_keyset_free(ks);
    gau_keyset_free(pub);
}

static void test_jwks_generated(void **state)
{
    struct fx *f = *state;
    unsigned char x[32], y[32], want[32];
    BIGNUM *bx = NULL, *by = NULL;
    json_t *doc, *k;
    size_t n;
    char *jwks = gau_keyset_jwks(f->vs);

    doc = json_loads(jwks, 0, NULL);
    k = json_array_get(json_object_get(doc, "keys"), 0);
    assert_string_equal(json_string_value(json_object_get(k, "kid")),
                        f->kid);
    assert_int_equal(gau_b64url_decode(json_string_value(json_object_get(k,
                                                                "x")),
                                       43, x, 32, &n), 0);
    assert_int_equal(n, 32);
    assert_int_equal(gau_b64url_decode(json_string_value(json_object_get(k,
                                                                "y")),
                                       43, y, 32, &n), 0);
    assert_int_equal(EVP_PKEY_get_bn_param(f->key, OSSL_PKEY_PARAM_EC_PUB_X,
                                           &bx), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(f->key, OSSL_PKEY_PARAM_EC_PUB_Y,
                                           &by), 1);
    BN_bn2binpad(bx, want, 32);
    assert_memory_equal(x, want, 32);
    BN_bn2binpad(by, want, 32);
    assert_memory_equal(y, want, 32);
    BN_free(bx);
    BN_free(by);
    json_decref(doc);
    free(jwks);

    jwks = gau_keyset_jwks(NULL);
    assert_string_equal(jwks, "{\"keys\":[]}");
    free(jwks);
}

static void test_keyset_errors(void **state)
{
    struct fx *f = *state;
    struct gau_keyset *ks = gau_keyset_new();
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *p384 = EVP_EC_gen("P-384");
    char *rsa_pem = pem_of(rsa, 1), *p384_pem = pem_of(p384, 0);
    char path[] = "/tmp/gau-test-jwt-XXXXXX";
    int fd;

    assert_int_equal(gau_keyset_add_pem(ks, "garbage", 7, 0), GAU_EINVAL);
    assert_int_equal(gau_keyset_add_pem(ks, "", 0, 0), GAU_EINVAL);
    assert_int_equal(gau_keyset_add_pem(ks, rsa_pem, strlen(rsa_pem), 0),
                     GAU_EINVAL);
    assert_int_equal(gau_keyset_add_pem(ks, p384_pem, strlen(p384_pem), 0),
                     GAU_EINVAL);
    assert_int_equal(gau_keyset_add_pem(ks, f->pub_pem, strlen(f->pub_pem),
                                        1), GAU_EINVAL);
    assert_int_equal(gau_keyset_count(ks), 0);

    assert_int_equal(gau_keyset_add_pem(ks, f->pub_pem, strlen(f->pub_pem),
                                        0), 0);
    assert_int_equal(gau_keyset_add_pem(ks, f->priv_pem, strlen(f->priv_pem),
                                        0), GAU_ECONFLICT);
    assert_int_equal(gau_keyset_add_pem(ks, f->other_priv,
                                        strlen(f->other_priv), 1), 0);
    assert_string_equal(gau_keyset_signing_kid(ks), f->other_kid);
    assert_int_equal(gau_keyset_count(ks), 2);
    assert_int_equal(gau_keyset_add_pem(ks, fixed_pem, strlen(fixed_pem), 1),
                     GAU_ECONFLICT);
    assert_int_equal(gau_keyset_count(ks), 2);

    assert_int_equal(gau_keyset_add_pem_file(ks, "/nonexistent/key.pem", 0),
                     GAU_EIO);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, fixed_pub_pem, strlen(fixed_pub_pem)),
                     (ssize_t)strlen(fixed_pub_pem));
    close(fd);
    assert_int_equal(gau_keyset_add_pem_file(ks, path, 0), 0);
    assert_int_equal(gau_keyset_add_pem_file(ks, path, 0), GAU_ECONFLICT);
    assert_int_equal(gau_keyset_count(ks), 3);
    unlink(path);

    assert_int_equal(gau_keyset_count(NULL), 0);
    assert_null(gau_keyset_signing_kid(NULL));
    gau_keyset_free(NULL);
    gau_keyset_free(ks);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
    free(rsa_pem);
    free(p384_pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_low_s_only),
        cmocka_unit_test(test_jti_fresh),
        cmocka_unit_test(test_sign_errors),
        cmocka_unit_test(test_forged_baseline),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs256_with_public_key),
        cmocka_unit_test(test_other_algs),
        cmocka_unit_test(test_header_members),
        cmocka_unit_test(test_duplicate_members),
        cmocka_unit_test(test_kid),
        cmocka_unit_test(test_wrong_key_same_kid),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_signed_token_expires),
        cmocka_unit_test(test_claim_types),
        cmocka_unit_test(test_issuer_audience),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_dots),
        cmocka_unit_test(test_alphabet),
        cmocka_unit_test(test_stray_bits),
        cmocka_unit_test(test_header_not_object),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_thumbprint_fixed),
        cmocka_unit_test(test_jwks_generated),
        cmocka_unit_test(test_keyset_errors),
    };

    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
