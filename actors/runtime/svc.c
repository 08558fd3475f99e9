#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "actors/runtime/svc.h"

const struct svc_handler *svc_find_handler(const struct svc_def *def,
                                           const char *type)
{
    size_t i;

    for (i = 0; i < def->nhandlers; i++)
        if (strcmp(def->handlers[i].type, type) == 0)
            return &def->handlers[i];
    return NULL;
}

const struct svc_projection *svc_find_projection(const struct svc_def *def,
                                                 const char *type)
{
    size_t i;

    for (i = 0; i < def->nprojections; i++)
        if (strcmp(def->projections[i].type, type) == 0)
            return &def->projections[i];
    return NULL;
}

int svc_fail(struct svc_result *res, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    return rc;
}
