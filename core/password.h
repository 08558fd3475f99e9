/*
 * password.h - password hashing with argon2id, stored in PHC format
 * ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
 */
#ifndef GAU_PASSWORD_H
#define GAU_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#define GAU_PHC_MAX 128
#define GAU_PASSWORD_MIN 8   /* characters */
#define GAU_PASSWORD_MAX 128 /* bytes */

struct gau_kdf_params {
    uint32_t m_kib; /* memory, KiB */
    uint32_t t;     /* passes */
    uint32_t p;     /* lanes */
};

/*
 * The parameters from GAU_ARGON2_M_KIB, GAU_ARGON2_T and GAU_ARGON2_P, by
 * default 19456 KiB, 2 passes, 1 lane (OWASP's argon2id baseline). Returns
 * 0 or GAU_EINVAL for an out-of-range value.
 */
int gau_kdf_params_from_env(struct gau_kdf_params *p);

/*
 * Hashes password (1..GAU_PASSWORD_MAX bytes) with a fresh 16-byte salt.
 * Returns 0, GAU_EINVAL (password length or parameters out of range),
 * GAU_EINTERNAL.
 */
int gau_password_hash(const char *password, const struct gau_kdf_params *p,
                      char out[GAU_PHC_MAX]);

/*
 * Checks password against a PHC string. Returns 0 on a match, GAU_EUNAUTH
 * on a mismatch (also for a password of no allowed length), GAU_EINVAL when
 * phc is not an argon2id PHC string or its parameters are outside the
 * bounds of gau_kdf_params_from_env, GAU_EINTERNAL when argon2 cannot get
 * its memory.
 */
int gau_password_verify(const char *phc, const char *password);

#endif
