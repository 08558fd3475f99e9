/*
 * fuzz_jwt.c - the access token verifier against forged tokens.
 *
 * The verifier holds one public key, as the edge does. At start-up a
 * valid token is signed with its private half through gau_jwt_sign, for
 * a fixed user, session and time. The first input byte picks what the
 * rest of the input is:
 *
 *   0  the token itself;
 *   1  edits to the valid token: 3 bytes each (operation and position
 *      high bits, position low byte, character), replace/insert/delete;
 *   2  the header JSON, with the valid token's claims and signature;
 *   3  the claims JSON, with the valid token's header and signature;
 *   4  the signature bytes, with the valid token's header and claims;
 *   5  claims JSON, signed HS256 with the public key's PEM as the secret;
 *   6  claims JSON, signed ES256 by another key under our kid.
 *
 * Properties: modes 5 and 6 are never accepted. Any other token accepted
 * carries exactly the claims of the valid one (mode 0 may hold a token
 * signed by an earlier run, with its own jti, so there only the jti may
 * differ): no input turns the valid token into one for someone else, or
 * with a longer life.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/err.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/token.h"
#include "tests/fuzz/fuzz.h"

#define NOW_S 1800000000LL
#define SUB "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b"
#define SID "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
/* Room for any token the modes build from an input of GAU_JWT_MAX. */
#define TOKEN_CAP (4 * GAU_JWT_MAX)

/* Fixed keys, so that saved inputs mean the same in every run. */
static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgH6ErGvbePZKMFkOn\n"
    "K9oM81SJzGflAnoBSYQfLzVqK/yhRANCAARsxjN9v8Dq5JIEwWG7bwqIi3Q0UI7P\n"
    "0RiZTxXLzq5aOg2pDexhQ5z9IItX88tda26+LYlJV7selj+6Wq7U99hL\n"
    "-----END PRIVATE KEY-----\n";
static const char pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEbMYzfb/A6uSSBMFhu28KiIt0NFCO\n"
    "z9EYmU8Vy86uWjoNqQ3sYUOc/SCLV/PLXWtuvi2JSVe7HpY/ulqu1PfYSw==\n"
    "-----END PUBLIC KEY-----\n";
static const char other_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKQk+fWYypUZeJ73q\n"
    "4m/nrnlCxY8y5/ZoaKdOCNyrYC+hRANCAARQW9OAi9Dl1iPdsKiWwuj959SmXttz\n"
    "OJd1yMR1DfaoUPKDgVf1Hx6blNFqRNNztGCkzNjTGwghmtRIXs9017EA\n"
    "-----END PRIVATE KEY-----\n";

static const struct gau_jwt_config cfg = {
    .issuer = "gau", .audience = "gau-api", .ttl_s = 900, .leeway_s = 30
};

struct fx {
    struct gau_keyset *verifier;
    char *token;
    const char *head, *body, *sig; /* parts of token */
    size_t head_len, body_len, sig_len;
    struct gau_jwt_claims claims;
    char kid[65];
};

static struct fx fx;

static void fx_free(void)
{
    gau_keyset_free(fx.verifier);
    free(fx.token);
}

static void fx_init(void)
{
    struct gau_keyset *signer = gau_keyset_new();
    const char *why = NULL, *dot;

    gau_log_threshold = GAU_LOG_ERROR;
    fx.verifier = gau_keyset_new();
    FUZZ_CHECK(gau_keyset_add_pem(signer, key_pem, strlen(key_pem), 1) ==
               0);
    FUZZ_CHECK(gau_keyset_add_pem(fx.verifier, pub_pem, strlen(pub_pem),
                                  0) == 0);
    snprintf(fx.kid, sizeof(fx.kid), "%s", gau_keyset_signing_kid(signer));
    FUZZ_CHECK(gau_jwt_sign(signer, &cfg, SUB, SID, NOW_S, &fx.token) == 0);
    gau_keyset_free(signer);
    FUZZ_CHECK(gau_jwt_verify(fx.verifier, &cfg, fx.token, NOW_S,
                              &fx.claims, &why) == 0);

    fx.head = fx.token;
    dot = strchr(fx.head, '.');
    fx.head_len = (size_t)(dot - fx.head);
    fx.body = dot + 1;
    dot = strchr(fx.body, '.');
    fx.body_len = (size_t)(dot - fx.body);
    fx.sig = dot + 1;
    fx.sig_len = strlen(fx.sig);
    atexit(fx_free);
}

/* Appends n bytes to the token being built, within TOKEN_CAP. */
static void put(char *t, size_t *len, const void *s, size_t n)
{
    if (n > TOKEN_CAP - 1 - *len)
        n = TOKEN_CAP - 1 - *len;
    memcpy(t + *len, s, n);
    *len += n;
    t[*len] = '\0';
}

static void put_b64(char *t, size_t *len, const void *s, size_t n)
{
    char *enc = xmalloc(GAU_B64URL_LEN(n) + 1);

    put(t, len, enc, gau_b64url_encode(s, n, enc));
    free(enc);
}

