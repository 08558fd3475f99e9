/*
 * authorization.h - the authorization service: sessions, access tokens
 * and refresh tokens.
 *
 * A session is opened for a user the edge authenticated (trusted only).
 * Its refresh tokens are stored as SHA-256 hashes and rotate on every use;
 * presenting a spent one again is reuse and revokes the session. Replies
 * carrying tokens are stored sealed. Sessions are projected to
 * gau:authorization:session:<session_id>; a revoked one expires after the
 * access token lifetime + 60 s, when no access token for it can be valid.
 */
#ifndef GAU_AUTHORIZATION_AUTHORIZATION_H
#define GAU_AUTHORIZATION_AUTHORIZATION_H

#include "actors/runtime/svc.h"

extern const struct svc_def authorization_svc;

struct proj_hash;

/* Projections (exported for tests). 0. */
int authz_project_opened(const void *event, struct proj_hash *out);
int authz_project_rotated(const void *event, struct proj_hash *out);
int authz_project_revoked(const void *event, struct proj_hash *out);

/* Parses 64 hex characters into a 32-byte key. 0 or GAU_EINVAL. */
int authz_parse_seal_key(const char *hex, unsigned char key[32]);

#endif
