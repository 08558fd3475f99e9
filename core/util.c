#include <ctype.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core/err.h"
#include "core/util.h"

int64_t gau_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gau_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gau_hex(const void *data, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void uuid_format(unsigned char b[16], char out[GAU_UUID_LEN + 1])
{
    char hex[33];

    gau_hex(b, 16, hex);
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
}

int gau_random(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : GAU_EIO;
}

void gau_uuid_new(char out[GAU_UUID_LEN + 1])
{
    unsigned char b[16];

    /* RAND_bytes only fails when the system has no entropy source at all. */
    if (gau_random(b, sizeof(b)) < 0)
        abort();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_format(b, out);
}

void gau_uuid_derive(const void *data, size_t len,
                     char out[GAU_UUID_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(data, len, md);
    md[6] = (md[6] & 0x0f) | 0x80;
    md[8] = (md[8] & 0x3f) | 0x80;
    uuid_format(md, out);
}

int gau_uuid_valid(const char *s)
{
    int i;

    for (i = 0; i < GAU_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[GAU_UUID_LEN] == '\0';
}

int gau_secure_eq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
