#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <pthread.h>

#include "core/config.h"
#include "core/err.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/token.h"
#include "core/util.h"

#define KID_MAX 64
#define COORD_LEN 32                       /* P-256 coordinate, bytes */
#define COORD_B64 GAU_B64URL_LEN(COORD_LEN) /* 43 characters */
#define SIG_LEN (2 * COORD_LEN)            /* ES256: r || s */
#define PEM_FILE_MAX 65536

struct jwt_key {
    char kid[KID_MAX + 1];
    char x[COORD_B64 + 1];
    char y[COORD_B64 + 1];
    char *pem; /* the public key, SubjectPublicKeyInfo PEM */
    size_t pem_len;
    /*
     * The same public key, parsed once: parsing PEM for every token cost
     * most of the edge's time per request (OpenSSL 3 decoders take
     * locks), so verification uses this object. Read-only once made, so
     * threads may share it.
     */
    EVP_PKEY *pub;
};

struct gau_keyset {
    struct jwt_key *keys;
    int count;
    int sign_index; /* into keys, or -1 */
    char *sign_pem; /* the signing key, PKCS#8 PEM, or NULL */
    size_t sign_len;
    /* Unique per set made in this process; part of the verify cache key. */
    uint64_t id;
};

/*
 * Tokens this thread verified lately. A client sends the same access
 * token with every request, and the ES256 check costs more than all the
 * rest of a read. Only good tokens are kept, with a copy of their bytes,
 * the key set's id and the issuer and audience they were checked for; a
 * hit is the very same token checked against the same keys and config,
 * so only the time claims are checked again. Revocation is not the
 * verifier's business: the edge checks the session on every request.
 * Tokens longer than VERIFY_TOKEN_MAX are always checked in full.
 */
#define VERIFY_CACHE 64
#define VERIFY_TOKEN_MAX 1024
#define VERIFY_NAME_MAX 64

struct verify_hit {
    uint64_t ks_id; /* 0: empty */
    size_t len;
    char token[VERIFY_TOKEN_MAX];
    char issuer[VERIFY_NAME_MAX];
    char audience[VERIFY_NAME_MAX];
    struct gau_jwt_claims claims;
};

static __thread struct verify_hit verify_cache[VERIFY_CACHE];
static uint64_t keyset_ids;

/* The parts of a token, pointing into it. */
struct jwt_parts {
    const char *head, *body, *sig;
    size_t head_len, body_len, sig_len;
};

struct gau_keyset *gau_keyset_new(void)
{
    struct gau_keyset *ks = xcalloc(1, sizeof(*ks));

    ks->sign_index = -1;
    ks->id = __atomic_add_fetch(&keyset_ids, 1, __ATOMIC_RELAXED);
    return ks;
}

void gau_keyset_free(struct gau_keyset *ks)
{
    int i;

    if (!ks)
        return;
    for (i = 0; i < ks->count; i++) {
        free(ks->keys[i].pem);
        EVP_PKEY_free(ks->keys[i].pub);
    }
    free(ks->keys);
    if (ks->sign_pem) {
        OPENSSL_cleanse(ks->sign_pem, ks->sign_len);
        free(ks->sign_pem);
    }
    free(ks);
}

/*
 * An encrypted private key cannot be used unattended; refusing the
 * passphrase here keeps OpenSSL from prompting on the terminal.
 */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* Parses a private key, else a public key, from PEM text. */
static EVP_PKEY *pem_load(const char *pem, size_t len, int *is_private)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio;

    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio)
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    *is_private = pkey != NULL;
    if (!pkey) {
        bio = BIO_new_mem_buf(pem, (int)len);
        if (bio)
            pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
    }
    ERR_clear_error();
    return pkey;
}

static int is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t n = 0;

    if (!EVP_PKEY_is_a(pkey, "EC"))
        return 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), &n) != 1)
        return 0;
    return strcmp(group, "prime256v1") == 0;
}

