#!/usr/bin/env bash
# The base every test needs: Debian packages and the Python package with its test tools.
# Idempotent; safe on a fresh Debian 12 machine and on a developer's laptop (as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf 'setup/base: %s\n' "$*" >&2; }

APT_PACKAGES=(git openssh-client age)  # age: database credentials handed over (docs/deploy.md)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

log "pip install -e .[test]"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e "${ROOT}[test]"
