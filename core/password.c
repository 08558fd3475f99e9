#include <stdio.h>
#include <string.h>

#include <argon2.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/password.h"
#include "core/util.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define PHC_PREFIX "$argon2id$"

/* Bounds for the parameters, from the environment and in stored hashes. */
#define M_KIB_MIN 8
#define M_KIB_MAX 4194304
#define T_MIN 1
#define T_MAX 10
#define P_MIN 1
#define P_MAX 8

static int params_valid(uint32_t m_kib, uint32_t t, uint32_t p)
{
    return m_kib >= M_KIB_MIN && m_kib <= M_KIB_MAX && t >= T_MIN &&
           t <= T_MAX && p >= P_MIN && p <= P_MAX && m_kib >= 8 * p;
}

int gau_kdf_params_from_env(struct gau_kdf_params *p)
{
    long m, t, lanes;

    if (gau_env_long("GAU_ARGON2_M_KIB", 19456, M_KIB_MIN, M_KIB_MAX, &m) ||
        gau_env_long("GAU_ARGON2_T", 2, T_MIN, T_MAX, &t) ||
        gau_env_long("GAU_ARGON2_P", 1, P_MIN, P_MAX, &lanes))
        return GAU_EINVAL;

    /* argon2 needs at least 8 KiB per lane. */
    if (m < 8 * lanes) {
        log_error("invalid GAU_ARGON2_M_KIB %ld: want at least 8 KiB for "
                  "each of the %ld lanes", m, lanes);
        return GAU_EINVAL;
    }
    p->m_kib = (uint32_t)m;
    p->t = (uint32_t)t;
    p->p = (uint32_t)lanes;
    return 0;
}

static int password_len_ok(const char *password, size_t *len)
{
    *len = strnlen(password, GAU_PASSWORD_MAX + 1);
    return *len >= 1 && *len <= GAU_PASSWORD_MAX;
}

int gau_password_hash(const char *password, const struct gau_kdf_params *p,
                      char out[GAU_PHC_MAX])
{
    unsigned char salt[SALT_LEN];
    size_t len;
    int rc;

    out[0] = '\0';
    if (!password_len_ok(password, &len) ||
        !params_valid(p->m_kib, p->t, p->p))
        return GAU_EINVAL;
    if (gau_random(salt, sizeof(salt)) < 0)
        return GAU_EINTERNAL;
    rc = argon2id_hash_encoded(p->t, p->m_kib, p->p, password, len, salt,
                               sizeof(salt), HASH_LEN, out, GAU_PHC_MAX);
    if (rc != ARGON2_OK) {
        log_error("cannot hash password: %s", argon2_error_message(rc));
        out[0] = '\0';
        return GAU_EINTERNAL;
    }
    return 0;
}

/*
 * A stored hash is data, so its parameters are checked against the same
 * bounds as the configuration before argon2 is asked to allocate memory
 * for it: a damaged row must not make a worker allocate gigabytes.
 */
static int phc_params_ok(const char *phc)
{
    unsigned int m, t, p;
    int end = 0;

    if (sscanf(phc, "$argon2id$v=19$m=%u,t=%u,p=%u$%n", &m, &t, &p,
               &end) != 3 || end == 0)
        return 0;
    return params_valid(m, t, p);
}

int gau_password_verify(const char *phc, const char *password)
{
    size_t len;
    int rc;

    if (strnlen(phc, GAU_PHC_MAX) >= GAU_PHC_MAX ||
        strncmp(phc, PHC_PREFIX, strlen(PHC_PREFIX)) != 0 ||
        !phc_params_ok(phc))
        return GAU_EINVAL;

    /* No hash was ever made of a password outside these bounds. */
    if (!password_len_ok(password, &len))
        return GAU_EUNAUTH;

    rc = argon2id_verify(phc, password, len);
    switch (rc) {
    case ARGON2_OK:
        return 0;
    case ARGON2_VERIFY_MISMATCH:
        return GAU_EUNAUTH;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
    case ARGON2_THREAD_FAIL:
        log_error("cannot verify password: %s", argon2_error_message(rc));
        return GAU_EINTERNAL;
    default:
        return GAU_EINVAL;
    }
}
