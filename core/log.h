/*
 * log.h - one line per event, logfmt, on stderr.
 *
 *   ts=2026-12-03T08:53:42.123Z level=info svc=account pid=42 corr=... \
 *     msg="command applied" type=account.register
 *
 * The level is checked before the arguments are evaluated. The service name
 * is set once per process, the correlation id once per message (thread
 * local); the logger adds both. Messages start lower-case and say what
 * failed first. Never log secrets, passwords, tokens, emails or names.
 */
#ifndef GAU_LOG_H
#define GAU_LOG_H

enum gau_log_level {
    GAU_LOG_ERROR = 0,
    GAU_LOG_WARN = 1,
    GAU_LOG_INFO = 2,
    GAU_LOG_DEBUG = 3
};

extern int gau_log_threshold;

/* Reads GAU_LOG_LEVEL (error|warn|info|debug) and names the process. */
void gau_log_init(const char *service);

/* Sets the correlation id of this thread's log lines; NULL clears it. */
void gau_log_set_corr(const char *corr);

void gau_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define gau_log(level, ...)                                                  \
    do {                                                                     \
        if ((level) <= gau_log_threshold)                                    \
            gau_log_write((level), __VA_ARGS__);                             \
    } while (0)

#define log_error(...) gau_log(GAU_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) gau_log(GAU_LOG_WARN, __VA_ARGS__)
#define log_info(...) gau_log(GAU_LOG_INFO, __VA_ARGS__)
#define log_debug(...) gau_log(GAU_LOG_DEBUG, __VA_ARGS__)

#endif
