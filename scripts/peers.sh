#!/usr/bin/env bash
# Installs the independent tools the interoperability tests run against
# (see the README, "Peers"): Debian packages through apt-get, Routinator and Krill through
# cargo into .peers/ (built once, then reused). Prints nothing when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/apt-install.sh rpki-client rsync ca-certificates stayrtr rtr-tools

routinator_version=0.15.2
root=".peers/routinator-$routinator_version"
if [ ! -x "$root/bin/routinator" ]; then
  echo "building routinator $routinator_version into $root"
  cargo install --locked --quiet routinator --version "$routinator_version" --root "$root"
fi

krill_version=0.16.1
root=".peers/krill-$krill_version"
if [ ! -x "$root/bin/krill" ]; then
  echo "building krill $krill_version into $root"
  cargo install --locked --quiet krill --version "$krill_version" --root "$root"
fi