static int coord_b64(EVP_PKEY *pkey, const char *name, char *out)
{
    unsigned char raw[COORD_LEN];
    BIGNUM *bn = NULL;
    int rc = 0;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1 ||
        BN_bn2binpad(bn, raw, sizeof(raw)) != COORD_LEN)
        rc = GAU_EINVAL;
    else
        gau_b64url_encode(raw, sizeof(raw), out);
    BN_free(bn);
    return rc;
}

/*
 * RFC 7638: the SHA-256 of the required members in lexicographic order,
 * without whitespace, base64url-encoded.
 */
static void thumbprint(const char *x, const char *y, char kid[KID_MAX + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char json[160];
    int n;

    n = snprintf(json, sizeof(json),
                 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 x, y);
    SHA256((const unsigned char *)json, (size_t)n, md);
    gau_b64url_encode(md, sizeof(md), kid);
}

/* The text a memory BIO holds, as a fresh string. */
static char *bio_text(BIO *bio, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);

    if (n <= 0)
        return NULL;
    *len = (size_t)n;
    return xstrndup(data, (size_t)n);
}

static int key_init(struct jwt_key *key, EVP_PKEY *pkey)
{
    BIO *bio = NULL;
    int rc = 0;

    memset(key, 0, sizeof(*key));
    if (coord_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, key->x) < 0 ||
        coord_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, key->y) < 0)
        return GAU_EINVAL;
    thumbprint(key->x, key->y, key->kid);

    bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PUBKEY(bio, pkey) != 1 ||
        !(key->pem = bio_text(bio, &key->pem_len))) {
        log_error("cannot write public key %s as PEM", key->kid);
        rc = GAU_EINTERNAL;
    }
    BIO_free(bio);
    return rc;
}

/* The private key as PKCS#8 PEM, in memory OpenSSL wipes when freed. */
static char *private_pem(EVP_PKEY *pkey, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *pem = NULL;

    if (bio && PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
                                        NULL) == 1)
        pem = bio_text(bio, len);
    BIO_free(bio);
    return pem;
}

static const struct jwt_key *keyset_find(const struct gau_keyset *ks,
                                         const char *kid)
{
    int i;

    for (i = 0; i < ks->count; i++) {
        if (strcmp(ks->keys[i].kid, kid) == 0)
            return &ks->keys[i];
    }
    return NULL;
}

int gau_keyset_add_pem(struct gau_keyset *ks, const char *pem, size_t len,
                       int sign)
{
    struct jwt_key key = { .pem = NULL };
    EVP_PKEY *pkey = NULL;
    int is_private = 0, pub_private = 0, rc = 0;

    if (len == 0 || len > INT_MAX)
        return GAU_EINVAL;
    pkey = pem_load(pem, len, &is_private);
    if (!pkey || !is_p256(pkey) || (sign && !is_private)) {
        rc = GAU_EINVAL;
        goto out;
    }
    rc = key_init(&key, pkey);
    if (rc < 0)
        goto out;
    /* From the public PEM, so no private half stays in the object. */
    key.pub = pem_load(key.pem, key.pem_len, &pub_private);
    if (!key.pub) {
        log_error("cannot read back public key %s", key.kid);
        rc = GAU_EINTERNAL;
        goto out;
    }

    /* One signing key per set: a second one is as much a clash as a
     * repeated kid. */
    if (keyset_find(ks, key.kid) || (sign && ks->sign_index >= 0)) {
        rc = GAU_ECONFLICT;
        goto out;
    }
    if (sign) {
        ks->sign_pem = private_pem(pkey, &ks->sign_len);
        if (!ks->sign_pem) {
            log_error("cannot write signing key %s as PEM", key.kid);
            rc = GAU_EINTERNAL;
            goto out;
        }
        ks->sign_index = ks->count;
    }

    ks->keys = xrealloc(ks->keys, (size_t)(ks->count + 1) * sizeof(key));
    ks->keys[ks->count++] = key;
    key.pem = NULL;
    key.pub = NULL;

out:
    free(key.pem);
    EVP_PKEY_free(key.pub);
    EVP_PKEY_free(pkey);
    return rc;
}

