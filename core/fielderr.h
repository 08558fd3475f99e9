/*
 * fielderr.h - per-field validation errors.
 *
 * Validators add one entry per bad field: the field's name and a short
 * lower-case reason ("must be at least 8 characters"). The edge turns them
 * into the "fields" object of its JSON error, workers into the error reply.
 */
#ifndef GAU_FIELDERR_H
#define GAU_FIELDERR_H

#define GAU_FIELD_ERRORS_MAX 16

struct gau_field_error {
    char field[48];
    char reason[112];
};

struct gau_field_errors {
    int count;
    struct gau_field_error e[GAU_FIELD_ERRORS_MAX];
};

#define GAU_FIELD_ERRORS_INIT { 0 }

/* Adds an entry; past GAU_FIELD_ERRORS_MAX further entries are dropped. */
void gau_field_errors_add(struct gau_field_errors *errs, const char *field,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
