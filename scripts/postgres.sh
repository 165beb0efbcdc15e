#!/usr/bin/env bash
# A PostgreSQL server of the tests' own: a new cluster in DIR (initdb), on
# 127.0.0.1:PORT, owned by the `postgres` user (initdb refuses root).
#
#   scripts/postgres.sh start DIR PORT [WATCH_PID]   prints the server's URL
#   scripts/postgres.sh stop DIR
#
# With WATCH_PID the server stops by itself when that process is gone. The
# server also speaks TLS with a certificate for 127.0.0.1 from a CA of its own
# (DIR/tls/ca.pem); the role `tlsonly` may connect over TLS only.
set -euo pipefail
cmd=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
start)
  port=$3
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --locale=C.UTF-8 --encoding=UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  t="$dir/tls"
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.pem" -days 2 -subj "/CN=rpkit test database CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
  printf "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n" > "$t/ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial -out "$t/server.pem" -days 2 \
    -extfile "$t/ext" 2>/dev/null
  chmod 600 "$t/server.key"
  [ "$(id -u)" = 0 ] && chown -R postgres "$t"
  { echo "hostnossl all tlsonly 127.0.0.1/32 reject"; echo "hostssl all tlsonly 127.0.0.1/32 trust"; cat "$dir/data/pg_hba.conf"; } \
    > "$dir/hba" && cp "$dir/hba" "$dir/data/pg_hba.conf"
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200 \
        -c ssl=on -c ssl_cert_file=$t/server.pem -c ssl_key_file=$t/server.key" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -qc "CREATE ROLE tlsonly LOGIN SUPERUSER" postgres >/dev/null
  if [ -n "${4:-}" ]; then
    # Stop with the process that asked (a test run that ends without cleaning up).
    nohup bash -c "while kill -0 $4 2>/dev/null; do sleep 1; done; \
      $(declare -f as_pg); as_pg '$bin/pg_ctl' -D '$dir/data' -m immediate stop; rm -rf '$dir'" >/dev/null 2>&1 &
  fi
  echo "postgresql://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start DIR PORT [WATCH_PID] | stop DIR" >&2
  exit 2
  ;;
esac
