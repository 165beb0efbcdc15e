#!/usr/bin/env bash
# Runs every rpkit test. On a fresh Debian machine it first installs the Debian
# packages the build needs. The tests read ../shared/corpus and
# ../shared/spec in place (override with RPKIT_CORPUS=DIR).
#
#   ./scripts/test.sh            everything: with the peer tools, the fuzz smoke
#                                and (CI=true) the quick benchmarks
#   ./scripts/test.sh --quick    the quick tier, for iterating: no peer tools are
#                                installed, the tests that drive them are skipped
#                                (RPKIT_TEST_QUICK=1), no fuzzing, no benchmarks
# Further arguments go to `cargo test` (a test name filters).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
t0=$(date +%s)
# Seconds since the start, to the log: where a run's time goes.
phase() { echo "--- $1 at $(( $(date +%s) - t0 )) s"; }
# A one-off build keeps no incremental state (it takes disk and saves nothing).
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi
if [ "${1:-}" = --quick ]; then
  quick=true
  shift
  export RPKIT_TEST_QUICK=1
fi

# perl and make build the statically linked OpenSSL; libssl-dev serves the fuzz
# targets; SoftHSM2 is the HSM of the PKCS#11 tests and PostgreSQL the shared
# database of the two-node tests (each installed and started once per run).
./scripts/apt-install.sh build-essential perl pkg-config libssl-dev openssl softhsm2 postgresql

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install the Rust toolchain (https://rustup.rs) and run again" >&2
  exit 1
fi

# The peer tools of the interoperability tests (rpki-client, rsync, Routinator):
# installed before the build, so no cargo runs inside a test.
if [ "$quick" = false ] && { [ "$(id -u)" = 0 ] || [ "${CI:-}" = true ]; }; then
  ./scripts/peers.sh
fi
phase "packages and peer tools"

corpus="${RPKIT_CORPUS:-../shared/corpus}"
if [ ! -d "$corpus" ]; then
  echo "the shared test corpus is missing at $corpus (set RPKIT_CORPUS)" >&2
  exit 1
fi

# The RTR tests hold 500 idle routers and their server ends in one process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null || true

log=$(mktemp)
pg_dir=$(mktemp -d)
trap 'rm -f "$log"; ./scripts/postgres.sh stop "$pg_dir"' EXIT
# One PostgreSQL server for the run; each test makes a database of its own in it.
pg_port=$((20000 + RANDOM % 20000))
RPKIT_TEST_DATABASE_URL=$(./scripts/postgres.sh start "$pg_dir" "$pg_port")
export RPKIT_TEST_DATABASE_URL RPKIT_TEST_DATABASE_CA="$pg_dir/tls/ca.pem"
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
phase "tests"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"

# A smoke run of every fuzz target (a few seconds each; scripts/fuzz.sh for
# longer runs). A crash fails the run and leaves its input in fuzz/artifacts/.
if [ "$quick" = true ]; then
  echo "quick tier: the peer-tool tests, the fuzz smoke and the benchmarks were left out"
  exit "$status"
fi
if [ "$status" = 0 ]; then
  ./scripts/fuzz.sh --dev --seconds "${RPKIT_FUZZ_SECONDS:-3}" || status=$?
  phase "fuzz smoke"
fi

# The benchmark harness at its quick size, so that it keeps working (in CI, or
# with RPKIT_BENCH_QUICK=1), built as the tests were (its figures are not the
# record: BENCHMARKS.md comes from a full run); the report goes to
# target/bench/BENCHMARKS-quick.md.
if [ "$status" = 0 ] && { [ "${CI:-}" = true ] || [ "${RPKIT_BENCH_QUICK:-}" = 1 ]; }; then
  ./scripts/bench.sh --quick --profile dev || status=$?
  phase "quick benchmarks"
fi
exit "$status"
