#!/usr/bin/python3
"""report.py RESULTS_DIR JSON_OUT CORES M T P LAG_RATE SECS REPS EVENTS
CONNS ACTORS

Turns the repetitions bench.sh recorded (RESULTS_DIR/<figure>.ours and
.ref, one value a line) into medians, prints the Markdown table of make
bench and writes the same rows to JSON_OUT as a list of objects with
name, ours, reference, unit, ratio, goal and met.
"""
import json
import os
import sys


def median(path):
    if not os.path.exists(path):
        return None
    vals = sorted(float(v) for v in open(path).read().split())
    return vals[(len(vals) - 1) // 2] if vals else None


def main():
    res, out, cores, m, t, p, lag_rate, secs, reps, events, conns, \
        actors = sys.argv[1:13]

    def get(fig, side):
        return median(os.path.join(res, "%s.%s" % (fig, side)))

    rows = []

    def row(name, fig, unit, goal, check, ratio_goal=None, ref=True):
        ours = get(fig, "ours")
        refv = get(fig, "ref") if ref else None
        ratio = ours / refv if ours is not None and refv else None
        if ratio_goal is not None:
            met = ratio is not None and ratio >= ratio_goal
        elif check is None:
            met = None  # a figure reported without a goal
        else:
            met = ours is not None and check(ours)
        rows.append({"name": name, "ours": ours, "reference": refv,
                     "unit": unit, "ratio": ratio, "goal": goal,
                     "met": met})

    row("read path (GET profile, 64 conns)", "read", "requests/s",
        "ratio >= 0.6 (nginx static file)", None, 0.6)
    row("read path p99", "read_p99", "ms", "<= 5 ms", lambda v: v <= 5)
    row("write path (PATCH profile, 64 conns)", "write", "requests/s",
        "ratio >= 0.5 (pgbench, same transaction)", None, 0.5)
    row("write path p99", "write_p99", "ms", "reported", None,
        ref=False)
    row("bus (commands straight to AMQP)", "bus", "commands/s",
        "ratio >= 0.5 (raw consume-ack loop)", None, 0.5)
    row("bus vs its database (pgbench, %s clients)" % actors, "bus_db",
        "commands/s", "reported (the pool's ceiling)", None)
    row("projection lag p50 (at %s/s)" % lag_rate, "lag_p50", "ms",
        "reported", None, ref=False)
    row("projection lag p99 (at %s/s)" % lag_rate, "lag_p99", "ms",
        "<= 50 ms", lambda v: v <= 50, ref=False)
    row("replay (%s events)" % "{:,}".format(int(events)), "replay",
        "events/s",
        ">= 100,000 events/s (ref: redis-benchmark -P 16)",
        lambda v: v >= 100000)
    row("edge memory (%s idle keep-alive conns)" % "{:,}".format(
        int(conns)), "edge_mem", "MiB", "<= 64 MiB", lambda v: v <= 64,
        ref=False)
    row("edge memory (before them)", "edge_mem_idle", "MiB",
        "reported", None, ref=False)
    row("worker memory (one idle actor)", "actor_mem", "MiB", "<= 16 MiB",
        lambda v: v <= 16, ref=False)
    row("worker memory (supervisor)", "sup_mem", "MiB", "<= 16 MiB",
        lambda v: v <= 16, ref=False)
    row("sign-in (argon2id m=%s KiB t=%s p=%s)" % (m, t, p), "signin",
        "logins/s per core (%s cores)" % cores, "reported",
        None, ref=False)

    def fmt(v, digits=1):
        if v is None:
            return "-"
        if abs(v) >= 1000:
            return "{:,.0f}".format(v)
        return ("%." + str(digits) + "f") % v

    print()
    print("Medians of %s repetitions; a timed repetition runs %s s."
          % (reps, secs))
    print()
    print("| figure | ours | reference | unit | ratio | goal | met |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["name"], fmt(r["ours"]), fmt(r["reference"]), r["unit"],
            fmt(r["ratio"], 2), r["goal"], "-" if r["met"] is None else "yes" if r["met"] else "no"))
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
