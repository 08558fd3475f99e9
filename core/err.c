#include <string.h>

#include "core/err.h"

struct err_row {
    int rc;
    const char *code;
    const char *text;
};

static const struct err_row err_table[] = {
    { GAU_OK, "ok", "success" },
    { GAU_EINVAL, "invalid", "invalid input" },
    { GAU_ENOTFOUND, "not_found", "not found" },
    { GAU_ECONFLICT, "conflict", "conflict" },
    { GAU_EUNAUTH, "unauthorized", "not authenticated" },
    { GAU_ETOOBIG, "too_large", "too large" },
    { GAU_ETIMEOUT, "timeout", "deadline passed" },
    { GAU_EUNAVAIL, "unavailable", "service unavailable" },
    { GAU_EPROTO, "malformed", "malformed message" },
    { GAU_EIO, "io", "input/output error" },
    { GAU_EINTERNAL, "internal", "internal error" },
    { GAU_ESTOPPED, "stopped", "shutting down" },
    { GAU_EFORBIDDEN, "forbidden", "not allowed" },
};

static const struct err_row *err_find(int rc)
{
    size_t i;

    for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].rc == rc)
            return &err_table[i];
    return NULL;
}

const char *gau_strerror(int rc)
{
    const struct err_row *row = err_find(rc);

    return row ? row->text : "unknown error";
}

const char *gau_err_code(int rc)
{
    const struct err_row *row = err_find(rc);

    return row ? row->code : "internal";
}

int gau_err_from_code(const char *code)
{
    size_t i;

    for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (strcmp(err_table[i].code, code) == 0)
            return err_table[i].rc;
    return GAU_EINTERNAL;
}
