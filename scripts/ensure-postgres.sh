#!/usr/bin/env bash
# Start a local PostgreSQL for the tests and benchmarks and make sure role and database exist.
# Prints the database URL on stdout. PostgreSQL refuses to run as root, so we go through the
# system service (or pg_ctlcluster) and talk to it as the `postgres` user.
set -euo pipefail
ROLE=${VD_PG_ROLE:-videodolmetschen}
PASSWORD=${VD_PG_PASSWORD:-videodolmetschen}
DB=${VD_PG_DB:-videodolmetschen_test}
PORT=${VD_PG_PORT:-5432}

log() { echo "ensure-postgres: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    log "PostgreSQL is missing; installing Debian's postgresql package"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  else
    log "PostgreSQL is not installed and we are not root: install the 'postgresql' package"
    exit 1
  fi
fi

as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else sudo -n -u postgres "$@"; fi
}

if ! as_postgres psql -p "$PORT" -Atqc "select 1" >/dev/null 2>&1; then
  log "starting PostgreSQL"
  if command -v service >/dev/null 2>&1 && service postgresql start >&2 2>&1; then :;
  else
    cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
    # shellcheck disable=SC2086
    pg_ctlcluster $cluster start >&2
  fi
  for _ in $(seq 1 60); do
    as_postgres psql -p "$PORT" -Atqc "select 1" >/dev/null 2>&1 && break
    sleep 0.5
  done
fi

as_postgres psql -p "$PORT" -v ON_ERROR_STOP=1 -Atq >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB;
  END IF;
END \$\$;
SQL
# Tests drop their databases WITH (FORCE); an autovacuum worker still in one is not a process of the
# test role, and PostgreSQL refuses to end it without pg_signal_backend.
as_postgres psql -p "$PORT" -Atqc "GRANT pg_signal_backend TO $ROLE" >&2
if ! as_postgres psql -p "$PORT" -Atqc "select 1 from pg_database where datname='$DB'" | grep -q 1; then
  as_postgres createdb -p "$PORT" -O "$ROLE" "$DB"
fi
# btree_gist backs the double-booking exclusion constraint; create it as superuser once.
as_postgres psql -p "$PORT" -d "$DB" -Atqc "CREATE EXTENSION IF NOT EXISTS btree_gist" >&2
as_postgres psql -p "$PORT" -d template1 -Atqc "CREATE EXTENSION IF NOT EXISTS btree_gist" >&2
echo "postgresql+asyncpg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
