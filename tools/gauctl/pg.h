/*
 * pg.h - the few libpq calls gauctl shares between its commands.
 */
#ifndef GAU_GAUCTL_PG_H
#define GAU_GAUCTL_PG_H

#include <libpq-fe.h>

/*
 * Connects to the database of service, found with
 * gau_env_svc("GAU_PG_URL", service, "postgresql://gau@127.0.0.1:5432/
 * gau_<service>"). Returns 0 and a connection the caller closes with
 * PQfinish, or GAU_EUNAVAIL (logged) when the server cannot be reached or
 * refuses the login.
 */
int ctl_pg_connect(const char *service, PGconn **out);

/*
 * Runs sql with n text parameters (params may be NULL when n is 0).
 * Returns 0 and, when res is not NULL, the result the caller frees with
 * PQclear; GAU_EUNAVAIL when the connection is gone, GAU_EINTERNAL when the
 * statement failed (both logged with what).
 */
int ctl_pg_exec(PGconn *conn, const char *what, const char *sql, int n,
                const char *const *params, PGresult **res);

/* The last libpq error of conn without its trailing newline. Borrowed. */
const char *ctl_pg_error(PGconn *conn);

#endif