int gau_keyset_add_pem_file(struct gau_keyset *ks, const char *path,
                            int sign)
{
    char *pem = NULL;
    size_t len = 0;
    int rc;

    rc = gau_file_read(path, PEM_FILE_MAX, &pem, &len);
    if (rc == GAU_EIO) {
        log_error("cannot read key file '%s'", path);
        goto out;
    }
    if (rc < 0) {
        rc = GAU_EINVAL;
        goto out;
    }
    rc = gau_keyset_add_pem(ks, pem, len, sign);
    if (rc == GAU_EINVAL)
        log_error("cannot use key file '%s': not an EC P-256 %s key", path,
                  sign ? "private" : "public or private");

out:
    if (pem) {
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    return rc;
}

int gau_keyset_count(const struct gau_keyset *ks)
{
    return ks ? ks->count : 0;
}

const char *gau_keyset_signing_kid(const struct gau_keyset *ks)
{
    if (!ks || ks->sign_index < 0)
        return NULL;
    return ks->keys[ks->sign_index].kid;
}

char *gau_keyset_jwks(const struct gau_keyset *ks)
{
    json_t *doc = json_object(), *keys = json_array();
    char *text, *out;
    int i;

    for (i = 0; ks && i < ks->count; i++) {
        const struct jwt_key *k = &ks->keys[i];

        json_array_append_new(keys,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                                        "kty", "EC", "crv", "P-256", "x",
                                        k->x, "y", k->y, "kid", k->kid,
                                        "use", "sig", "alg", "ES256"));
    }
    json_object_set_new(doc, "keys", keys);
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text) {
        log_error("cannot write the JWKS document: out of memory");
        abort();
    }

    /* Handed over as our own allocation, so the caller frees with free
     * whatever allocator jansson was given. */
    out = xstrdup(text);
    free(text);
    return out;
}

/* Adds the claims; libjwt returns an errno value on failure. */
static int add_claims(jwt_t *jwt, const struct gau_jwt_config *cfg,
                      const char *sub, const char *sid, int64_t now_s)
{
    char jti[GAU_UUID_LEN + 1];

    gau_uuid_new(jti);
    return jwt_add_grant(jwt, "iss", cfg->issuer) ||
           jwt_add_grant(jwt, "aud", cfg->audience) ||
           jwt_add_grant(jwt, "sub", sub) || jwt_add_grant(jwt, "sid", sid) ||
           jwt_add_grant(jwt, "jti", jti) ||
           jwt_add_grant_int(jwt, "iat", (long)now_s) ||
           jwt_add_grant_int(jwt, "nbf", (long)now_s) ||
           jwt_add_grant_int(jwt, "exp", (long)(now_s + cfg->ttl_s));
}

/*
 * ECDSA signatures are malleable: if (r, s) is valid, so is (r, n - s).
 * gau signs only with the low s (s <= n / 2) and accepts only that, so a
 * token has exactly one valid spelling. half_order is n / 2 of P-256,
 * made once; NULL only when OpenSSL cannot build the curve.
 */
static BIGNUM *half_order;
static BIGNUM *curve_order;
static pthread_once_t order_once = PTHREAD_ONCE_INIT;

static void order_init(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);

    if (g) {
        curve_order = BN_dup(EC_GROUP_get0_order(g));
        half_order = curve_order ? BN_dup(curve_order) : NULL;
        if (half_order)
            BN_rshift1(half_order, half_order);
    }
    EC_GROUP_free(g);
}

static const BIGNUM *p256_half_order(void)
{
    pthread_once(&order_once, order_init);
    return half_order;
}

