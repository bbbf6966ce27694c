#!/usr/bin/env bash
# Tools that test the CI templates (tests/integration/ci):
#   gitlab-ci-local 4.56.0 (npm; runs the GitLab template's jobs for real; needs rsync),
#   actionlint (go install, pinned), zizmor (PyPI, pinned), check-jsonschema (PyPI).
# Idempotent. Slow builds (gitlab-ci-local compiles re2, actionlint compiles with Go) are
# cached under $SOP_CACHE and reused when present; binaries are linked into /usr/local/bin.
set -euo pipefail
log() { printf 'setup/ci-tools: %s\n' "$*" >&2; }

SOP_CACHE="${SOP_CACHE:-/var/cache/sop-pipeline}"
GCL_VERSION="4.56.0"    # 4.75 needs a newer Node than Debian/this image has
ACTIONLINT_VERSION="v1.7.12"
ZIZMOR_VERSION="1.32.0"
CHECK_JSONSCHEMA_SPEC="check-jsonschema>=0.28"
BIN_DIR="${SOP_CI_TOOLS_BIN:-/usr/local/bin}"

mkdir -p "$SOP_CACHE" "$BIN_DIR"

# --- Debian packages: rsync (gitlab-ci-local copies files with it), node/npm if absent, go if absent
apt_missing=()
command -v rsync >/dev/null || apt_missing+=(rsync)
command -v npm >/dev/null || apt_missing+=(nodejs npm)
command -v go >/dev/null || apt_missing+=(golang-go)
command -v git >/dev/null || apt_missing+=(git)
if ((${#apt_missing[@]})); then
  log "apt-get install ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# --- gitlab-ci-local, into its own prefix in the cache
gcl_prefix="$SOP_CACHE/gitlab-ci-local-$GCL_VERSION"
gcl_bin="$gcl_prefix/node_modules/.bin/gitlab-ci-local"
if ! "$gcl_bin" --version >/dev/null 2>&1; then
  log "npm install gitlab-ci-local@$GCL_VERSION into $gcl_prefix (compiles re2: a few minutes)"
  rm -rf "$gcl_prefix"
  mkdir -p "$gcl_prefix"
  npm install --prefix "$gcl_prefix" --no-audit --no-fund --loglevel=error \
    "gitlab-ci-local@$GCL_VERSION" >/dev/null
fi
ln -sf "$gcl_bin" "$BIN_DIR/gitlab-ci-local"
log "gitlab-ci-local $("$BIN_DIR/gitlab-ci-local" --version)"

# --- actionlint, built with the Go module proxy at a pinned version
al_bin="$SOP_CACHE/go-bin/actionlint-$ACTIONLINT_VERSION"
if ! "$al_bin" -version >/dev/null 2>&1; then
  go_version="$(go env GOVERSION)"
  log "go install actionlint@$ACTIONLINT_VERSION with $go_version"
  tmp_gobin="$(mktemp -d)"
  GOBIN="$tmp_gobin" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  mkdir -p "$(dirname "$al_bin")"
  mv "$tmp_gobin/actionlint" "$al_bin"
  rmdir "$tmp_gobin"
fi
ln -sf "$al_bin" "$BIN_DIR/actionlint"
log "actionlint $("$BIN_DIR/actionlint" -version | head -n1)"

# --- zizmor and check-jsonschema from PyPI
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
  "zizmor==$ZIZMOR_VERSION" "$CHECK_JSONSCHEMA_SPEC"
log "$(zizmor --version), $(check-jsonschema --version)"
