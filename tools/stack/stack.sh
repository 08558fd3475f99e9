#!/usr/bin/env bash
# stack.sh up|down|env|status <run|test|bench> - the local servers of gau.
#
#   up      install missing packages, start RabbitMQ, PostgreSQL 15 and
#           Redis on loopback with their data under var/<stack>/, create
#           the users, databases and secrets, apply the migrations. A
#           second up with everything running changes nothing.
#   down    stop the servers (all, or only those named after the stack);
#           the data stays.
#   env     print the export lines every gau process needs.
#   status  show which server runs on which port.
#   prepare only create the folders of var/<stack>/ (the test runner
#           needs var/test/san before anything starts).
#
# Ports (contract "Local stack ports"): run = AMQP 5672, PostgreSQL 5432,
# Redis 6379, HTTP 8080; test = 35672, 35432, 36379, 38080; bench (make
# bench, same settings as run) = 27672, 27432, 27379, 28080, below the
# ephemeral port range so that no client socket can hold them. Override with
# GAU_STACK_AMQP_PORT, GAU_STACK_PG_PORT, GAU_STACK_REDIS_PORT,
# GAU_STACK_HTTP_PORT and GAU_STACK_DIST_PORT (Erlang distribution).
#
# For the run stack, a server whose URL the caller already set
# (GAU_AMQP_URL*, GAU_PG_URL*, GAU_REDIS_URL) is not started and its
# variables are passed through unchanged.
#
# The local stack is for a developer machine: PostgreSQL trusts the role
# gau on 127.0.0.1 without a password, and the test stack runs it with
# fsync off. RabbitMQ users have random passwords in var/<stack>/secrets/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tools/stack"
PGBIN=/usr/lib/postgresql/15/bin
RMQBIN=/usr/lib/rabbitmq/bin
AMQP_USERS="gau-edge gau-account gau-authorization gau-producer gau-admin"
SERVICES="account authorization"

die() {
    echo "stack: $*" >&2
    exit 1
}

say() {
    echo "stack[$STACK]: $*" >&2
}

usage() {
    echo "usage: stack.sh up|down|env|status <run|test|bench> [server...]" >&2
    exit 2
}

# --- configuration --------------------------------------------------------

setup_stack() {
    STACK=$1
    case "$STACK" in
    run) d_amqp=5672 d_pg=5432 d_redis=6379 d_http=8080 d_dist=25680 ;;
    test) d_amqp=35672 d_pg=35432 d_redis=36379 d_http=38080 d_dist=25690 ;;
    bench) d_amqp=27672 d_pg=27432 d_redis=27379 d_http=28080 d_dist=25700 ;;
    *) usage ;;
    esac
    AMQP_PORT=${GAU_STACK_AMQP_PORT:-$d_amqp}
    PG_PORT=${GAU_STACK_PG_PORT:-$d_pg}
    REDIS_PORT=${GAU_STACK_REDIS_PORT:-$d_redis}
    HTTP_PORT=${GAU_STACK_HTTP_PORT:-$d_http}
    # The node listens on DIST_PORT; rabbitmqctl takes its own port from
    # the nine above it. The defaults keep both stacks clear of each
    # other, of a system node (25672) and of the CLI's default 35672,
    # which is the test stack's AMQP port.
    DIST_PORT=${GAU_STACK_DIST_PORT:-$d_dist}
    CTL_PORT_MIN=$((DIST_PORT + 1))
    CTL_PORT_MAX=$((DIST_PORT + 9))
    NODE="gau-$STACK@localhost"
    IS_ROOT=0
    if [ "$(id -u)" -eq 0 ]; then
        IS_ROOT=1
    fi
    DIR="$ROOT/var/$STACK"
    paths
    external_detect
}

# Every path derives from DIR, which may be a link (see layout).
paths() {
    if [ -L "$DIR" ]; then
        DIR=$(readlink -f "$DIR")
    fi
    SECRETS="$DIR/secrets"
    LOGDIR="$DIR/log"
    PGDATA="$DIR/pg"
    PGSOCK="$DIR/pgsock"
    RMQ="$DIR/rabbitmq"
    REDISDIR="$DIR/redis"
}

