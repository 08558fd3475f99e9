/*
 * replay_main.c - runs a fuzz harness over saved inputs, without libFuzzer.
 *
 *   fuzz_<name> PATH...
 *
 * Every PATH is a file or a folder whose regular files (not recursing,
 * in name order so that runs are repeatable) are each passed once to
 * LLVMFuzzerTestOneInput. A broken property aborts the program, a
 * sanitizer report ends it; otherwise it prints how many inputs it ran
 * and exits 0. A missing PATH is an error, so a renamed folder cannot
 * make the replay pass by running nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

/* Far above any -max_len used; a bigger file is a mistake, not an input. */
#define REPLAY_FILE_MAX (4 * 1024 * 1024)

static int run_file(const char *path)
{
    unsigned char *buf = NULL;
    long n;
    FILE *f;

    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
        n > REPLAY_FILE_MAX || fseek(f, 0, SEEK_SET) < 0) {
        fprintf(stderr, "replay: cannot read %s (or it is over %d bytes)\n",
                path, REPLAY_FILE_MAX);
        fclose(f);
        return -1;
    }
    /* One byte more than needed, so that an empty file is a valid
     * pointer too, as libFuzzer passes it. */
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs every regular file of dir; returns the count or -1. */
static int run_dir(const char *dir)
{
    struct dirent **names = NULL;
    char path[4096];
    struct stat st;
    int i, n, ran = 0, rc = 0;

    n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s: %s\n", dir,
                strerror(errno));
        return -1;
    }
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (rc == 0 && names[i]->d_name[0] != '.' &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) < 0)
                rc = -1;
            else
                ran++;
        }
        free(names[i]);
    }
    free(names);
    return rc < 0 ? -1 : ran;
}

int main(int argc, char **argv)
{
    struct stat st;
    int i, n, total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode))
            n = run_dir(argv[i]);
        else
            n = run_file(argv[i]) < 0 ? -1 : 1;
        if (n < 0)
            return 1;
        total += n;
    }
    printf("replay: %d input(s) passed\n", total);
    return 0;
}
