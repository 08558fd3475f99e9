#include <stdarg.h>
#include <stdio.h>

#include "core/fielderr.h"

void gau_field_errors_add(struct gau_field_errors *errs, const char *field,
                          const char *fmt, ...)
{
    struct gau_field_error *e;
    va_list ap;

    if (errs->count >= GAU_FIELD_ERRORS_MAX)
        return;
    e = &errs->e[errs->count++];
    snprintf(e->field, sizeof(e->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
}