# Which servers the caller provides. Only the run stack takes them from the
# environment: the test stack always starts its own, so a developer's
# settings never point the test suite at their data.
external_detect() {
    EXT_AMQP=0 EXT_PG=0 EXT_REDIS=0
    [ "$STACK" = run ] || return 0
    local v
    for v in GAU_AMQP_URL GAU_AMQP_URL_EDGE GAU_AMQP_URL_ACCOUNT \
        GAU_AMQP_URL_AUTHORIZATION GAU_AMQP_URL_PRODUCER; do
        [ -n "${!v:-}" ] && EXT_AMQP=1
    done
    for v in GAU_PG_URL GAU_PG_URL_ACCOUNT GAU_PG_URL_AUTHORIZATION; do
        [ -n "${!v:-}" ] && EXT_PG=1
    done
    [ -n "${GAU_REDIS_URL:-}" ] && EXT_REDIS=1
    return 0
}

# --- helpers --------------------------------------------------------------

# Runs a command as the given system user when we are root (PostgreSQL
# refuses to run as root; RabbitMQ files must belong to rabbitmq), else as
# ourselves.
as_user() {
    local user=$1
    shift
    if [ "$IS_ROOT" = 1 ]; then
        # From /, which every user may enter; all our paths are absolute.
        (cd / && runuser -u "$user" -- "$@")
    else
        "$@"
    fi
}

own() {
    local user=$1
    shift
    if [ "$IS_ROOT" = 1 ]; then
        chown -R "$user:" "$@"
    fi
}

# A process that has exited but is not reaped yet (a daemon's parent is
# init, which may take its time) still answers kill -0.
zombie() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
        "/proc/$1/status" 2>/dev/null || true)
    [ "$state" = Z ]
}

pid_alive() {
    local file=$1 pid
    [ -f "$file" ] || return 1
    pid=$(head -n 1 "$file" 2>/dev/null || true)
    case "$pid" in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null && ! zombie "$pid"
}

