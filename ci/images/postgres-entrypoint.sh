#!/bin/sh
# Entrypoint of the locally made PostgreSQL test image (ci/image.sh): the subset of the official
# image's behaviour the tests use. First start: initdb with POSTGRES_USER / POSTGRES_PASSWORD,
# create POSTGRES_DB. Then run the server on all interfaces in the foreground. The socket lives in
# /tmp because the image's /run is not writable for the postgres user.
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
bin=$(echo /usr/lib/postgresql/*/bin)
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  printf '%s' "$POSTGRES_PASSWORD" > /tmp/pwfile
  "$bin/initdb" --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile=/tmp/pwfile \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  "$bin/pg_ctl" --pgdata="$PGDATA" --options="-c listen_addresses='' -c unix_socket_directories=/tmp" --wait start >/dev/null
  if [ "$POSTGRES_DB" != "postgres" ]; then
    "$bin/psql" --host=/tmp --username="$POSTGRES_USER" --dbname=postgres --quiet \
      --command="CREATE DATABASE \"$POSTGRES_DB\""
  fi
  "$bin/pg_ctl" --pgdata="$PGDATA" --mode=fast --wait stop >/dev/null
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
