/*
 * pgx.h - the PostgreSQL side of an actor: connecting, parameterised
 * queries, and libpq's failures translated into gau_err.
 *
 * Every query goes through pgx_exec() with parameters; SQL text is never
 * built from data.
 */
#ifndef GAU_ACTORS_PGX_H
#define GAU_ACTORS_PGX_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* The conninfo of service svc: GAU_PG_URL[_<SVC>] or the local default. */
const char *pgx_url(const char *svc, char *buf, size_t size);

/*
 * Connects to url. Returns 0 with *out set (PQfinish it), or GAU_EUNAVAIL
 * (logged, without the password).
 */
int pgx_connect(const char *url, PGconn **out);

/*
 * Makes sure *pg is a live connection, reconnecting when it is missing or
 * bad. Returns 0 or GAU_EUNAVAIL.
 */
int pgx_ensure(PGconn **pg, const char *url);

/*
 * Runs sql with n text parameters (a NULL value is SQL NULL; lens and
 * formats may be NULL for all-text, else per parameter: len of binary ones,
 * format 1 = binary). On success *res (may be NULL to discard) holds the
 * result for the caller to PQclear. Returns 0, GAU_ECONFLICT (unique
 * violation; the constraint name is copied to what), GAU_EUNAVAIL (the
 * connection is lost, or a serialization failure or deadlock: worth a
 * retry), GAU_EINVAL (a check or data error), GAU_EINTERNAL (any other
 * error, logged).
 */
int pgx_exec(PGconn *pg, const char *sql, int n, const char *const *vals,
             const int *lens, const int *formats, PGresult **res,
             char *what, size_t what_len);

/* pgx_exec() without parameters or result: BEGIN, COMMIT, ROLLBACK. */
int pgx_cmd(PGconn *pg, const char *sql);

/*
 * Decodes the bytea text value at row, col of res. Returns a buffer the
 * caller frees with PQfreemem, or NULL for SQL NULL or bad hex.
 */
unsigned char *pgx_bytea(const PGresult *res, int row, int col, size_t *len);

/* The value at row, col as int64 (0 for NULL). */
int64_t pgx_i64(const PGresult *res, int row, int col);

/* The value, "" for NULL; borrowed from res. */
const char *pgx_str(const PGresult *res, int row, int col);

/* 1 when the value is NULL. */
int pgx_null(const PGresult *res, int row, int col);

#endif
