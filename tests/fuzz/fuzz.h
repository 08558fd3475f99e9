/*
 * fuzz.h - what the fuzz harnesses share.
 *
 * Each harness (tests/fuzz/fuzz_*.c) defines LLVMFuzzerTestOneInput. It is
 * linked either with libFuzzer (make fuzz, clang) or with replay_main.c,
 * which feeds it every file of the corpus and regression folders (make
 * test, the sanitizer build). A broken property is reported by
 * FUZZ_CHECK, which aborts so that both drivers see a crash and keep the
 * input.
 */
#ifndef GAU_FUZZ_H
#define GAU_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__,     \
                    __LINE__, #cond);                                     \
            abort();                                                      \
        }                                                                 \
    } while (0)

/*
 * With GAU_FUZZ_VERBOSE set, says on stderr what became of an input
 * ("accepted", "refused: why"), to check that a seed reaches what it was
 * written for. Silent otherwise: the fuzzer runs millions of inputs.
 */
static inline void fuzz_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static inline void fuzz_note(const char *fmt, ...)
{
    static int verbose = -1;
    va_list ap;

    if (verbose < 0)
        verbose = getenv("GAU_FUZZ_VERBOSE") != NULL;
    if (!verbose)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#endif