pid_of() {
    head -n 1 "$1" 2>/dev/null || true
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to $2 seconds for the pid in file $1 to exit, then kills it.
stop_pid() {
    local file=$1 secs=$2 pid i
    pid_alive "$file" || return 0
    pid=$(pid_of "$file")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        { kill -0 "$pid" 2>/dev/null && ! zombie "$pid"; } || return 0
        sleep 0.1
    done
    say "pid $pid did not stop in ${secs}s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

random_hex() {
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# Secret files belong to whoever runs the stack; 0600.
secret_make() {
    local file=$1
    shift
    [ -s "$file" ] && return 0
    (umask 077 && "$@" >"$file.tmp") && mv "$file.tmp" "$file"
    chmod 600 "$file"
}

layout() {
    local svc_user_ok=1
    mkdir -p "$ROOT/var"
    if [ "$IS_ROOT" = 1 ] &&
        ! runuser -u postgres -- test -x "$ROOT/var" 2>/dev/null; then
        svc_user_ok=0
    fi
    # The server users must reach their folders. When the checkout sits
    # under a private home (/root), the data lives in /var/lib/gau-stack
    # and var/<stack> links there.
    if [ "$svc_user_ok" = 0 ] && [ ! -e "$DIR" ]; then
        local real
        real="/var/lib/gau-stack/$(printf %s "$ROOT" | sha1sum |
            cut -c1-12)/$STACK"
        mkdir -p "$real"
        chmod 755 /var/lib/gau-stack "$(dirname "$real")" "$real"
        ln -s "$real" "$DIR"
    fi
    paths
    mkdir -p "$DIR" "$SECRETS" "$LOGDIR" "$DIR/pids" "$DIR/san"
    chmod 755 "$DIR" "$LOGDIR"
    chmod 700 "$SECRETS"
}

secrets() {
    local u
    secret_make "$SECRETS/jwt-es256.pem" openssl genpkey -algorithm EC \
        -pkeyopt ec_paramgen_curve:P-256
    # The edge verifies with the public half only: it can never sign.
    secret_make "$SECRETS/jwt-es256.pub.pem" openssl pkey \
        -in "$SECRETS/jwt-es256.pem" -pubout
    secret_make "$SECRETS/seal.key" random_hex 32
    for u in $AMQP_USERS; do
        secret_make "$SECRETS/amqp-$u" random_hex 16
    done
}

# --- PostgreSQL -----------------------------------------------------------

pg_running() {
    pid_alive "$PGDATA/postmaster.pid"
}

pg_init() {
    [ -f "$PGDATA/PG_VERSION" ] && return 0
    say "initdb $PGDATA"
    rm -rf "$PGDATA"
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    own postgres "$PGDATA"
    as_user postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres \
        -E UTF8 --locale=C.UTF-8 -A reject >"$LOGDIR/initdb.log" 2>&1 ||
        die "initdb failed, see $LOGDIR/initdb.log"
    # Superuser only over the private socket; the role gau over loopback
    # TCP without a password (a local stack; production uses passwords).
    as_user postgres sh -c "cat >'$PGDATA/pg_hba.conf'" <<EOF
local all postgres trust
host  all gau 127.0.0.1/32 trust
EOF
    echo "include_if_exists = 'gau.conf'" |
        as_user postgres sh -c "cat >>'$PGDATA/postgresql.conf'"
}

pg_conf() {
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = '$PGSOCK'"
        echo "max_connections = 200"
        echo "log_min_messages = warning"
        # A taken username or email is normal traffic; the DETAIL and
        # STATEMENT lines of its error would write the value to the log.
        echo "log_error_verbosity = terse"
        echo "log_min_error_statement = panic"
        if [ "$STACK" = test ]; then
            # Durability buys nothing for throw-away test data.
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } | as_user postgres sh -c "cat >'$PGDATA/gau.conf'"
}

pg_up() {
    pg_running && return 0
    if port_open "$PG_PORT"; then
        die "port $PG_PORT is taken by another program (PostgreSQL)"
    fi
    pg_init
    mkdir -p "$PGSOCK"
    chmod 700 "$PGSOCK"
    touch "$LOGDIR/postgresql.log"
    own postgres "$PGSOCK" "$LOGDIR/postgresql.log"
    pg_conf
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_user postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$LOGDIR/postgresql.log" \
        -w -t 60 start >/dev/null 9>&- ||
        die "PostgreSQL did not start, see $LOGDIR/postgresql.log"
    STARTED+=(postgresql)
}

pg_bootstrap() {
    local svc sql
    sql="SELECT 'CREATE ROLE gau LOGIN' WHERE NOT EXISTS
        (SELECT 1 FROM pg_roles WHERE rolname = 'gau')\\gexec"
    for svc in $SERVICES; do
        sql="$sql
SELECT 'CREATE DATABASE gau_$svc OWNER gau' WHERE NOT EXISTS
    (SELECT 1 FROM pg_database WHERE datname = 'gau_$svc')\\gexec"
    done
    echo "$sql" | as_user postgres "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$PGSOCK" -p "$PG_PORT" -U postgres -d postgres >/dev/null ||
        die "cannot create the role gau and its databases"
}

pg_down() {
    pg_running || return 0
    say "stopping PostgreSQL"
    as_user postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop \
        >/dev/null || stop_pid "$PGDATA/postmaster.pid" 10
}

# --- Redis ----------------------------------------------------------------

redis_running() {
    pid_alive "$REDISDIR/redis.pid"
}

redis_up() {
    redis_running && return 0
    if port_open "$REDIS_PORT"; then
        die "port $REDIS_PORT is taken by another program (Redis)"
    fi
    mkdir -p "$REDISDIR"
    touch "$LOGDIR/redis.log"
    {
        echo "bind 127.0.0.1"
        echo "protected-mode yes"
        echo "port $REDIS_PORT"
        echo "dir $REDISDIR"
        echo "logfile $LOGDIR/redis.log"
        echo "pidfile $REDISDIR/redis.pid"
        echo "daemonize yes"
        echo "loglevel warning"
        if [ "$STACK" != test ]; then
            echo "appendonly yes"
        else
            echo "appendonly no"
            echo 'save ""'
        fi
    } >"$DIR/redis.conf"
    own redis "$REDISDIR" "$LOGDIR/redis.log"
    say "starting Redis on 127.0.0.1:$REDIS_PORT"
    as_user redis redis-server "$DIR/redis.conf" 9>&- ||
        die "Redis did not start, see $LOGDIR/redis.log"
    local i
    for ((i = 0; i < 100; i++)); do
        if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null |
            grep -q PONG; then
            STARTED+=(redis)
            return 0
        fi
        sleep 0.1
    done
    die "Redis does not answer on port $REDIS_PORT, see $LOGDIR/redis.log"
}

redis_down() {
    redis_running || return 0
    say "stopping Redis"
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    stop_pid "$REDISDIR/redis.pid" 10
}

# --- RabbitMQ -------------------------------------------------------------

rmq_env() {
    RMQ_ENV=(
        HOME="$RMQ"
        RABBITMQ_NODENAME="$NODE"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$AMQP_PORT"
        RABBITMQ_DIST_PORT="$DIST_PORT"
        RABBITMQ_CTL_DIST_PORT_MIN="$CTL_PORT_MIN"
        RABBITMQ_CTL_DIST_PORT_MAX="$CTL_PORT_MAX"
        RABBITMQ_MNESIA_BASE="$RMQ/mnesia"
        RABBITMQ_LOG_BASE="$LOGDIR/rabbitmq"
        RABBITMQ_CONFIG_FILE="$RMQ/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ/advanced.config"
        RABBITMQ_CONF_ENV_FILE="$RMQ/rabbitmq-env.conf"
        RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ/enabled_plugins"
        RABBITMQ_PID_FILE="$RMQ/rabbitmq.pid"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        ERL_EPMD_ADDRESS=127.0.0.1
    )
}

rmqctl() {
    rmq_env
    as_user rabbitmq env "${RMQ_ENV[@]}" "$RMQBIN/rabbitmqctl" -n "$NODE" "$@"
}

rmq_running() {
    pid_alive "$RMQ/rabbitmq.pid"
}

# The users, their permissions and the vhost are loaded from a definitions
# file at every boot; with definitions configured RabbitMQ creates no guest
# user. Passwords are stored salted and hashed as RabbitMQ does itself.
rmq_definitions() {
    SECRETS="$SECRETS" /usr/bin/python3 - >"$RMQ/definitions.json" <<'EOF'
import base64, hashlib, json, os

secrets = os.environ["SECRETS"]


def hashed(user):
    with open(os.path.join(secrets, "amqp-" + user)) as f:
        password = f.read().strip().encode()
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password)
                            .digest()).decode()


