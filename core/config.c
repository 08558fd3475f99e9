#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"

const char *gau_env(const char *name, const char *def)
{
    const char *v = getenv(name);

    return v && *v ? v : def;
}

const char *gau_env_svc(const char *name, const char *service,
                        const char *def)
{
    char key[128];
    size_t n;

    if (service) {
        n = (size_t)snprintf(key, sizeof(key), "%s_", name);
        for (; *service && n + 1 < sizeof(key); service++)
            key[n++] = (char)toupper((unsigned char)*service);
        key[n] = '\0';
        if (gau_env(key, NULL))
            return gau_env(key, NULL);
    }
    return gau_env(name, def);
}

int gau_env_long(const char *name, long def, long min, long max, long *out)
{
    const char *v = gau_env(name, NULL);
    char *end;
    long n;

    if (!v) {
        *out = def;
        return 0;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        log_error("invalid %s '%s': want an integer in [%ld, %ld]", name, v,
                  min, max);
        return GAU_EINVAL;
    }
    *out = n;
    return 0;
}

int gau_file_read(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int rc = 0;

    *out = NULL;
    if (!f)
        return GAU_EIO;
    buf = xmalloc(max + 2);
    n = fread(buf, 1, max + 1, f);
    if (ferror(f))
        rc = GAU_EIO;
    else if (n > max)
        rc = GAU_ETOOBIG;
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

char *gau_secret(const char *name, size_t max)
{
    char key[128];
    const char *path;
    char *s = NULL;
    size_t n = 0;
    int rc;

    if (gau_env(name, NULL))
        return xstrdup(gau_env(name, NULL));
    snprintf(key, sizeof(key), "%s_FILE", name);
    path = gau_env(key, NULL);
    if (!path)
        return NULL;
    rc = gau_file_read(path, max, &s, &n);
    if (rc < 0) {
        log_error("cannot read %s from '%s': %s", key, path,
                  gau_strerror(rc));
        return NULL;
    }
    if (n > 0 && s[n - 1] == '\n')
        s[n - 1] = '\0';
    return s;
}
