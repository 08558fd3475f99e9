#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "tools/gauctl/pg.h"

const char *ctl_pg_error(PGconn *conn)
{
    static char msg[512];
    size_t n;

    snprintf(msg, sizeof(msg), "%s", conn ? PQerrorMessage(conn) : "");
    /* One log line per event: libpq's multi-line messages are joined. */
    for (n = 0; msg[n]; n++)
        if (msg[n] == '\n' && msg[n + 1])
            msg[n] = ' ';
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    return n ? msg : "unknown error";
}

/* Server notices ("relation already exists, skipping") are noise here. */
static void ctl_pg_notice(void *arg, const char *msg)
{
    log_debug("postgresql: %.*s", (int)strcspn(msg, "\n"), msg);
}

int ctl_pg_connect(const char *service, PGconn **out)
{
    char def[128];
    const char *url;
    const char *keys[] = { "dbname", "application_name",
                           "connect_timeout", NULL };
    const char *vals[] = { NULL, "gauctl", "10", NULL };
    PGconn *conn;

    snprintf(def, sizeof(def), "postgresql://gau@127.0.0.1:5432/gau_%s",
             service);
    url = gau_env_svc("GAU_PG_URL", service, def);
    vals[0] = url;

    /* expand_dbname = 1 lets dbname carry a whole URI or conninfo. */
    conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        log_error("cannot connect to the %s database: %s", service,
                  ctl_pg_error(conn));
        PQfinish(conn);
        *out = NULL;
        return GAU_EUNAVAIL;
    }
    PQsetNoticeProcessor(conn, ctl_pg_notice, NULL);
    *out = conn;
    return 0;
}

int ctl_pg_exec(PGconn *conn, const char *what, const char *sql, int n,
                const char *const *params, PGresult **res)
{
    PGresult *r;
    ExecStatusType st;

    if (res)
        *res = NULL;
    r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (res)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    log_error("cannot %s: %s", what, ctl_pg_error(conn));
    PQclear(r);
    return PQstatus(conn) == CONNECTION_OK ? GAU_EINTERNAL : GAU_EUNAVAIL;
}