def svc(name):
    return (r"^(gau\.(commands|events|dead)|%s\..*)$" % name,
            r"^(amq\.default|gau\.(events|dead|commands)|%s\..*)$" % name,
            r"^(gau\.(commands|events|dead)|%s\..*)$" % name)


perms = {
    "gau-edge": (r"^(amq\.gen-.*|gau\.(commands|events|dead))$",
                 r"^(gau\.commands|amq\.gen-.*)$",
                 r"^amq\.gen-.*$"),
    "gau-account": svc("account"),
    "gau-authorization": svc("authorization"),
    "gau-producer": (r"^amq\.gen-.*$",
                     r"^(gau\.commands|amq\.gen-.*)$",
                     r"^amq\.gen-.*$"),
    "gau-admin": (".*", ".*", ".*"),
}
defs = {
    "vhosts": [{"name": "/"}],
    "users": [{"name": u, "password_hash": hashed(u),
               "hashing_algorithm": "rabbit_password_hashing_sha256",
               "tags": ["administrator"] if u == "gau-admin" else []}
              for u in perms],
    "permissions": [{"user": u, "vhost": "/", "configure": p[0],
                     "write": p[1], "read": p[2]}
                    for u, p in perms.items()],
    # Dead letters are kept a week and at most 100,000 per service: an
    # operator looks at them (gauctl dead), they are no archive.
    "policies": [{"vhost": "/", "name": "gau-dead",
                  "pattern": r"^[a-z][a-z0-9_]*\.dead$",
                  "apply-to": "queues", "priority": 0,
                  "definition": {"message-ttl": 7 * 24 * 3600 * 1000,
                                 "max-length": 100000,
                                 "overflow": "drop-head"}}],
}
print(json.dumps(defs, indent=1))
EOF
}

