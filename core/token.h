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

#endif
