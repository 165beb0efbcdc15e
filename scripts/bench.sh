#!/usr/bin/env bash
# Every benchmark in one run, rpkit next to its peers (rpki-client, Routinator,
# StayRTR, Krill, nginx) measured in the same run, written to BENCHMARKS.md:
# the machine, the versions, medians, ratios and how to reproduce.
#
# Usage: scripts/bench.sh [--quick | --w2] [--runs N] [--profile P]
#   --quick      small sizes, one run; the report goes to target/bench/BENCHMARKS-quick.md
#   --w2         the global-scale parts only, at W2 (50,000 CAs, 350,000 ROAs, ~505,000
#                objects): publication serial, validators cold and warm, RTR, CA import;
#                written into BENCHMARKS.md's W2 sections (about an hour; not in CI)
#   --runs N     runs of the validator benchmark (default 3)
#   --long-runs N  runs of the CA and RTR benchmarks (default 1: they are bound by key
#                generation and by StayRTR's 100 routers, several minutes a run)
#   --profile P  cargo profile (default bench; CI's quick run uses dev, the tests' build,
#                to check that the harness works without a second full build)
# Each bench is built with the whole workspace's features (--workspace), as the
# tests are, so the quick run reuses the test build. Needs root, like the
# interoperability tests (ports 443 and 873, /etc/hosts, the system's TLS roots);
# installs the peers with scripts/peers.sh and perf for the validator's profile.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
w2=""
runs=3
long_runs=1
profile=bench
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="--quick"; runs=1; long_runs=1 ;;
    --w2) w2="--w2"; runs=1 ;;
    --runs) runs="$2"; shift ;;
    --long-runs) long_runs="$2"; shift ;;
    --profile) profile="$2"; shift ;;
    *) echo "usage: scripts/bench.sh [--quick | --w2] [--runs N] [--profile P]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$(id -u)" != 0 ]; then
  echo "scripts/bench.sh needs root (ports 443 and 873, /etc/hosts), as the interoperability tests do" >&2
  exit 1
fi

./scripts/apt-install.sh build-essential perl pkg-config libssl-dev openssl wrk nginx linux-perf
./scripts/peers.sh

suffix=""
report=BENCHMARKS.md
if [ -n "$quick" ]; then
  suffix="-quick"
  report=target/bench/BENCHMARKS-quick.md
fi
mkdir -p target/bench
started=$(date -u +%Y-%m-%dT%H:%MZ)
t0=$(date +%s)

step() { echo; echo "=== $1 (at $(( $(date +%s) - t0 )) s)"; }

# W2's sections live between these markers in BENCHMARKS.md; a full run keeps them.
w2_begin='<!-- W2: written by scripts/bench.sh --w2 -->'
w2_end='<!-- end of W2 -->'
# RPKIT_BENCH_W2_PARTS (default: all four) runs some parts again and keeps the
# others' last reports (target/bench/*-w2.md).
parts=${RPKIT_BENCH_W2_PARTS:-publication validator rtr ca}
part() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if [ -n "$w2" ]; then
  if part publication; then
    step "publication: serial cost up to W2's size"
    cargo bench -q --locked --profile "$profile" --workspace --bench publication -- --sizes 1000,10000,100000,500000
    cp target/bench/publication.md target/bench/publication-w2.md
  fi
  if part validator; then
    step "validators on W2"
    cargo bench -q --locked --profile "$profile" --workspace --bench validator_w1 -- --w2 --runs "$runs"
  fi
  if part rtr; then
    step "RTR servers with W2's VRPs"
    cargo bench -q --locked --profile "$profile" --workspace --bench rtr -- --w2 --runs "$long_runs"
  fi
  if part ca; then
    step "CA: W2's members imported"
    cargo bench -q --locked --profile "$profile" --workspace --bench ca -- --w2
  fi
  took=$(( $(date +%s) - t0 ))
  {
    echo "$w2_begin"
    echo "## W2: the size of the whole RPKI"
    echo
    echo "Written by \`scripts/bench.sh --w2\` on $started in $((took / 60 + 1)) minutes (parts run: $parts), rpkit $(git rev-parse --short HEAD),"
    echo "on the machine above; every figure next to its peer or limit from the same run."
    echo
    for part in publication-w2 validator-w2 rtr-w2 ca-w2; do
      if [ -f "target/bench/$part.md" ]; then
        sed 's/^## /### /' "target/bench/$part.md"
      else
        echo "### ${part%-w2}: not measured at W2 yet"
      fi
      echo
    done
    echo "$w2_end"
  } > target/bench/w2.md
  # Replace the W2 block of BENCHMARKS.md, or put it before "## Reproduce".
  python3 - "$w2_begin" "$w2_end" <<'PY'
