#!/usr/bin/env bash
# Terraform CLI and the offline provider mirror for the bpg/proxmox provider.
#
# Idempotent. What it leaves under ${SOP_CACHE:-/var/cache/sop-pipeline}/terraform:
#   bin/                      tofu, only when no working `terraform` is on PATH
#   mirror/registry.terraform.io/bpg/proxmox/<ver>/linux_amd64/terraform-provider-proxmox_v<ver>
#                             the provider built from source with the Go toolchain (unpacked
#                             filesystem-mirror layout)
#   plugin-cache/             Terraform's plugin_cache_dir (init links providers from here)
#   cli.tfrc                  CLI config: the mirror and nothing else, no network installation
# and it installs Debian's postgresql when no PostgreSQL server binaries are present.
#
# Use it with:  export TF_CLI_CONFIG_FILE=${SOP_CACHE:-/var/cache/sop-pipeline}/terraform/cli.tfrc
#
# The provider is built, not downloaded: the data centre is air-gapped, and the Go module proxy
# is the one source of the provider's code this machine reaches. `go install pkg@version` cannot
# be used for it: the proxy refuses the module's version list (403), which `go install` reads to
# check for deprecation, so the script downloads the exact module version (checked against the Go
# checksum database by `go mod download`) and runs `go build` inside it. CGO is off and paths are
# trimmed so the build is reproducible: the same Go version gives the same bytes, and so the same
# h1: hash, which the committed lock file records next to the registry's hashes (docs/terraform.md).
set -euo pipefail

PROVIDER_VERSION="${SOP_PROVIDER_VERSION:-0.111.1}"
PROVIDER_MODULE="github.com/bpg/terraform-provider-proxmox"
OPENTOFU_VERSION="v1.6.3"   # last MPL-2.0 release whose go.mod has no replace directive
CACHE="${SOP_CACHE:-/var/cache/sop-pipeline}"
TFDIR="${CACHE}/terraform"
MIRROR="${TFDIR}/mirror"
PLUGIN_CACHE="${TFDIR}/plugin-cache"
CLI_CONFIG="${TFDIR}/cli.tfrc"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK="${ROOT}/terraform/stacks/request"
PKG_DIR="${MIRROR}/registry.terraform.io/bpg/proxmox/${PROVIDER_VERSION}/linux_amd64"
PROVIDER_BIN="${PKG_DIR}/terraform-provider-proxmox_v${PROVIDER_VERSION}"

log() { printf 'setup/terraform: %s\n' "$*" >&2; }

mkdir -p "${TFDIR}/bin" "${PKG_DIR}" "${PLUGIN_CACHE}"
# Until our CLI config exists, keep a stray TF_CLI_CONFIG_FILE from adding warnings.
export TF_CLI_CONFIG_FILE=/dev/null

# 1. A Terraform CLI: the one on PATH when it works, else OpenTofu built from the module proxy.
if command -v terraform >/dev/null 2>&1 && terraform version >/dev/null 2>&1; then
  TF_BIN="$(command -v terraform)"
elif [[ -x "${TFDIR}/bin/tofu" ]]; then
  TF_BIN="${TFDIR}/bin/tofu"
else
  command -v go >/dev/null 2>&1 || { log "neither terraform nor go is installed; install Go (golang) first"; exit 1; }
  log "no terraform on PATH: building OpenTofu ${OPENTOFU_VERSION} with go install (several minutes)"
  GOBIN="${TFDIR}/bin" CGO_ENABLED=0 GOFLAGS="-trimpath" \
    go install "github.com/opentofu/opentofu/cmd/tofu@${OPENTOFU_VERSION}"
  TF_BIN="${TFDIR}/bin/tofu"
fi
log "CLI: $("${TF_BIN}" version | head -n 1) (${TF_BIN})"

# 2. The provider, built from the exact module version.
if [[ ! -x "${PROVIDER_BIN}" ]]; then
  command -v go >/dev/null 2>&1 || { log "go is needed to build the provider; install Go first"; exit 1; }
  log "building ${PROVIDER_MODULE} v${PROVIDER_VERSION} with $(go version) (several minutes on 2 cores)"
  src="$(go mod download -json "${PROVIDER_MODULE}@v${PROVIDER_VERSION}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  tmp="${PROVIDER_BIN}.tmp.$$"
  (cd "${src}" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=readonly" \
    go build -ldflags "-s -w -X main.version=${PROVIDER_VERSION}" -o "${tmp}" .)
  chmod 0755 "${tmp}"
  mv -f "${tmp}" "${PROVIDER_BIN}"
fi
log "provider: ${PROVIDER_BIN}"

# 3. The CLI config: the filesystem mirror only, so init never reaches for a network registry.
cat > "${CLI_CONFIG}.tmp" <<EOF
# Written by .ci/setup/terraform.sh. Offline: providers come only from the local mirror.
disable_checkpoint = true
plugin_cache_dir   = "${PLUGIN_CACHE}"

provider_installation {
  filesystem_mirror {
    path    = "${MIRROR}"
    include = ["registry.terraform.io/*/*"]
  }
}
EOF
mv -f "${CLI_CONFIG}.tmp" "${CLI_CONFIG}"
log "CLI config: ${CLI_CONFIG}"

# 4. The committed lock must already list this build's hash; the lab never rewrites it.
#    `providers lock -fs-mirror` on a scratch copy computes the hash of what the mirror holds;
#    if that adds a line, the build differs from the one recorded (another Go version?).
if [[ -f "${STACK}/.terraform.lock.hcl" ]]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "${scratch}"' EXIT
  cp "${STACK}/versions.tf" "${STACK}/.terraform.lock.hcl" "${scratch}/"
  (cd "${scratch}" && TF_CLI_CONFIG_FILE="${CLI_CONFIG}" "${TF_BIN}" providers lock \
      -fs-mirror="${MIRROR}" -platform=linux_amd64 >/dev/null)
  if ! cmp -s "${scratch}/.terraform.lock.hcl" "${STACK}/.terraform.lock.hcl"; then
    if [[ "${SOP_TF_RECORD_BUILD_HASH:-0}" == "1" ]]; then
      cp "${scratch}/.terraform.lock.hcl" "${STACK}/.terraform.lock.hcl"
      log "recorded this build's h1: hash in terraform/stacks/request/.terraform.lock.hcl: review and commit it"
    else
      log "the provider built here does not match the hash in terraform/stacks/request/.terraform.lock.hcl"
      diff -u "${STACK}/.terraform.lock.hcl" "${scratch}/.terraform.lock.hcl" >&2 || true
      log "a different Go toolchain gives different bytes; see docs/terraform.md, then rerun with"
      log "SOP_TF_RECORD_BUILD_HASH=1 to add the new hash (a reviewed change to the lock)"
      exit 1
    fi
  else
    log "lock: this build's hash is already recorded"
  fi
fi
# 5. PostgreSQL server binaries, for the pg backend and allocator tests (a throwaway cluster is
#    started by the tests themselves, as the postgres user, on 127.0.0.1).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing PostgreSQL (Debian package) for the pg backend tests"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
log "ok"
