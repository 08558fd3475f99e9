#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/token.h"
#include "core/util.h"

#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16

/* The value of a base64url character, or -1. */
static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static void to_url_alphabet(char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '+')
            s[i] = '-';
        else if (s[i] == '/')
            s[i] = '_';
    }
}

size_t gau_b64url_encode(const void *data, size_t n, char *out)
{
    const unsigned char *p = data;
    size_t whole = n / 3 * 3, len = n / 3 * 4, rest = n - whole;
    unsigned char tail[3] = { 0 };
    char tmp[5];

    /* EVP_EncodeBlock pads to a multiple of four characters, so the last
     * partial group goes through a small buffer to keep out exactly as
     * long as GAU_B64URL_LEN says. */
    if (whole)
        EVP_EncodeBlock((unsigned char *)out, p, (int)whole);
    if (rest) {
        memcpy(tail, p + whole, rest);
        EVP_EncodeBlock((unsigned char *)tmp, tail, (int)rest);
        memcpy(out + len, tmp, rest + 1);
        len += rest + 1;
    }
    out[len] = '\0';
    to_url_alphabet(out, len);
    return len;
}

/* Decodes one group of four standard base64 characters into three bytes. */
static int decode_group(const char in[4], unsigned char out[3])
{
    unsigned char buf[5];
    int i;

    for (i = 0; i < 4; i++) {
        if (in[i] == '-')
            buf[i] = '+';
        else if (in[i] == '_')
            buf[i] = '/';
        else
            buf[i] = (unsigned char)in[i];
    }
    buf[4] = '\0';
    return EVP_DecodeBlock(out, buf, 4) == 3 ? 0 : GAU_EPROTO;
}

int gau_b64url_decode(const char *s, size_t len, unsigned char *out,
                      size_t max, size_t *out_len)
{
    size_t rest = len % 4, whole = len - rest, n, i;
    unsigned char three[3];
    char group[4];

    *out_len = 0;
    if (rest == 1)
        return GAU_EPROTO;
    for (i = 0; i < len; i++) {
        if (b64url_value(s[i]) < 0)
            return GAU_EPROTO;
    }

    /* The unused low bits of the last character must be zero, so that
     * each byte string has exactly one accepted text. */
    if (rest == 2 && (b64url_value(s[len - 1]) & 0x0f))
        return GAU_EPROTO;
    if (rest == 3 && (b64url_value(s[len - 1]) & 0x03))
        return GAU_EPROTO;
    n = whole / 4 * 3 + (rest ? rest - 1 : 0);
    if (n > max)
        return GAU_ETOOBIG;

    /* EVP_DecodeBlock counts the bytes that padding stands for as zeros in
     * its result, so the last partial group is padded here, decoded into a
     * scratch buffer, and only its real bytes are copied. */
    for (i = 0; i < whole; i += 4) {
        if (decode_group(s + i, out + i / 4 * 3) < 0)
            return GAU_EPROTO;
    }
    if (rest) {
        memcpy(group, s + whole, rest);
        memset(group + rest, 'A', 4 - rest);
        if (decode_group(group, three) < 0)
            return GAU_EPROTO;
        memcpy(out + whole / 4 * 3, three, rest - 1);
    }
    *out_len = n;
    return 0;
}

int gau_token_new(char out[GAU_TOKEN_LEN + 1])
{
    unsigned char raw[32];

    if (gau_random(raw, sizeof(raw)) < 0)
        return GAU_EIO;
    gau_b64url_encode(raw, sizeof(raw), out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

void gau_token_hash(const char *token, unsigned char out[GAU_TOKEN_HASH_LEN])
{
    SHA256((const unsigned char *)token, strlen(token), out);
}

/*
 * OpenSSL only fails here on a broken installation or out of memory, which
 * no caller could handle better than the allocation wrappers do.
 */
static void seal_die(const char *what)
{
    log_error("cannot run AES-256-GCM: %s", what);
    abort();
}

void gau_seal(const unsigned char key[GAU_SEAL_KEY_LEN], const void *data,
              size_t len, unsigned char **out, size_t *out_len)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char *buf = xmalloc(len + GAU_SEAL_OVERHEAD);
    unsigned char *ct = buf + SEAL_NONCE_LEN;
    int n = 0, fin = 0;

    if (!ctx)
        seal_die("EVP_CIPHER_CTX_new failed");
    if (len > INT_MAX)
        seal_die("text longer than INT_MAX bytes");
    if (gau_random(buf, SEAL_NONCE_LEN) < 0)
        seal_die("gau_random failed");
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) != 1)
        seal_die("EVP_EncryptInit_ex failed");
    if (len && EVP_EncryptUpdate(ctx, ct, &n, data, (int)len) != 1)
        seal_die("EVP_EncryptUpdate failed");
    if (EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1)
        seal_die("EVP_EncryptFinal_ex failed");
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
                            ct + len) != 1)
        seal_die("EVP_CTRL_GCM_GET_TAG failed");

    EVP_CIPHER_CTX_free(ctx);
    *out = buf;
    *out_len = len + GAU_SEAL_OVERHEAD;
}

int gau_unseal(const unsigned char key[GAU_SEAL_KEY_LEN], const void *sealed,
               size_t len, unsigned char **out, size_t *out_len)
{
    const unsigned char *in = sealed;
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *buf = NULL, tag[SEAL_TAG_LEN];
    size_t ct_len;
    int n = 0, fin = 0, rc = 0;

    *out = NULL;
    *out_len = 0;
    if (len < GAU_SEAL_OVERHEAD || len - GAU_SEAL_OVERHEAD > INT_MAX)
        return GAU_EPROTO;
    ct_len = len - GAU_SEAL_OVERHEAD;
    memcpy(tag, in + len - SEAL_TAG_LEN, SEAL_TAG_LEN);

    /* One spare byte keeps the allocation non-empty for an empty text. */
    buf = xmalloc(ct_len + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        seal_die("EVP_CIPHER_CTX_new failed");
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in) != 1)
        seal_die("EVP_DecryptInit_ex failed");
    if (ct_len && EVP_DecryptUpdate(ctx, buf, &n, in + SEAL_NONCE_LEN,
                                    (int)ct_len) != 1) {
        rc = GAU_EPROTO;
        goto out;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
                            tag) != 1)
        seal_die("EVP_CTRL_GCM_SET_TAG failed");

    /* The final step is where GCM compares the tag. */
    if (EVP_DecryptFinal_ex(ctx, buf + n, &fin) != 1) {
        rc = GAU_EPROTO;
        goto out;
    }
    *out = buf;
    *out_len = ct_len;
    buf = NULL;

out:
    if (buf) {
        OPENSSL_cleanse(buf, ct_len + 1);
        free(buf);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}
