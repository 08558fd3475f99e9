#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

int gau_log_threshold = GAU_LOG_INFO;

static char log_service[32] = "gau";
static __thread char log_corr[72];

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void gau_log_init(const char *service)
{
    const char *level = getenv("GAU_LOG_LEVEL");
    int i;

    snprintf(log_service, sizeof(log_service), "%s", service);
    if (!level)
        return;
    for (i = 0; i <= GAU_LOG_DEBUG; i++)
        if (strcasecmp(level, log_names[i]) == 0)
            gau_log_threshold = i;
}

void gau_log_set_corr(const char *corr)
{
    snprintf(log_corr, sizeof(log_corr), "%s", corr ? corr : "");
}

void gau_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s svc=%s "
                 "pid=%d ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000,
                 log_names[level], log_service, (int)getpid());
    if (log_corr[0] && n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - n, "corr=%s ", log_corr);
    if (n < (int)sizeof(line)) {
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
    }
    if (n >= (int)sizeof(line))
        n = sizeof(line) - 1;
    line[n++] = '\n';
    /* One write per line, so lines of concurrent threads never interleave. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}
