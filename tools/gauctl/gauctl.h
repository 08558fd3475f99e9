/*
 * gauctl.h - the admin tool's commands.
 *
 * Each command is a function taking the arguments after "gauctl" (argv[0]
 * is the command's own name) and returning the process exit code: 0 done,
 * 1 failed (the reason is logged), 2 bad usage (the usage line is printed
 * by main). main.c maps names to these functions with one table row each.
 */
#ifndef GAU_GAUCTL_H
#define GAU_GAUCTL_H

#define CTL_OK 0
#define CTL_FAILED 1
#define CTL_USAGE 2

/* gauctl migrate [service...]: applies sql/ to each service database. */
int ctl_migrate(int argc, char **argv);

/* gauctl replay <service>: rebuilds the service's Redis projections. */
int ctl_replay(int argc, char **argv);

/* gauctl publish <type> <json>: publishes one command to the bus. */
int ctl_publish(int argc, char **argv);

/* gauctl dead <service>: lists the service's dead-lettered messages. */
int ctl_dead(int argc, char **argv);

#endif
