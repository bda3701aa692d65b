#!/usr/bin/env bash
# Set up the PostgreSQL server the test suite uses, on a fresh Debian machine.
#
# Idempotent; run as root. Installs Debian's postgresql package if missing,
# starts a cluster listening on 127.0.0.1:5432, and creates the role `mc`
# (password `mc`) and the database `mc_test` owned by it, so that
#   postgresql+psycopg://mc:mc@127.0.0.1:5432/mc_test
# (the tests' default MC_TEST_POSTGRES_URL) connects.
set -euo pipefail

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
    pg_createcluster "$version" main >/dev/null
fi
# Listen on the loopback address only, on the standard port (a drop-in file
# in conf.d, which Debian's postgresql.conf includes).
conf_dir="/etc/postgresql/$version/main"
mkdir -p "$conf_dir/conf.d"
printf "listen_addresses = '127.0.0.1'\nport = 5432\n" >"$conf_dir/conf.d/missioncontrol.conf"
status="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}')"
if [ "$status" != "online" ]; then
    pg_ctlcluster "$version" main start
fi

# Wait until the server accepts connections.
for _ in $(seq 1 30); do
    if runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p 5432; then
        break
    fi
    sleep 1
done
runuser -u postgres -- pg_isready -h 127.0.0.1 -p 5432 >/dev/null

psql_admin() {
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -p 5432 -d postgres "$@"
}
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'mc'")" != "1" ]; then
    psql_admin -c "CREATE ROLE mc LOGIN PASSWORD 'mc'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'mc_test'")" != "1" ]; then
    psql_admin -c "CREATE DATABASE mc_test OWNER mc"
fi
echo "PostgreSQL ready: postgresql+psycopg://mc:mc@127.0.0.1:5432/mc_test"
