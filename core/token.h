/*
 * token.h - opaque secrets: refresh tokens and sealed blobs.
 */
#ifndef GAU_TOKEN_H
#define GAU_TOKEN_H

#include <stddef.h>

/* 32 random bytes, base64url without padding: 43 characters. */
#define GAU_TOKEN_LEN 43
#define GAU_TOKEN_HASH_LEN 32

/* A new refresh token, NUL-terminated. Returns 0 or GAU_EIO. */
int gau_token_new(char out[GAU_TOKEN_LEN + 1]);

/* SHA-256 of the token text: what is stored. */
void gau_token_hash(const char *token, unsigned char out[GAU_TOKEN_HASH_LEN]);

/*
 * AES-256-GCM with a 32-byte key: sealed = nonce(12) || ciphertext || tag
 * (16). gau_seal never fails; *out is malloc'd (len + 28 bytes). gau_unseal
 * returns 0, or GAU_EPROTO when the blob is short or fails authentication.
 */
#define GAU_SEAL_KEY_LEN 32
#define GAU_SEAL_OVERHEAD 28
void gau_seal(const unsigned char key[GAU_SEAL_KEY_LEN], const void *data,
              size_t len, unsigned char **out, size_t *out_len);
int gau_unseal(const unsigned char key[GAU_SEAL_KEY_LEN], const void *sealed,
               size_t len, unsigned char **out, size_t *out_len);

/*
 * base64url without padding (RFC 4648 section 5). gau_b64url_encode writes
 * the text of n bytes and a NUL into out, which holds
 * GAU_B64URL_LEN(n) + 1 bytes, and returns its length.
 */
#define GAU_B64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
size_t gau_b64url_encode(const void *data, size_t n, char *out);

/*
 * Decodes len characters of base64url without padding into out, which
 * holds max bytes, and sets *out_len. Only the canonical text of some bytes
 * is accepted: no padding, no whitespace, no other alphabet, no stray bits
 * in the last character. Returns 0, GAU_EPROTO for text that is not that,
 * or GAU_ETOOBIG when the bytes would not fit in max.
 */
int gau_b64url_decode(const char *s, size_t len, unsigned char *out,
                      size_t max, size_t *out_len);

#endif
