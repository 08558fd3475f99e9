/*
 * jwt.h - access tokens: ES256 JWTs with a kid, and the keys behind them.
 *
 * A key set holds EC P-256 public keys by kid and, in the authorization
 * service, one private key to sign with. A key's kid is its RFC 7638 JWK
 * thumbprint (base64url SHA-256), so signer and verifiers agree on it
 * without configuration.
 *
 * Verification pins the algorithm to ES256 before any signature check
 * (the header is parsed first: "none", HS256 and every other value are
 * refused), looks the kid up in the set (unknown kid: refused), then checks
 * the signature, iss, aud, exp, nbf and iat, all of which must be present
 * with the right JSON types (exp and nbf integers). Signatures are made
 * and accepted in their low-s form only (s <= n / 2), so a token has one
 * valid spelling.
 */
#ifndef GAU_JWT_H
#define GAU_JWT_H

#include <stddef.h>
#include <stdint.h>

#define GAU_JWT_MAX 4096 /* longest token accepted, bytes */

struct gau_keyset;

struct gau_jwt_config {
    const char *issuer;   /* "gau" */
    const char *audience; /* "gau-api" */
    int64_t ttl_s;        /* access token lifetime, 900 by default */
    int64_t leeway_s;     /* clock skew allowed on exp/nbf, 30 */
};

struct gau_jwt_claims {
    char sub[37]; /* user id */
    char sid[37]; /* session id */
    char jti[37];
    int64_t iat;
    int64_t nbf;
    int64_t exp;
};

struct gau_keyset *gau_keyset_new(void);
void gau_keyset_free(struct gau_keyset *ks);

/*
 * Adds the key in a PEM file: a public key, or a private key whose public
 * half is added (and which becomes the signing key when sign is non-zero).
 * Returns 0, GAU_EIO (unreadable), GAU_EINVAL (not an EC P-256 key, or a
 * public key with sign set), GAU_ECONFLICT (already in the set, or sign
 * set when the set already has a signing key).
 */
int gau_keyset_add_pem_file(struct gau_keyset *ks, const char *path,
                            int sign);
/* The same from PEM text. */
int gau_keyset_add_pem(struct gau_keyset *ks, const char *pem, size_t len,
                       int sign);

/* Number of public keys. */
int gau_keyset_count(const struct gau_keyset *ks);

/* The kid of the signing key, or NULL; borrowed. */
const char *gau_keyset_signing_kid(const struct gau_keyset *ks);

/* The public keys as a JWKS document ({"keys":[...]}); caller frees. */
char *gau_keyset_jwks(const struct gau_keyset *ks);

/*
 * Signs an access token for user sub in session sid, valid from now_s for
 * cfg->ttl_s seconds, with a fresh jti. *out is a string the caller frees.
 * Returns 0, GAU_EINVAL when the set has no signing key (or sub or sid is
 * not a UUID, or ttl_s is not positive), GAU_EINTERNAL when libjwt fails.
 */
int gau_jwt_sign(const struct gau_keyset *ks,
                 const struct gau_jwt_config *cfg, const char *sub,
                 const char *sid, int64_t now_s, char **out);

/*
 * Verifies token at time now_s and fills *claims. Returns 0 or GAU_EUNAUTH;
 * *why (static text, never NULL on failure) says what was wrong, for logs.
 */
int gau_jwt_verify(const struct gau_keyset *ks,
                   const struct gau_jwt_config *cfg, const char *token,
                   int64_t now_s, struct gau_jwt_claims *claims,
                   const char **why);

#endif