rmq_config() {
    mkdir -p "$RMQ/mnesia" "$LOGDIR/rabbitmq"
    if [ ! -s "$RMQ/.erlang.cookie" ]; then
        (umask 077 && random_hex 20 \
            >"$RMQ/.erlang.cookie")
    fi
    chmod 400 "$RMQ/.erlang.cookie"
    echo "[]." >"$RMQ/enabled_plugins"
    cat >"$RMQ/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
max_message_size = 4194304
log.file.level = warning
log.console = false
disk_free_limit.absolute = 50MB
definitions.import_backend = local_filesystem
definitions.local.path = $RMQ/definitions.json
EOF
    rmq_definitions
    chmod 600 "$RMQ/definitions.json"
    own rabbitmq "$RMQ" "$LOGDIR/rabbitmq"
}

# Starts the node in the background; rmq_wait waits for it.
rmq_start() {
    RMQ_STARTING=0
    [ "$EXT_AMQP" = 1 ] && return 0
    rmq_running && return 0
    if port_open "$AMQP_PORT"; then
        die "port $AMQP_PORT is taken by another program (RabbitMQ)"
    fi
    rmq_config
    say "starting RabbitMQ $NODE on 127.0.0.1:$AMQP_PORT"
    touch "$LOGDIR/rabbitmq.out"
    own rabbitmq "$LOGDIR/rabbitmq.out"
    rm -f "$RMQ/rabbitmq.pid"
    rmq_env
    # A session of its own: a Ctrl-C meant for the caller does not reach
    # the node (runuser would pass it on), only stack.sh down stops it.
    if [ "$IS_ROOT" = 1 ]; then
        set -- setsid runuser -u rabbitmq --
    else
        set -- setsid
    fi
    cd /
    "$@" env "${RMQ_ENV[@]}" "$RMQBIN/rabbitmq-server" \
        </dev/null >>"$LOGDIR/rabbitmq.out" 2>&1 9>&- &
    RMQ_STARTING=1
    cd "$ROOT"
}

rmq_wait() {
    [ "$RMQ_STARTING" = 1 ] || return 0
    if ! rmqctl wait "$RMQ/rabbitmq.pid" --timeout 120 >/dev/null 2>&1; then
        die "RabbitMQ did not start, see $LOGDIR/rabbitmq.out and" \
            "$LOGDIR/rabbitmq/"
    fi
    STARTED+=(rabbitmq)
}

rmq_down() {
    rmq_running || return 0
    say "stopping RabbitMQ $NODE"
    rmqctl stop "$RMQ/rabbitmq.pid" >/dev/null 2>&1 ||
        stop_pid "$RMQ/rabbitmq.pid" 20
    # epmd is started by the first Erlang node and outlives it; stop it
    # when no node is left registered.
    if command -v epmd >/dev/null 2>&1 &&
        ! epmd -names 2>/dev/null | grep -q '^name '; then
        epmd -kill >/dev/null 2>&1 || true
    fi
}

# --- migrations -----------------------------------------------------------

