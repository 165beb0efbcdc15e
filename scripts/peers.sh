#!/usr/bin/env bash
# Installs the independent tools the interoperability tests run against
# (see the README, "Peers"): Debian packages through apt-get, Routinator through
# cargo into .peers/ (built once, then reused). Prints nothing when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in rpki-client rsync ca-certificates; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

routinator_version=0.15.2
root=".peers/routinator-$routinator_version"
if [ ! -x "$root/bin/routinator" ]; then
  echo "building routinator $routinator_version into $root"
  cargo install --locked --quiet routinator --version "$routinator_version" --root "$root"
fi
