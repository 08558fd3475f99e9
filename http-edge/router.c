#include <stdio.h>
#include <string.h>

#include "http-edge/router.h"

/*
 * The whole API in one table. The order matters only for the Allow header
 * of a 405, which lists a path's methods in this order.
 */
static const struct edge_route route_table[EDGE_ROUTE_COUNT] = {
    { EDGE_ROUTE_REGISTER, "POST", "/api/v2/account/register",
      "account.register", "account.register", EDGE_BODY, 201 },
    { EDGE_ROUTE_LOGIN, "POST", "/api/v2/account/login", "account.login",
      "account.login", EDGE_BODY, 200 },
    { EDGE_ROUTE_PROFILE_GET, "GET", "/api/v2/account/profile",
      "account.profile", NULL, EDGE_AUTH, 200 },
    { EDGE_ROUTE_PROFILE_PATCH, "PATCH", "/api/v2/account/profile",
      "account.profile_update", "account.profile_update",
      EDGE_AUTH | EDGE_BODY, 200 },
    { EDGE_ROUTE_LOGOUT, "POST", "/api/v2/account/logout",
      "account.logout", "authorization.session_revoke",
      EDGE_AUTH | EDGE_BODY | EDGE_BODY_OPTIONAL, 204 },
    { EDGE_ROUTE_REFRESH, "POST", "/api/v2/authorization/token/refresh",
      "authorization.token_refresh", "authorization.token_refresh",
      EDGE_BODY, 200 },
    { EDGE_ROUTE_JWKS, "GET", "/api/v2/authorization/.well-known/jwks.json",
      "authorization.jwks", NULL, 0, 200 },
    { EDGE_ROUTE_HEALTHZ, "GET", "/healthz", "healthz", NULL, 0, 200 },
    { EDGE_ROUTE_READYZ, "GET", "/readyz", "readyz", NULL, 0, 200 },
    { EDGE_ROUTE_METRICS, "GET", "/metrics", "metrics", NULL, 0, 200 },
};

const struct edge_route *edge_route_get(enum edge_route_id id)
{
    return &route_table[id];
}

static void allow_add(struct edge_match *m, const char *method)
{
    size_t n = strlen(m->allow);

    snprintf(m->allow + n, sizeof(m->allow) - n, "%s%s", n ? ", " : "",
             method);
}

/* HEAD is GET without the body (MHD leaves the body out by itself). */
static int method_fits(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

void edge_route_match(const char *method, const char *url,
                      struct edge_match *m)
{
    size_t len = strcspn(url, "?");
    size_t i;

    m->route = NULL;
    m->status = 404;
    m->allow[0] = '\0';
    for (i = 0; i < EDGE_ROUTE_COUNT; i++) {
        const struct edge_route *r = &route_table[i];

        if (strlen(r->path) != len || memcmp(r->path, url, len) != 0)
            continue;
        if (method_fits(r->method, method)) {
            m->route = r;
            m->status = 0;
            m->allow[0] = '\0';
            return;
        }
        m->status = 405;
        allow_add(m, r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(m, "HEAD");
    }
}
