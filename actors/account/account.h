/*
 * account.h - the account service: register, login, profile update.
 *
 * Users live in gau_account.users; every change appends the full state of
 * the user as an event (account.user_registered, account.profile_updated),
 * projected to the Redis hash gau:account:user:<user_id>. Password hashes,
 * emails and names are never logged or returned beyond the profile.
 */
#ifndef GAU_ACCOUNT_ACCOUNT_H
#define GAU_ACCOUNT_ACCOUNT_H

#include "actors/runtime/svc.h"

extern const struct svc_def account_svc;

struct proj_hash;

/*
 * The projection of account.user_registered / account.profile_updated
 * (exported for tests). 0.
 */
int account_project_registered(const void *event, struct proj_hash *out);
int account_project_updated(const void *event, struct proj_hash *out);

/* The client's message for a unique violation of constraint name. */
const char *account_conflict_message(const char *constraint,
                                     const char **field);

#endif
