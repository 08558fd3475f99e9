#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"

void gau_buf_init(struct gau_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

int gau_buf_append(struct gau_buf *b, const void *p, size_t n)
{
    size_t want;

    if (n > b->max - b->len)
        return GAU_ETOOBIG;
    want = b->len + n + 1;
    if (want > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < want)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void gau_buf_reset(struct gau_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *gau_buf_detach(struct gau_buf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");

    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void gau_buf_release(struct gau_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
