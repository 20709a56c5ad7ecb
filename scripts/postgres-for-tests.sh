#!/usr/bin/env bash
# Prints a PostgreSQL URL for the store tests, in a database of svar's own (svar_test).
# Uses the server this machine runs; when there is none, installs and starts one from
# Debian's packages. Prints nothing (and exits 1) when neither works.
set -uo pipefail
db=svar_test

try_tcp() {
    psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1 || return 1
    psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1 \
        || createdb -h 127.0.0.1 -U postgres "$db" >/dev/null 2>&1 || return 1
    echo "postgres://postgres@127.0.0.1/$db"
}

try_socket() {
    # a fresh Debian cluster: peer authentication on the socket, as a role named after us
    local me; me=$(id -un)
    su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='$me'\"" 2>/dev/null | grep -q 1 \
        || su postgres -c "createuser -s $me" >/dev/null 2>&1 || return 1
    psql -d postgres -tAc "select 1 from pg_database where datname='$db'" 2>/dev/null | grep -q 1 \
        || createdb "$db" >/dev/null 2>&1 || return 1
    echo "postgres://$me@localhost/$db?host=/var/run/postgresql"
}

try_tcp && exit 0
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null 2>&1 || exit 1
fi
for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
done
for _ in $(seq 1 30); do
    pg_isready -q 2>/dev/null && break
    sleep 1
done
try_tcp && exit 0
try_socket && exit 0
exit 1