migrate() {
    local ctl="${BUILD:-build/release}/bin/gauctl"
    case "$ctl" in /*) ;; *) ctl="$ROOT/$ctl" ;; esac
    [ -x "$ctl" ] || die "$ctl is not built (run make first)"
    (
        eval "$(cmd_env)"
        cd "$ROOT"
        "$ctl" migrate
    ) >"$LOGDIR/migrate.log" 2>&1 || {
        cat "$LOGDIR/migrate.log" >&2
        die "migrations failed"
    }
    grep -v '^ts=' "$LOGDIR/migrate.log" | sed "s/^/stack[$STACK]: /" >&2 ||
        true
}

# --- commands -------------------------------------------------------------

cmd_up() {
    local t0=$SECONDS
    "$HERE/deps.sh"
    layout
    # Two ups of one stack at once wait for each other. The servers must
    # not inherit fd 9, or they would hold the lock for as long as they run.
    exec 9>"$DIR/.lock"
    flock 9
    secrets
    STARTED=()
    rmq_start
    [ "$EXT_PG" = 1 ] || { pg_up && pg_bootstrap; }
    [ "$EXT_REDIS" = 1 ] || redis_up
    rmq_wait
    migrate
    : >"$DIR/started"
    if [ ${#STARTED[@]} -gt 0 ]; then
        printf '%s\n' "${STARTED[@]}" >"$DIR/started"
    fi
    if [ ${#STARTED[@]} -eq 0 ]; then
        say "already up"
    else
        say "up in $((SECONDS - t0))s (started ${STARTED[*]})"
    fi
}

cmd_down() {
    local only=("$@") s
    [ -d "$DIR" ] || return 0
    if [ "$STACK" = test ] && [ -z "${GAU_TEST_LOCK_HELD:-}" ] &&
        [ -f "$DIR/test.lock" ] && ! flock -n "$DIR/test.lock" true; then
        die "a test run (tools/test.sh) is using var/test; not stopping it"
    fi
    if [ ${#only[@]} -eq 0 ]; then
        only=(rabbitmq postgresql redis)
    fi
    for s in "${only[@]}"; do
        case "$s" in
        rabbitmq) rmq_down ;;
        postgresql) pg_down ;;
        redis) redis_down ;;
        *) die "unknown server '$s'" ;;
        esac
    done
}

url_user() {
    local u=$1 pw
    pw=$(cat "$SECRETS/amqp-$u" 2>/dev/null) ||
        die "no $SECRETS/amqp-$u: run 'stack.sh up $STACK' first"
    echo "amqp://$u:$pw@127.0.0.1:$AMQP_PORT/"
}

out() {
    printf 'export %s=%q\n' "$1" "$2"
}

# Prints a variable set by the caller as it is.
pass() {
    local v
    for v in "$@"; do
        [ -n "${!v:-}" ] && out "$v" "${!v}"
    done
    return 0
}

cmd_env() {
    local svc up
    if [ "$EXT_AMQP" = 1 ]; then
        pass GAU_AMQP_URL GAU_AMQP_URL_EDGE GAU_AMQP_URL_ACCOUNT \
            GAU_AMQP_URL_AUTHORIZATION GAU_AMQP_URL_PRODUCER
    else
        out GAU_AMQP_URL_EDGE "$(url_user gau-edge)"
        for svc in $SERVICES; do
            up=$(echo "$svc" | tr a-z A-Z)
            out "GAU_AMQP_URL_$up" "$(url_user "gau-$svc")"
        done
        out GAU_AMQP_URL_PRODUCER "$(url_user gau-producer)"
        out GAU_AMQP_URL "$(url_user gau-admin)"
    fi
    if [ "$EXT_PG" = 1 ]; then
        pass GAU_PG_URL GAU_PG_URL_ACCOUNT GAU_PG_URL_AUTHORIZATION
    else
        for svc in $SERVICES; do
            up=$(echo "$svc" | tr a-z A-Z)
            out "GAU_PG_URL_$up" \
                "postgresql://gau@127.0.0.1:$PG_PORT/gau_$svc"
        done
    fi
    if [ "$EXT_REDIS" = 1 ]; then
        pass GAU_REDIS_URL
    else
        out GAU_REDIS_URL "redis://127.0.0.1:$REDIS_PORT/0"
    fi
    out GAU_HTTP_PORT "$HTTP_PORT"
    out GAU_JWT_PRIVATE_KEY_FILE "$SECRETS/jwt-es256.pem"
    out GAU_JWT_PUBLIC_KEY_FILES "$SECRETS/jwt-es256.pub.pem"
    out GAU_SEAL_KEY_FILE "$SECRETS/seal.key"
    out GAU_TRUSTED_PUBLISHERS gau-edge
    out GAU_STACK_DIR "$DIR"
}

show() {
    local name=$1 ext=$2 port=$3 running=$4
    if [ "$ext" = 1 ]; then
        printf '%-10s external (from the environment)\n' "$name"
    elif [ "$running" = 1 ]; then
        printf '%-10s running on 127.0.0.1:%s\n' "$name" "$port"
    else
        printf '%-10s stopped\n' "$name"
        STATUS_RC=1
    fi
}

cmd_status() {
    local r
    STATUS_RC=0
    r=0 && rmq_running && r=1
    show rabbitmq "$EXT_AMQP" "$AMQP_PORT" "$r"
    r=0 && pg_running && r=1
    show postgresql "$EXT_PG" "$PG_PORT" "$r"
    r=0 && redis_running && r=1
    show redis "$EXT_REDIS" "$REDIS_PORT" "$r"
    return "$STATUS_RC"
}

[ $# -ge 2 ] || usage
cmd=$1
setup_stack "$2"
shift 2
case "$cmd" in
up) cmd_up ;;
prepare) layout ;;
down) cmd_down "$@" ;;
env) cmd_env ;;
status) cmd_status ;;
*) usage ;;
esac
