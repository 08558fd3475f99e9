/*
 * gauctl - the admin tool: gauctl <command> [args].
 *
 * Exit codes: 0 done, 1 failed, 2 bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "tools/gauctl/gauctl.h"

struct ctl_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

/* One row per command; a new command is one more line here. */
static const struct ctl_command ctl_commands[] = {
    { "migrate", ctl_migrate,
      "migrate [service...]   apply sql/ to the service databases" },
    { "replay", ctl_replay,
      "replay <service>       rebuild the Redis projections" },
    { "publish", ctl_publish,
      "publish <type> <json> [--principal user:session] [--timeout ms]\n"
      "          [--id command-id]  publish a command, print the reply" },
    { "dead", ctl_dead,
      "dead <service> [--requeue]  list or requeue dead messages" },
};

#define CTL_NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static void usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: gauctl <command> [args]\n\ncommands:\n");
    for (i = 0; i < CTL_NCOMMANDS; i++)
        fprintf(out, "  gauctl %s\n", ctl_commands[i].usage);
    fprintf(out, "  gauctl help\n");
}

static const struct ctl_command *find(const char *name)
{
    size_t i;

    for (i = 0; i < CTL_NCOMMANDS; i++)
        if (strcmp(ctl_commands[i].name, name) == 0)
            return &ctl_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const struct ctl_command *cmd;
    int rc;

    gau_log_init("gauctl");
    if (argc < 2) {
        usage(stderr);
        return CTL_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return CTL_OK;
    }

    cmd = find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "gauctl: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return CTL_USAGE;
    }
    rc = cmd->run(argc - 1, argv + 1);
    if (rc == CTL_USAGE)
        fprintf(stderr, "usage: gauctl %s\n", cmd->usage);
    return rc;
}
