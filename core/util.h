/*
 * util.h - clocks, ids and hex.
 */
#ifndef GAU_UTIL_H
#define GAU_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define GAU_UUID_LEN 36

/* Milliseconds since the epoch (wall clock) and since boot (monotonic). */
int64_t gau_now_ms(void);
int64_t gau_mono_ms(void);

/* Writes a random (version 4) UUID, lower-case, NUL-terminated. */
void gau_uuid_new(char out[GAU_UUID_LEN + 1]);

/* 1 when s is a canonical lower- or upper-case UUID, else 0. */
int gau_uuid_valid(const char *s);

/*
 * Derives a stable UUID from the bytes (name-based, SHA-256 truncated, with
 * the version nibble set to 8 as RFC 9562 allows for custom hashes).
 */
void gau_uuid_derive(const void *data, size_t len,
                     char out[GAU_UUID_LEN + 1]);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void gau_hex(const void *data, size_t n, char *out);

/* Fills buf with n bytes from the system CSPRNG. Returns 0 or GAU_EIO. */
int gau_random(void *buf, size_t n);

/* Compares two byte strings in time independent of their contents. */
int gau_secure_eq(const void *a, const void *b, size_t n);

#endif