/*
 * Rewrites the signature of a freshly signed token (the part after its
 * last dot, in place: the length does not change) to its low-s form.
 * Returns 0, or GAU_EINTERNAL.
 */
static int sig_make_low_s(char *token)
{
    char *dot = strrchr(token, '.');
    unsigned char sig[SIG_LEN];
    BIGNUM *s = NULL;
    size_t n = 0;
    int rc = GAU_EINTERNAL;

    if (!dot || !p256_half_order() ||
        gau_b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig),
                          &n) < 0 || n != SIG_LEN)
        return rc;
    s = BN_bin2bn(sig + COORD_LEN, COORD_LEN, NULL);
    if (!s)
        goto out;
    if (BN_cmp(s, half_order) > 0 &&
        (BN_sub(s, curve_order, s) != 1 ||
         BN_bn2binpad(s, sig + COORD_LEN, COORD_LEN) != COORD_LEN))
        goto out;
    gau_b64url_encode(sig, SIG_LEN, dot + 1);
    rc = 0;
out:
    BN_free(s);
    return rc;
}

int gau_jwt_sign(const struct gau_keyset *ks,
                 const struct gau_jwt_config *cfg, const char *sub,
                 const char *sid, int64_t now_s, char **out)
{
    const char *kid = gau_keyset_signing_kid(ks);
    jwt_t *jwt = NULL;
    char *text = NULL;
    int rc = 0;

    *out = NULL;
    if (!kid || !gau_uuid_valid(sub) || !gau_uuid_valid(sid) ||
        cfg->ttl_s <= 0)
        return GAU_EINVAL;
    if (jwt_new(&jwt) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)ks->sign_pem,
                    (int)ks->sign_len) != 0 ||
        jwt_add_header(jwt, "kid", kid) != 0 ||
        add_claims(jwt, cfg, sub, sid, now_s) != 0) {
        log_error("cannot build access token: libjwt refused a field");
        rc = GAU_EINTERNAL;
        goto out;
    }
    text = jwt_encode_str(jwt);
    if (!text || sig_make_low_s(text) < 0) {
        log_error("cannot sign access token with key %s", kid);
        rc = GAU_EINTERNAL;
        goto out;
    }
    *out = xstrdup(text);

out:
    free(text);
    jwt_free(jwt);
    return rc;
}

static int is_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Splits a token into its three parts: exactly two dots, only the
 * base64url alphabet, a header and a payload. An empty signature passes
 * here so that an unsigned ("none") token is refused for its algorithm,
 * which is what the log should say.
 */
static int token_split(const char *token, size_t len, struct jwt_parts *p)
{
    const char *dot1, *dot2;
    size_t i;

    for (i = 0; i < len; i++) {
        if (!is_b64url_char(token[i]) && token[i] != '.')
            return GAU_EPROTO;
    }
    dot1 = memchr(token, '.', len);
    if (!dot1)
        return GAU_EPROTO;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return GAU_EPROTO;

    p->head = token;
    p->head_len = (size_t)(dot1 - token);
    p->body = dot1 + 1;
    p->body_len = (size_t)(dot2 - p->body);
    p->sig = dot2 + 1;
    p->sig_len = len - (size_t)(p->sig - token);
    if (!p->head_len || !p->body_len)
        return GAU_EPROTO;
    return 0;
}

