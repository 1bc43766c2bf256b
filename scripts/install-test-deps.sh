#!/usr/bin/env bash
# Install every Debian package the tests drive for real (listed per area in scripts/deps/*.apt).
# Needs root (CI runs as root); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(sed -e 's/#.*//' scripts/deps/*.apt | tr -s ' \n' ' ')
missing=$(for p in $pkgs; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi
echo "test dependencies present: $pkgs"
