#!/usr/bin/env bash
# Fuzz every parser of untrusted input (CHECKLIST PIT-1) with cargo-fuzz.
#
#   scripts/fuzz.sh [--seconds N] [--dev] [--asan] [TARGET...]
#
# Each target runs N seconds (default 10) on a corpus kept in
# target/fuzz/corpus/TARGET, seeded from ../shared/corpus (RPKIT_CORPUS) in
# place. Without --asan the targets build on the stable toolchain with
# `--sanitizer none` (panics, overflows and aborts are found; memory errors are
# the business of the unsafe code in our dependencies); --asan uses nightly and
# AddressSanitizer. A crash leaves its input in fuzz/artifacts/TARGET/ and fails
# the run. The exec counts go to target/fuzz/summary.md. --dev builds without
# optimisation and with overflow checks (the test run's smoke: a third of the
# build time, fewer executions a second).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=10
sanitizer=(-s none)
toolchain=()
build_profile=(--release)
profile_dir=release
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --asan) sanitizer=(); toolchain=(+nightly); shift ;;
    --dev) build_profile=(--dev); profile_dir=debug; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

# cargo-fuzz, built once into .peers/ like the peer tools.
fuzz_version=0.13.2
bin="$root/.peers/cargo-fuzz/bin"
if [ ! -x "$bin/cargo-fuzz" ] || ! "$bin/cargo-fuzz" --version | grep -q "$fuzz_version"; then
  cargo install --locked --quiet cargo-fuzz --version "$fuzz_version" --root "$root/.peers/cargo-fuzz"
fi
export PATH="$bin:$PATH"

all=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^rpkit-fuzz$')
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$(echo $all)"

# Seeds: real objects and documents of the shared corpus, by kind.
corpus="${RPKIT_CORPUS:-../shared/corpus}"
seeds="$root/target/fuzz/seeds"
rm -rf "$seeds"
seed() { # TARGET find-arguments...
  local t=$1; shift
  mkdir -p "$seeds/$t"
  if [ -d "$corpus" ]; then
    find "$corpus" -type f -size -1048576c \( "$@" \) -exec cp -t "$seeds/$t/" --backup=numbered {} + 2>/dev/null || true
  fi
}
seed cert -name '*.cer' -o -name '*.der'
seed crl -name '*.crl'
seed roa -name '*.roa'
seed manifest -name '*.mft'
seed aspa -name '*.asa'
seed signed_object -name '*.roa' -o -name '*.mft' -o -name '*.asa' -o -name '*.gbr' -o -name '*.sig' -o -name '*.tak'
seed signed_message -path '*rfc6492*' -o -path '*up-down*' -o -name '*.der'
seed tal -name '*.tal'
for t in rrdp_notification rrdp_snapshot rrdp_delta rfc8181 rfc8183 up_down; do seed "$t" -name '*.xml'; done
seed slurm -name '*.json' -o -name '*.slurm'
seed delegated -path '*rir-stats*' -name 'delegated-*'
seed rtr_pdu -false
seed roa_file -false
# RTR: a Reset Query, a Serial Query and an IPv4 Prefix, each version.
for v in 0 1 2; do
  printf "\\x0$v\\x02\\x00\\x00\\x00\\x00\\x00\\x08" > "$seeds/rtr_pdu/reset-v$v"
  printf "\\x0$v\\x01\\x00\\x07\\x00\\x00\\x00\\x0c\\x00\\x00\\x00\\x2a" > "$seeds/rtr_pdu/serial-v$v"
  printf "\\x0$v\\x04\\x00\\x00\\x00\\x00\\x00\\x14\\x01\\x18\\x18\\x00\\xc0\\x00\\x02\\x00\\x00\\x00\\xfb\\xf0" > "$seeds/rtr_pdu/ipv4-v$v"
done
printf '192.0.2.0/24-24 AS64496\n+2001:db8::/32-48 AS64497 # c\n-10.0.0.0/8 AS0\n' > "$seeds/roa_file/lines"
# Up-down: a list, a revoke and an error response (RFC 6492 §3.3, §3.5, §3.6).
ud='<message xmlns="http://www.apnic.net/specs/rescerts/up-down/" version="1" sender="c" recipient="p" type='
printf '%s"list"/>' "$ud" > "$seeds/up_down/list"
printf '%s"revoke"><key class_name="0" ski="-_v7-_v7-_v7-_v7-_v7-_v7-_s"/></message>' "$ud" > "$seeds/up_down/revoke"
printf '%s"error_response"><status>1201</status><description xml:lang="en-US">x</description></message>' "$ud" > "$seeds/up_down/error"
printf '{"added":[{"prefix":"192.0.2.0/24","asn":64496,"max_length":24}],"removed":[]}' > "$seeds/roa_file/json"

summary="$root/target/fuzz/summary.md"
mkdir -p "$(dirname "$summary")"
{
  echo "| target | seconds | executions | exec/s | corpus |"
  echo "|---|---:|---:|---:|---:|"
} > "$summary"
cd fuzz
# Build once; the targets then run as plain binaries (a rebuild can never pass
# for a crash).
cargo "${toolchain[@]}" fuzz build "${build_profile[@]}" "${sanitizer[@]}" --target-dir "$root/target/fuzz-build"
bindir="$root/target/fuzz-build/$(rustc -vV | sed -n 's/^host: //p')/$profile_dir"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$root/target/fuzz/corpus/$t" "$root/fuzz/artifacts/$t"
  log="$root/target/fuzz/$t.log"
  if "$bindir/$t" -artifact_prefix="$root/fuzz/artifacts/$t/" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=1048576 -timeout=10 -print_final_stats=1 \
      "$root/target/fuzz/corpus/$t" "$seeds/$t" > "$log" 2>&1; then
    result=ok
  elif grep -q "Test unit written\|deadly signal\|panicked" "$log"; then
    result=CRASH
    status=1
  else
    result=ERROR
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  size=$(find "$root/target/fuzz/corpus/$t" -type f | wc -l)
  echo "| $t | $seconds | ${runs:-?} | ${rate:-?} | $size |" >> "$summary"
  printf 'fuzz %-18s %-5s %12s runs %8s/s\n' "$t" "$result" "${runs:-?}" "${rate:-?}"
  if [ "$result" != ok ]; then
    tail -40 "$log" >&2
  fi
done
cat "$summary"
exit "$status"
