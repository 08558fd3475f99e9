/*
 * mem.h - allocation that never returns NULL.
 *
 * Out of memory is not a recoverable state for a worker: these wrappers log
 * one line and abort, and the supervisor restarts the process. Callers never
 * check the result for NULL.
 */
#ifndef GAU_MEM_H
#define GAU_MEM_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh string; caller frees. */
char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