/* Decodes a base64url part holding a JSON object. */
static json_t *part_json(const char *s, size_t len)
{
    unsigned char *buf = xmalloc(len);
    json_t *obj = NULL;
    size_t n = 0;

    if (gau_b64url_decode(s, len, buf, len, &n) == 0)
        obj = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

static int kid_valid(const char *kid)
{
    size_t i, n = strlen(kid);

    if (n == 0 || n > KID_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        if (!is_b64url_char(kid[i]))
            return 0;
    }
    return 1;
}

/*
 * The header decides nothing: the algorithm must be exactly ES256 and the
 * key comes from our set by kid. Members that ask a verifier to fetch or
 * trust a key named by the token, or to understand extensions, are
 * refused outright.
 */
static const char *header_check(json_t *head, const char **kid)
{
    static const char *const banned[] = { "crit", "jku", "x5u", "jwk",
                                          "x5c", "x5t", "x5t#S256" };
    json_t *alg = json_object_get(head, "alg");
    json_t *typ = json_object_get(head, "typ");
    json_t *k = json_object_get(head, "kid");
    size_t i;

    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256"))
        return "alg not allowed";
    if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT")))
        return "wrong typ";
    for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        if (json_object_get(head, banned[i]))
            return "header member not allowed";
    }
    if (!k)
        return "missing kid";
    if (!json_is_string(k) || !kid_valid(json_string_value(k)))
        return "malformed kid";
    *kid = json_string_value(k);
    return NULL;
}

static int aud_matches(json_t *aud, const char *want)
{
    json_t *v;
    size_t i;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (!json_is_array(aud))
        return 0;
    json_array_foreach(aud, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return 1;
    }
    return 0;
}

/* Copies a string claim that must be a UUID. */
static int uuid_claim(json_t *body, const char *name, char out[37])
{
    json_t *v = json_object_get(body, name);

    if (!json_is_string(v) || !gau_uuid_valid(json_string_value(v)))
        return 0;
    memcpy(out, json_string_value(v), GAU_UUID_LEN + 1);
    return 1;
}

