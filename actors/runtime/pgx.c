#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/runtime/pgx.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"

const char *pgx_url(const char *svc, char *buf, size_t size)
{
    char def[160];

    snprintf(def, sizeof(def), "postgresql://gau@127.0.0.1:5432/gau_%s", svc);
    snprintf(buf, size, "%s", gau_env_svc("GAU_PG_URL", svc, def));
    return buf;
}

/* libpq's messages end with a newline; log lines must not. */
static const char *pgx_msg(const char *m, char *buf, size_t size)
{
    size_t n;

    snprintf(buf, size, "%s", m ? m : "");
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    for (n = 0; buf[n]; n++)
        if (buf[n] == '\n' || buf[n] == '\t' || buf[n] == '"')
            buf[n] = ' ';
    return buf;
}

int pgx_connect(const char *url, PGconn **out)
{
    PGconn *pg = PQconnectdb(url);
    char m[256];

    *out = NULL;
    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("cannot connect to postgresql: %s",
                  pgx_msg(PQerrorMessage(pg), m, sizeof(m)));
        PQfinish(pg);
        return GAU_EUNAVAIL;
    }
    *out = pg;
    return 0;
}

int pgx_ensure(PGconn **pg, const char *url)
{
    if (*pg && PQstatus(*pg) == CONNECTION_OK)
        return 0;
    PQfinish(*pg);
    *pg = NULL;
    return pgx_connect(url, pg);
}

static int pgx_translate(PGconn *pg, PGresult *r, char *what,
                         size_t what_len)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    char m[256];

    if (PQstatus(pg) != CONNECTION_OK || !state) {
        log_error("postgresql connection lost: %s",
                  pgx_msg(PQerrorMessage(pg), m, sizeof(m)));
        return GAU_EUNAVAIL;
    }
    if (what && what_len)
        snprintf(what, what_len, "%s", cons ? cons : "");
    if (strcmp(state, "23505") == 0)
        return GAU_ECONFLICT;
    /*
     * Serialization failures, deadlocks, and the server shutting down or
     * refusing connections are worth trying again later.
     */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "53", 2) == 0) {
        log_warn("postgresql transient failure: sqlstate=%s", state);
        return GAU_EUNAVAIL;
    }
    log_error("postgresql query failed: sqlstate=%s %s", state,
              pgx_msg(PQresultErrorMessage(r), m, sizeof(m)));
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return GAU_EINVAL;
    return GAU_EINTERNAL;
}

int pgx_exec(PGconn *pg, const char *sql, int n, const char *const *vals,
             const int *lens, const int *formats, PGresult **res,
             char *what, size_t what_len)
{
    PGresult *r;
    ExecStatusType st;
    int rc;

    if (res)
        *res = NULL;
    if (!pg)
        return GAU_EUNAVAIL;
    r = PQexecParams(pg, sql, n, NULL, vals, lens, formats, 0);
    st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (res)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    rc = pgx_translate(pg, r, what, what_len);
    PQclear(r);
    return rc;
}

int pgx_cmd(PGconn *pg, const char *sql)
{
    return pgx_exec(pg, sql, 0, NULL, NULL, NULL, NULL, NULL, 0);
}

unsigned char *pgx_bytea(const PGresult *res, int row, int col, size_t *len)
{
    *len = 0;
    if (PQgetisnull(res, row, col))
        return NULL;
    return PQunescapeBytea(
        (const unsigned char *)PQgetvalue(res, row, col), len);
}

int64_t pgx_i64(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *pgx_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);
}

int pgx_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col);
}
