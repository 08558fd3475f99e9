#!/usr/bin/env bash
# Installs the Debian packages of tools/stack/packages.txt (or of the list
# file given as the argument) that are missing.
#
# Does nothing (and needs no root) when every package is installed. The
# packages' own system services (rabbitmq-server, postgresql, redis-server)
# are stopped and disabled right after installing: the project starts its
# own servers under var/ and needs their ports free.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
list=${1:-"$here/packages.txt"}

missing=()
while read -r pkg; do
    case "$pkg" in ''|'#'*) continue ;; esac
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done <"$list"

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: missing packages and not root (no sudo either):" \
            "${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi

# policy-rc.d exit 101 keeps invoke-rc.d from starting the services while
# the packages are installed; it is removed again afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
fi
cleanup() {
    if [ "$own_policy" = 1 ]; then
        "${sudo[@]}" rm -f "$policy"
    fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}"

# Whatever was started anyway (no policy-rc.d honoured, or installed
# earlier) is stopped and kept from starting at boot.
for svc in rabbitmq-server postgresql redis-server nginx; do
    if command -v systemctl >/dev/null 2>&1 &&
        [ -d /run/systemd/system ]; then
        "${sudo[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
        "${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
    fi
done
# Leftovers of the system services, found by their pid files (ours keep
# theirs under var/ and are left alone).
for pidfile in /run/redis/redis-server.pid \
    /run/postgresql/15-main.pid /var/lib/rabbitmq/mnesia/*.pid \
    /run/nginx.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
    case "$pid" in ''|*[!0-9]*) continue ;; esac
    "${sudo[@]}" kill "$pid" 2>/dev/null || true
done
echo "deps: done"