static int int_claim(json_t *body, const char *name, int64_t *out)
{
    json_t *v = json_object_get(body, name);

    if (!json_is_integer(v))
        return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

static const char *time_check(const struct gau_jwt_claims *c,
                              const struct gau_jwt_config *cfg,
                              int64_t now_s)
{
    int64_t leeway = cfg->leeway_s > 0 ? cfg->leeway_s : 0;

    if (c->exp <= now_s - leeway)
        return "expired";
    if (c->nbf > now_s + leeway)
        return "not yet valid";
    if (c->iat > now_s + leeway)
        return "issued in the future";
    return NULL;
}

static const char *claims_check(json_t *body,
                                const struct gau_jwt_config *cfg,
                                int64_t now_s, struct gau_jwt_claims *c)
{
    json_t *iss = json_object_get(body, "iss");

    if (!json_is_string(iss) || strcmp(json_string_value(iss), cfg->issuer))
        return "wrong issuer";
    if (!aud_matches(json_object_get(body, "aud"), cfg->audience))
        return "wrong audience";
    if (!uuid_claim(body, "sub", c->sub) ||
        !uuid_claim(body, "sid", c->sid) ||
        !uuid_claim(body, "jti", c->jti))
        return "malformed claims";
    if (!int_claim(body, "exp", &c->exp) ||
        !int_claim(body, "nbf", &c->nbf) || !int_claim(body, "iat", &c->iat))
        return "malformed claims";

    return time_check(c, cfg, now_s);
}

/* The slot of a token (FNV-1a of its bytes); NULL when not cacheable. */
static struct verify_hit *verify_slot(const struct gau_jwt_config *cfg,
                                      const char *token, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    if (len > VERIFY_TOKEN_MAX || strlen(cfg->issuer) >= VERIFY_NAME_MAX ||
        strlen(cfg->audience) >= VERIFY_NAME_MAX)
        return NULL;
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 16777619u;
    return &verify_cache[h % VERIFY_CACHE];
}

static bool verify_hit_is(const struct verify_hit *v,
                          const struct gau_keyset *ks,
                          const struct gau_jwt_config *cfg,
                          const char *token, size_t len)
{
    return v->ks_id == ks->id && v->len == len &&
           memcmp(v->token, token, len) == 0 &&
           strcmp(v->issuer, cfg->issuer) == 0 &&
           strcmp(v->audience, cfg->audience) == 0;
}

static void verify_remember(struct verify_hit *v, const struct gau_keyset *ks,
                            const struct gau_jwt_config *cfg,
                            const char *token, size_t len,
                            const struct gau_jwt_claims *claims)
{
    v->ks_id = ks->id;
    v->len = len;
    memcpy(v->token, token, len);
    snprintf(v->issuer, sizeof(v->issuer), "%s", cfg->issuer);
    snprintf(v->audience, sizeof(v->audience), "%s", cfg->audience);
    v->claims = *claims;
}

/*
 * Checks the ES256 signature (RFC 7518 3.4: r || s, 32 bytes each, over
 * "header.payload") with the key chosen by us; header_check has pinned
 * the algorithm already.
 */
static const char *signature_check(const char *token,
                                   const struct jwt_parts *p,
                                   const struct jwt_key *key)
{
    unsigned char sig[SIG_LEN], *der = NULL;
    const char *why = "bad signature";
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = NULL, *s = NULL;
    EVP_MD_CTX *md = NULL;
    size_t n = 0, signed_len = (size_t)(p->body + p->body_len - token);
    int der_len;

    if (gau_b64url_decode(p->sig, p->sig_len, sig, sizeof(sig), &n) < 0 ||
        n != SIG_LEN || !es)
        goto out;
    r = BN_bin2bn(sig, COORD_LEN, NULL);
    s = BN_bin2bn(sig + COORD_LEN, COORD_LEN, NULL);
    if (s && p256_half_order() && BN_cmp(s, half_order) > 0) {
        why = "high-s signature";
        BN_free(r);
        BN_free(s);
        goto out;
    }
    if (!r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    der_len = i2d_ECDSA_SIG(es, &der);
    md = EVP_MD_CTX_new();
    if (der_len > 0 && md &&
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pub) == 1 &&
        EVP_DigestVerify(md, der, (size_t)der_len,
                         (const unsigned char *)token, signed_len) == 1)
        why = NULL;
out:
    /* A failed check leaves OpenSSL errors; they are no one else's. */
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return why;
}

int gau_jwt_verify(const struct gau_keyset *ks,
                   const struct gau_jwt_config *cfg, const char *token,
                   int64_t now_s, struct gau_jwt_claims *claims,
                   const char **why)
{
    json_t *head = NULL, *body = NULL;
    const struct jwt_key *key;
    const char *w = NULL, *kid = NULL;
    struct verify_hit *hit = NULL;
    struct jwt_parts p;
    size_t len;

    memset(claims, 0, sizeof(*claims));
    len = token ? strnlen(token, GAU_JWT_MAX + 1) : 0;
    if (len > GAU_JWT_MAX) {
        w = "token too long";
        goto out;
    }
    if (len == 0 || token_split(token, len, &p) < 0) {
        w = "malformed token";
        goto out;
    }
    hit = ks ? verify_slot(cfg, token, len) : NULL;
    if (hit && verify_hit_is(hit, ks, cfg, token, len)) {
        *claims = hit->claims;
        w = time_check(claims, cfg, now_s);
        goto out;
    }

    head = part_json(p.head, p.head_len);
    if (!head) {
        w = "malformed header";
        goto out;
    }
    w = header_check(head, &kid);
    if (w)
        goto out;
    key = ks ? keyset_find(ks, kid) : NULL;
    if (!key) {
        w = "unknown kid";
        goto out;
    }

    /* libjwt refuses a payload that is not a JSON object as it refuses a
     * bad signature; parsing it first keeps the two apart in the logs. */
    body = part_json(p.body, p.body_len);
    if (!body) {
        w = "malformed claims";
        goto out;
    }
    w = signature_check(token, &p, key);
    if (!w)
        w = claims_check(body, cfg, now_s, claims);
    if (!w && hit)
        verify_remember(hit, ks, cfg, token, len, claims);

out:
    json_decref(head);
    json_decref(body);
    if (w)
        memset(claims, 0, sizeof(*claims));
    if (why)
        *why = w;
    return w ? GAU_EUNAUTH : 0;
}
