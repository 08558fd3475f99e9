/*
 * eventgen N AGGREGATES - fills the account event table for the replay
 * figure of make bench.
 *
 * Writes N account.profile_updated events, AGGREGATES users with
 * N / AGGREGATES versions each (version-major, so replay applies every
 * one of them), into the database GAU_PG_URL_ACCOUNT with one COPY. Each
 * body is a real event envelope built by the generated packer, exactly
 * what the actors store. The rows are marked published (the relay leaves
 * them alone) and carry the correlation id "bench-replay", by which the
 * bench script counts them; the users themselves do not exist in the
 * users table, which replay never reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <msgpack.h>

#include "bus/envelope.h"
#include "core/util.h"
#include "gau_schema.h"

#define EG_FLUSH (256 * 1024)

static void eg_die(PGconn *pg, const char *what)
{
    fprintf(stderr, "eventgen: %s: %s", what, pg ? PQerrorMessage(pg) : "\n");
    exit(1);
}

static void eg_flush(PGconn *pg, char *buf, size_t *len)
{
    if (*len && PQputCopyData(pg, buf, (int)*len) != 1)
        eg_die(pg, "cannot send COPY data");
    *len = 0;
}

int main(int argc, char **argv)
{
    static const char copy[] =
        "COPY events (event_id, aggregate_id, aggregate_version, type, "
        "schema_version, body, correlation_id, causation_id, occurred_at, "
        "published_at) FROM STDIN";
    const char *url = getenv("GAU_PG_URL_ACCOUNT");
    struct gau_account_profile_updated ev;
    struct gau_env_hdr hdr;
    msgpack_sbuffer sb;
    char (*ids)[GAU_UUID_LEN + 1];
    char *buf, *hex;
    size_t len = 0, cap;
    long n, aggs, i, a, v;
    PGconn *pg;
    PGresult *res;

    if (argc != 3 || !url) {
        fprintf(stderr, "usage: eventgen N AGGREGATES "
                        "(with GAU_PG_URL_ACCOUNT set)\n");
        return 2;
    }
    n = atol(argv[1]);
    aggs = atol(argv[2]);
    if (n < 1 || aggs < 1 || aggs > n)
        return 2;
    pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK)
        eg_die(pg, "cannot connect");
    res = PQexec(pg, copy);
    if (PQresultStatus(res) != PGRES_COPY_IN)
        eg_die(pg, "cannot start COPY");
    PQclear(res);
    ids = calloc((size_t)aggs, sizeof(*ids));
    for (a = 0; a < aggs; a++)
        gau_uuid_new(ids[a]);
    cap = EG_FLUSH + 8192;
    buf = malloc(cap);
    hex = malloc(8192);
    msgpack_sbuffer_init(&sb);
    for (i = 0; i < n; i++) {
        a = i % aggs;
        v = i / aggs + 1;
        memset(&ev, 0, sizeof(ev));
        memcpy(ev.user_id, ids[a], sizeof(ids[a]));
        snprintf(ev.username, sizeof(ev.username), "bench%ld", a);
        ev.has_username = true;
        snprintf(ev.fullname, sizeof(ev.fullname), "Replay Bench %ld", v);
        ev.created_at = 1764000000000LL;
        ev.updated_at = ev.created_at + v;
        ev.version = v;
        gau_env_hdr_init(&hdr, "account.profile_updated", 1, "bench-replay",
                         "bench-replay");
        msgpack_sbuffer_clear(&sb);
        gau_envelope_pack(&sb, &hdr, &gau_account_profile_updated_info, &ev);
        if (sb.size * 2 + 1 > 8192)
            eg_die(NULL, "event too big");
        gau_hex(sb.data, sb.size, hex);
        /* Text COPY: a backslash is written twice, so \\x starts hex. */
        len += (size_t)snprintf(buf + len, cap - len,
                                "%s\t%s\t%ld\taccount.profile_updated\t1\t"
                                "\\\\x%s\tbench-replay\tbench-replay\t"
                                "2026-01-01 00:00:00+00\t"
                                "2026-01-01 00:00:00+00\n",
                                hdr.id, ids[a], v, hex);
        if (len >= EG_FLUSH)
            eg_flush(pg, buf, &len);
    }
    eg_flush(pg, buf, &len);
    if (PQputCopyEnd(pg, NULL) != 1)
        eg_die(pg, "cannot end COPY");
    res = PQgetResult(pg);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        eg_die(pg, "COPY failed");
    printf("eventgen: %s rows\n", PQcmdTuples(res));
    PQclear(res);
    msgpack_sbuffer_destroy(&sb);
    free(hex);
    free(buf);
    free(ids);
    PQfinish(pg);
    return 0;
}
