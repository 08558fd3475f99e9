/*
 * router.h - the routes of the HTTP edge, matched by method and exact path.
 *
 * Matching is on the path alone: a query string is ignored, a trailing
 * slash is part of the path (so "/healthz/" is not "/healthz" and answers
 * 404). A path that exists with another method answers 405 with an Allow
 * header listing the methods it has, in table order. HEAD matches wherever
 * GET does. The path is compared as the client sent it, %XX escapes
 * included, so an escaped path matches nothing.
 */
#ifndef GAU_EDGE_ROUTER_H
#define GAU_EDGE_ROUTER_H

#include <stddef.h>

enum edge_route_id {
    EDGE_ROUTE_REGISTER,
    EDGE_ROUTE_LOGIN,
    EDGE_ROUTE_PROFILE_GET,
    EDGE_ROUTE_PROFILE_PATCH,
    EDGE_ROUTE_LOGOUT,
    EDGE_ROUTE_REFRESH,
    EDGE_ROUTE_JWKS,
    EDGE_ROUTE_HEALTHZ,
    EDGE_ROUTE_READYZ,
    EDGE_ROUTE_METRICS,
    EDGE_ROUTE_COUNT
};

/* Route flags. */
#define EDGE_AUTH 0x1          /* needs a verified Bearer token */
#define EDGE_BODY 0x2          /* takes a JSON object body */
#define EDGE_BODY_OPTIONAL 0x4 /* an absent body means {} */

struct edge_route {
    enum edge_route_id id;
    const char *method;
    const char *path;
    const char *name;    /* for logs and metrics: "account.register" */
    const char *command; /* the command it sends, or NULL */
    int flags;
    int status;          /* the status of a successful answer */
};

#define EDGE_ALLOW_MAX 64

struct edge_match {
    const struct edge_route *route; /* NULL unless status is 0 */
    int status;                     /* 0 matched, 404 or 405 */
    char allow[EDGE_ALLOW_MAX];     /* "GET, PATCH" on 405, else "" */
};

/*
 * Matches method and url (a query string after '?' is ignored) against
 * the table and fills *m. Never fails: the outcome is m->status.
 */
void edge_route_match(const char *method, const char *url,
                      struct edge_match *m);

/* The route with id; never NULL for an id below EDGE_ROUTE_COUNT. */
const struct edge_route *edge_route_get(enum edge_route_id id);

#endif
