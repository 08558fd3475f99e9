/*
 * buf.h - a growing byte buffer with a maximum set at creation.
 *
 * Every buffer fed from outside the process is a gau_buf: appending past
 * max fails with GAU_ETOOBIG and leaves the buffer as it was. The data is
 * always NUL-terminated (the terminator is not counted in len).
 */
#ifndef GAU_BUF_H
#define GAU_BUF_H

#include <stddef.h>

struct gau_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void gau_buf_init(struct gau_buf *b, size_t max);
/* Returns 0 or GAU_ETOOBIG. */
int gau_buf_append(struct gau_buf *b, const void *p, size_t n);
void gau_buf_reset(struct gau_buf *b);
/* Hands the data to the caller (free() it) and empties b. */
char *gau_buf_detach(struct gau_buf *b, size_t *len);
void gau_buf_release(struct gau_buf *b);

#endif
