/*
 * gauctl migrate [service...] - forward-only schema migrations.
 *
 * For each service, the .sql files of sql/common and then sql/<service> are
 * applied in name order to the service's database, each file once, in its
 * own transaction together with its row in schema_migrations. A file that
 * changed after it was applied is an error: migrations are never re-run and
 * never dropped. An advisory lock keeps two migrators from racing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "tools/gauctl/gauctl.h"
#include "tools/gauctl/pg.h"

/* A migration file may be large, but not unbounded. */
#define MIG_FILE_MAX (4 * 1024 * 1024)
#define MIG_MAX_FILES 1000
/* The advisory lock key: any constant, as long as every migrator agrees. */
#define MIG_LOCK_KEY "7446771593324146"

static const char *const mig_default_services[] = { "account",
                                                    "authorization" };

struct mig_list {
    char *names[MIG_MAX_FILES]; /* "common/0001_outbox.sql"; owned */
    size_t n;
};

struct mig_stats {
    int applied;
    int skipped;
};

static void mig_list_release(struct mig_list *list)
{
    size_t i;

    for (i = 0; i < list->n; i++)
        free(list->names[i]);
    list->n = 0;
}

static int mig_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int mig_is_sql(const char *name)
{
    size_t n = strlen(name);

    return n > 4 && name[0] != '.' && strcmp(name + n - 4, ".sql") == 0;
}

/*
 * Adds the *.sql files of <root>/<sub> to list as "<sub>/<file>", sorted
 * among themselves. A missing folder is an error only when required.
 */
static int mig_scan(const char *root, const char *sub, int required,
                    struct mig_list *list)
{
    char *path = xasprintf("%s/%s", root, sub);
    size_t first = list->n;
    struct dirent *de;
    DIR *dir;
    int rc = 0;

    dir = opendir(path);
    if (!dir) {
        if (required) {
            log_error("cannot open migrations folder '%s'", path);
            rc = GAU_ENOTFOUND;
        }
        goto out;
    }
    while ((de = readdir(dir)) != NULL) {
        if (!mig_is_sql(de->d_name))
            continue;
        if (list->n == MIG_MAX_FILES) {
            log_error("too many migrations in '%s'", path);
            rc = GAU_ETOOBIG;
            goto out;
        }
        list->names[list->n++] = xasprintf("%s/%s", sub, de->d_name);
    }
    qsort(list->names + first, list->n - first, sizeof(char *),
          mig_name_cmp);

out:
    if (dir)
        closedir(dir);
    free(path);
    return rc;
}

static void mig_sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = sizeof(md);

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    gau_hex(md, sizeof(md), out);
}

/* Takes the lock and makes sure the bookkeeping table exists. */
static int mig_prepare(PGconn *conn)
{
    int rc;

    rc = ctl_pg_exec(conn, "take the migration lock",
                     "SELECT pg_advisory_lock(" MIG_LOCK_KEY ")", 0, NULL,
                     NULL);
    if (rc < 0)
        return rc;
    return ctl_pg_exec(conn, "create table schema_migrations",
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       " name text PRIMARY KEY,"
                       " checksum text NOT NULL,"
                       " applied_at timestamptz NOT NULL DEFAULT now())",
                       0, NULL, NULL);
}

/*
 * Looks name up in schema_migrations: *recorded is set to a checksum the
 * caller frees, or NULL when the file was never applied.
 */
static int mig_recorded(PGconn *conn, const char *name, char **recorded)
{
    const char *params[] = { name };
    PGresult *res = NULL;
    int rc;

    *recorded = NULL;
    rc = ctl_pg_exec(conn, "read schema_migrations",
                     "SELECT checksum FROM schema_migrations"
                     " WHERE name = $1",
                     1, params, &res);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 1)
        *recorded = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* Runs one file and records it, all in one transaction. */