import sys
begin, end = sys.argv[1], sys.argv[2]
doc = open("BENCHMARKS.md").read()
block = open("target/bench/w2.md").read()
if begin in doc:
    doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end) + 1 :]
else:
    at = doc.index("## Reproduce")
    doc = doc[:at] + block + "\n" + doc[at:]
open("BENCHMARKS.md", "w").write(doc)
PY
  echo "W2 sections written into BENCHMARKS.md ($((took / 60)) min)"
  exit 0
fi
step "objects (criterion)"
cargo bench -q --locked --profile "$profile" --workspace --bench objects -- ${quick:+--quick}
step "publication"
cargo bench -q --locked --profile "$profile" --workspace --bench publication -- $quick
step "RRDP serving against nginx"
RPKIT_BENCH_PROFILE=$profile ./scripts/bench-rrdp.sh "$([ -n "$quick" ] && echo 3 || echo 10)" "target/bench/rrdp$suffix.md"
step "CA against Krill"
cargo bench -q --locked --profile "$profile" --workspace --bench ca -- $quick --runs "$long_runs"
step "delegated children (RFC 6492)"
cargo bench -q --locked --profile "$profile" --workspace --bench updown -- $quick
step "validators on W1"
cargo bench -q --locked --profile "$profile" --workspace --bench validator_w1 -- $quick --runs "$runs"
step "RTR servers"
cargo bench -q --locked --profile "$profile" --workspace --bench rtr -- $quick --runs "$long_runs"
took=$(( $(date +%s) - t0 ))

version() { "$@" 2>&1 | head -1 || echo "not found"; }
# The W2 sections of the last `--w2` run stay in the full report.
w2_kept=$(awk -v b="$w2_begin" -v e="$w2_end" '$0 == b { on = 1 } on { print } $0 == e { on = 0 }' BENCHMARKS.md 2>/dev/null || true)
{
  echo "# rpkit benchmarks"
  echo
  echo "Written by \`scripts/bench.sh${quick:+ --quick}\` (not by hand) on $started, in $((took / 60)) minutes;"
  echo "every figure below was measured in that one run, each next to its baseline or peer."
  echo
  echo "## Machine and versions"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores |"
  echo "| memory | $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) |"
  echo "| system | $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r) |"
  echo "| rpkit | $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)'), $(rustc --version), cargo profile $profile |"
  echo "| rpki-client | $(version rpki-client -V) |"
  echo "| Routinator | $(version .peers/routinator-0.15.2/bin/routinator --version) |"
  echo "| StayRTR | $(dpkg-query -W -f '${Version}' stayrtr 2>/dev/null || echo '?') |"
  echo "| Krill | $(version .peers/krill-0.16.1/bin/krill --version) |"
  echo "| nginx | $(version nginx -v) |"
  echo
  for part in objects publication rrdp ca updown validator-w1 rtr; do
    cat "target/bench/$part$suffix.md"
    echo
  done
  if [ -z "$quick" ] && [ -n "$w2_kept" ]; then
    echo "$w2_kept"
    echo
  fi
  echo "## Reproduce"
  echo
  echo "On a Debian machine with the Rust toolchain, as root: \`scripts/bench.sh${quick:+ --quick}\` wrote this report"
  echo "in $((took / 60 + 1)) minutes here (\`scripts/bench.sh\`: the full sizes, 3 runs of the validators, one of the CA and RTR parts,"
  echo "\`--runs N\` and \`--long-runs N\` for more; \`--quick\`: small sizes, one run). Each part alone:"
  echo "\`cargo bench -p rpkit-objects --bench objects\`, \`cargo bench -p rpkit-publication --bench publication\`,"
  echo "\`scripts/bench-rrdp.sh\`, \`cargo bench -p rpkit --bench ca\`, \`cargo bench -p rpkit --bench updown\`, \`cargo bench -p rpkit --bench validator_w1\`,"
  echo "\`cargo bench -p rpkit --bench rtr\` (each takes \`--quick\`; those that repeat take \`--runs N\`)."
  echo "The W2 sections: \`scripts/bench.sh --w2\` (validator, RTR and CA benches with \`--w2\`, the publication bench with \`--sizes\`)."
} > "$report"
echo
echo "report: $report ($((took / 60)) min)"
