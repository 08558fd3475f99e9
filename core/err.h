/*
 * err.h - the one error type of gau.
 *
 * Every function that can fail returns 0 on success or one of the negative
 * codes below. Codes from libpq, hiredis, rabbitmq-c, OpenSSL or errno are
 * translated where they enter and never travel further up.
 */
#ifndef GAU_ERR_H
#define GAU_ERR_H

enum gau_err {
    GAU_OK = 0,
    GAU_EINVAL = -1,     /* input failed validation */
    GAU_ENOTFOUND = -2,  /* the thing asked for does not exist */
    GAU_ECONFLICT = -3,  /* unique constraint, version or key clash */
    GAU_EUNAUTH = -4,    /* credentials missing, wrong or revoked */
    GAU_ETOOBIG = -5,    /* input past its limit */
    GAU_ETIMEOUT = -6,   /* a deadline passed */
    GAU_EUNAVAIL = -7,   /* a server (broker, database, cache) is down */
    GAU_EPROTO = -8,     /* bytes that cannot be decoded */
    GAU_EIO = -9,        /* a system call failed */
    GAU_EINTERNAL = -10, /* a bug or an impossible state */
    GAU_ESTOPPED = -11,  /* the process is shutting down */
    GAU_EFORBIDDEN = -12 /* authenticated, but not allowed */
};

/* A short lower-case description of rc; never NULL. */
const char *gau_strerror(int rc);

/* The stable machine code used in JSON and reply errors ("invalid", ...). */
const char *gau_err_code(int rc);

/* Maps a code from gau_err_code() back to its rc; GAU_EINTERNAL if unknown. */
int gau_err_from_code(const char *code);

#endif
