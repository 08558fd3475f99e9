/*
 * config.h - configuration from the environment.
 *
 * Every setting is an environment variable with a local default. A secret
 * NAME may instead be given as a file whose path is in NAME_FILE.
 */
#ifndef GAU_CONFIG_H
#define GAU_CONFIG_H

#include <stddef.h>

/* The value of name, or def when unset or empty. Borrowed from environ. */
const char *gau_env(const char *name, const char *def);

/*
 * Looks up the first of "<name>_<SERVICE>" and name that is set (service
 * upper-cased, NULL to skip), else def. Borrowed.
 */
const char *gau_env_svc(const char *name, const char *service,
                        const char *def);

/*
 * Parses name as a decimal integer in [min, max] into *out, def when unset.
 * Returns 0, or GAU_EINVAL (logged with the variable name) when the value is
 * not a number or out of range.
 */
int gau_env_long(const char *name, long def, long min, long max, long *out);

/*
 * Reads the secret name: the variable itself, else the file named by
 * name_FILE (one trailing newline stripped, at most max bytes). Returns a
 * string the caller frees, or NULL when neither is set or the file cannot be
 * read (logged).
 */
char *gau_secret(const char *name, size_t max);

/*
 * Reads a whole file of at most max bytes into a NUL-terminated string the
 * caller frees. Returns 0, GAU_EIO when it cannot be read, GAU_ETOOBIG past
 * max.
 */
int gau_file_read(const char *path, size_t max, char **out, size_t *len);

#endif