static int mig_apply(PGconn *conn, const char *name, const char *body,
                     const char *sum)
{
    const char *params[] = { name, sum };
    PGresult *res;
    int rc;

    rc = ctl_pg_exec(conn, "begin a migration", "BEGIN", 0, NULL, NULL);
    if (rc < 0)
        return rc;

    /* The body may hold many statements, which only PQexec accepts. */
    res = PQexec(conn, body);
    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("cannot apply migration '%s': %s", name,
                  ctl_pg_error(conn));
        rc = PQstatus(conn) == CONNECTION_OK ? GAU_EINVAL : GAU_EUNAVAIL;
        PQclear(res);
        goto out;
    }
    PQclear(res);

    rc = ctl_pg_exec(conn, "record a migration",
                     "INSERT INTO schema_migrations (name, checksum)"
                     " VALUES ($1, $2)",
                     2, params, NULL);
    if (rc < 0)
        goto out;
    rc = ctl_pg_exec(conn, "commit a migration", "COMMIT", 0, NULL, NULL);

out:
    if (rc < 0)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

/* Applies one file unless it is recorded already. */
static int mig_file(PGconn *conn, const char *service, const char *root,
                    const char *name, struct mig_stats *stats)
{
    char *path = xasprintf("%s/%s", root, name);
    char *body = NULL;
    char *recorded = NULL;
    char sum[65];
    size_t len = 0;
    int rc;

    rc = gau_file_read(path, MIG_FILE_MAX, &body, &len);
    if (rc < 0) {
        log_error("cannot read migration '%s': %s", path, gau_strerror(rc));
        goto out;
    }
    mig_sha256_hex(body, len, sum);

    rc = mig_recorded(conn, name, &recorded);
    if (rc < 0)
        goto out;
    if (recorded && strcmp(recorded, sum) == 0) {
        stats->skipped++;
        goto out;
    }
    if (recorded) {
        log_error("migration '%s' changed after it was applied to gau_%s",
                  name, service);
        rc = GAU_ECONFLICT;
        goto out;
    }

    rc = mig_apply(conn, name, body, sum);
    if (rc < 0)
        goto out;
    stats->applied++;
    printf("%s: applied %s\n", service, name);

out:
    free(recorded);
    free(body);
    free(path);
    return rc;
}

static int mig_service(const char *service, const char *root)
{
    struct mig_list list = { .n = 0 };
    struct mig_stats stats = { 0, 0 };
    PGconn *conn = NULL;
    size_t i;
    int rc;

    rc = mig_scan(root, "common", 0, &list);
    if (rc == 0)
        rc = mig_scan(root, service, 1, &list);
    if (rc < 0)
        goto out;

    rc = ctl_pg_connect(service, &conn);
    if (rc < 0)
        goto out;
    rc = mig_prepare(conn);
    if (rc < 0)
        goto out;

    for (i = 0; i < list.n && rc == 0; i++)
        rc = mig_file(conn, service, root, list.names[i], &stats);
    if (rc < 0)
        goto out;
    printf("%s: %d applied, %d already applied\n", service, stats.applied,
           stats.skipped);

out:
    /* Closing the session also releases the advisory lock. */
    PQfinish(conn);
    mig_list_release(&list);
    return rc;
}

static int mig_valid_service(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 32)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n &&
           strcmp(s, "common") != 0;
}

int ctl_migrate(int argc, char **argv)
{
    const char *root = gau_env("GAU_SQL_DIR", "sql");
    int failed = 0;
    int i;

    for (i = 1; i < argc; i++) {
        if (!mig_valid_service(argv[i])) {
            fprintf(stderr, "gauctl: bad service name '%s'\n", argv[i]);
            return CTL_USAGE;
        }
    }

    if (argc < 2) {
        for (i = 0; i < 2; i++)
            if (mig_service(mig_default_services[i], root) < 0)
                failed = 1;
    } else {
        for (i = 1; i < argc; i++)
            if (mig_service(argv[i], root) < 0)
                failed = 1;
    }
    return failed ? CTL_FAILED : CTL_OK;
}
