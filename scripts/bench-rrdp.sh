#!/usr/bin/env bash
# RRDP serving benchmark: requests/s for notification.xml and a ~10 MB snapshot,
# rpkit's HTTPS server against nginx serving the same files with the same TLS
# certificate, both measured in this run with wrk (Debian packages).
# Usage: scripts/bench-rrdp.sh [seconds per run, default 10] [report, default target/bench/rrdp.md]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
report=${2:-target/bench/rrdp.md}
./scripts/apt-install.sh wrk nginx openssl curl
profile=${RPKIT_BENCH_PROFILE:-bench}      # the benchmarks' build
# Built as the benches are (the workspace's features), so the test build serves.
cargo bench --workspace --profile "$profile" -q --locked --no-run --bench ca
bin=target/$(case "$profile" in dev|test) echo debug ;; bench) echo release ;; *) echo "$profile" ;; esac)/rpkit
w=$(mktemp -d /tmp/rpkit-bench-rrdp.XXXXXX)
chmod 755 "$w"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$w"' EXIT

# TLS: a CA and a leaf for localhost.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/ca.key" -out "$w/ca.pem" -days 2 -subj "/CN=bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$w/leaf.key" -out "$w/leaf.csr" -subj "/CN=localhost" 2>/dev/null
printf "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" > "$w/ext"
openssl x509 -req -in "$w/leaf.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" -CAcreateserial -out "$w/leaf.pem" -days 2 -extfile "$w/ext" 2>/dev/null
cat "$w/leaf.pem" "$w/ca.pem" > "$w/chain.pem"

# A repository of ~5,000 objects of 2 KB: a snapshot of about 13 MB.
"$bin" publication serve --data "$w/pub" --listen 127.0.0.1:18180 --rrdp-listen 127.0.0.1:18443 \
  --tls-cert "$w/chain.pem" --tls-key "$w/leaf.key" --no-rsync --interval-ms 100 2>"$w/pub.log" &
for _ in $(seq 100); do grep -q "RFC 8181 on" "$w/pub.log" && break; sleep 0.1; done
token=$(cat "$w/pub/admin-token")
"$bin" publication bench-fill --server http://127.0.0.1:18180 --token "$token" --objects 5000 --size 2000 >/dev/null
sleep 1
snapshot=$(grep -o 'https://[^"]*snapshot.xml' "$w/pub/rrdp/notification.xml" | sed 's|https://rpki.test/rrdp/||')
# rpkit keeps a snapshot as segments and serves them as one file; nginx gets
# that file whole, as fetched, beside a copy of the notification.
mkdir -p "$w/static/$(dirname "$snapshot")"
curl -sf --cacert "$w/ca.pem" "https://127.0.0.1:18443/rrdp/$snapshot" -o "$w/static/$snapshot"
cp "$w/pub/rrdp/notification.xml" "$w/static/notification.xml"
want=$(grep -o 'snapshot uri="[^"]*" hash="[0-9a-f]*"' "$w/static/notification.xml" | sed 's/.*hash="//; s/"//')
[ "$(sha256sum < "$w/static/$snapshot" | cut -d' ' -f1)" = "$want" ] || { echo "the snapshot served does not have its listed hash" >&2; exit 1; }
size=$(stat -c %s "$w/static/$snapshot")

cat > "$w/nginx.conf" <<CONF
worker_processes 2;
pid $w/nginx.pid;
error_log $w/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server {
    listen 127.0.0.1:18444 ssl;
    ssl_certificate $w/chain.pem;
    ssl_certificate_key $w/leaf.key;
    location /rrdp/ { alias $w/static/; }
  }
}
CONF
nginx -c "$w/nginx.conf" -g 'daemon off;' &
sleep 1

run() { # name url: prints the figure to stderr, the number to stdout
  local rps
  rps=$(wrk -t2 -c32 -d"${secs}s" "$2" | awk '/Requests\/sec/ {print $2}')
  printf "%-34s %12s req/s\n" "$1" "$rps" >&2
  echo "$rps"
}
echo "snapshot: $((size / 1000000)) MB; wrk -t2 -c32 -d${secs}s; 2 cores shared by server and load generator"
n_r=$(run "rpkit  notification.xml" "https://127.0.0.1:18443/rrdp/notification.xml")
n_n=$(run "nginx  notification.xml" "https://127.0.0.1:18444/rrdp/notification.xml")
s_r=$(run "rpkit  snapshot" "https://127.0.0.1:18443/rrdp/$snapshot")
s_n=$(run "nginx  snapshot" "https://127.0.0.1:18444/rrdp/$snapshot")
awk -v a="$n_r" -v b="$n_n" -v c="$s_r" -v d="$s_n" 'BEGIN { printf "ratio rpkit/nginx: notification %.2f, snapshot %.2f\n", a / b, c / d }'
mkdir -p "$(dirname "$report")"
{
  echo "## RRDP over HTTPS: rpkit's server against nginx"
  echo
  echo "Requests per second with wrk (\`-t2 -c32 -d${secs}s\`), both serving the same files with the same TLS certificate"
  echo "in the same run; the 2 cores are shared by server and load generator. Snapshot: $((size / 1000000)) MB."
  echo
  echo "| file | rpkit (req/s) | nginx (req/s) | rpkit ÷ nginx |"
  echo "|---|---:|---:|---:|"
  awk -v a="$n_r" -v b="$n_n" 'BEGIN { printf "| notification.xml | %.0f | %.0f | %.2f× |\n", a, b, a / b }'
  awk -v a="$s_r" -v b="$s_n" 'BEGIN { printf "| snapshot | %.1f | %.1f | %.2f× |\n", a, b, a / b }'
} > "$report"