static void edits(char *t, size_t *len, const uint8_t *d, size_t n)
{
    size_t i, pos;

    put(t, len, fx.token, strlen(fx.token));
    for (i = 0; i + 3 <= n; i += 3) {
        pos = ((size_t)(d[i] >> 2) << 8 | d[i + 1]) % (*len + 1);
        switch (d[i] % 3) {
        case 0:
            if (pos < *len)
                t[pos] = (char)d[i + 2];
            break;
        case 1:
            if (*len + 1 < TOKEN_CAP) {
                memmove(t + pos + 1, t + pos, *len - pos + 1);
                t[pos] = (char)d[i + 2];
                (*len)++;
            }
            break;
        default:
            if (pos < *len) {
                memmove(t + pos, t + pos + 1, *len - pos);
                (*len)--;
            }
        }
    }
}

/* HS256 over head.body with the public key PEM as the secret. */
static void forge_hs256(char *t, size_t *len, const uint8_t *d, size_t n)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    char head[128];

    snprintf(head, sizeof(head), "{\"alg\":\"HS256\",\"typ\":\"JWT\","
             "\"kid\":\"%s\"}", fx.kid);
    put_b64(t, len, head, strlen(head));
    put(t, len, ".", 1);
    put_b64(t, len, d, n);
    FUZZ_CHECK(HMAC(EVP_sha256(), pub_pem, (int)strlen(pub_pem),
                    (const unsigned char *)t, *len, mac, &mac_len) != NULL);
    put(t, len, ".", 1);
    put_b64(t, len, mac, mac_len);
}

/* ES256 by a key the verifier does not hold, claiming our kid. */
static void forge_other_key(char *t, size_t *len, const uint8_t *d, size_t n)
{
    char *claims = xstrndup((const char *)d, n);
    jwt_t *jwt = NULL;
    char *text = NULL;

    FUZZ_CHECK(jwt_new(&jwt) == 0);
    FUZZ_CHECK(jwt_set_alg(jwt, JWT_ALG_ES256,
                           (const unsigned char *)other_pem,
                           (int)strlen(other_pem)) == 0);
    FUZZ_CHECK(jwt_add_header(jwt, "kid", fx.kid) == 0);
    /* Claims that are not a JSON object: the valid token's, then. */
    if (jwt_add_grants_json(jwt, claims) != 0) {
        jwt_add_grant(jwt, "iss", cfg.issuer);
        jwt_add_grant(jwt, "aud", cfg.audience);
        jwt_add_grant(jwt, "sub", fx.claims.sub);
        jwt_add_grant(jwt, "sid", fx.claims.sid);
        jwt_add_grant(jwt, "jti", fx.claims.jti);
        jwt_add_grant_int(jwt, "iat", (long)fx.claims.iat);
        jwt_add_grant_int(jwt, "nbf", (long)fx.claims.nbf);
        jwt_add_grant_int(jwt, "exp", (long)fx.claims.exp);
    }
    text = jwt_encode_str(jwt);
    if (text)
        put(t, len, text, strlen(text));
    free(text);
    jwt_free(jwt);
    free(claims);
}

static void build(char *t, size_t *len, int mode, const uint8_t *d,
                  size_t n)
{
    switch (mode) {
    case 0:
        put(t, len, d, n);
        break;
    case 1:
        edits(t, len, d, n);
        break;
    case 2:
        put_b64(t, len, d, n);
        put(t, len, ".", 1);
        put(t, len, fx.body, fx.body_len);
        put(t, len, ".", 1);
        put(t, len, fx.sig, fx.sig_len);
        break;
    case 3:
        put(t, len, fx.head, fx.head_len + 1);
        put_b64(t, len, d, n);
        put(t, len, ".", 1);
        put(t, len, fx.sig, fx.sig_len);
        break;
    case 4:
        put(t, len, fx.head, fx.head_len + 1 + fx.body_len + 1);
        put_b64(t, len, d, n);
        break;
    case 5:
        forge_hs256(t, len, d, n);
        break;
    default:
        forge_other_key(t, len, d, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char token[TOKEN_CAP];
    struct gau_jwt_claims c;
    const char *why = NULL;
    size_t len = 0;
    int mode, rc;

    if (!fx.token)
        fx_init();
    if (size < 1 || size > GAU_JWT_MAX + 1)
        return 0;
    mode = data[0] % 7;
    token[0] = '\0';
    build(token, &len, mode, data + 1, size - 1);

    rc = gau_jwt_verify(fx.verifier, &cfg, token, NOW_S, &c, &why);
    if (rc < 0) {
        FUZZ_CHECK(rc == GAU_EUNAUTH);
        FUZZ_CHECK(why != NULL);
        fuzz_note("mode %d: refused: %s", mode, why);
        return 0;
    }
    fuzz_note("mode %d: accepted", mode);
    FUZZ_CHECK(mode != 5 && mode != 6);
    FUZZ_CHECK(strcmp(c.sub, fx.claims.sub) == 0);
    FUZZ_CHECK(strcmp(c.sid, fx.claims.sid) == 0);
    FUZZ_CHECK(mode == 0 || strcmp(c.jti, fx.claims.jti) == 0);
    FUZZ_CHECK(c.iat == fx.claims.iat && c.nbf == fx.claims.nbf &&
               c.exp == fx.claims.exp);
    return 0;
}
