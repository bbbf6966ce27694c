#!/usr/bin/env bash
# What the browser tests of the static site need (tests/integration/site):
#   Debian's chromium (apt; never a browser download) and playwright-core (npm, pinned) to
#   drive it over CDP, with Chromium's virtual WebAuthn authenticator as the security key.
# Idempotent. playwright-core is installed into a prefix under $SOP_CACHE and reused; it
# never downloads a browser (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1; playwright-core has no
# install hook anyway). The tests find it through $SOP_PLAYWRIGHT_CORE or that prefix.
set -euo pipefail
log() { printf 'setup/browser: %s\n' "$*" >&2; }

SOP_CACHE="${SOP_CACHE:-/var/cache/sop-pipeline}"
PLAYWRIGHT_CORE_VERSION="1.65.2"  # needs Node >= 20 (Debian 12 ships 18: the image has 20)

apt_missing=()
command -v chromium >/dev/null || apt_missing+=(chromium)
command -v npm >/dev/null || apt_missing+=(nodejs npm)
if ((${#apt_missing[@]})); then
  log "apt-get install ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

prefix="$SOP_CACHE/playwright-core-$PLAYWRIGHT_CORE_VERSION"
if ! node -e "require('$prefix/node_modules/playwright-core')" 2>/dev/null; then
  log "npm install playwright-core@$PLAYWRIGHT_CORE_VERSION into $prefix"
  rm -rf "$prefix"
  mkdir -p "$prefix"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$prefix" --no-audit --no-fund \
    --loglevel=error "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null
fi
log "$(chromium --version 2>/dev/null | head -n1), playwright-core $PLAYWRIGHT_CORE_VERSION in $prefix"
