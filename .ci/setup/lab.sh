#!/usr/bin/env bash
# Lab prerequisites (idempotent): Debian packages for lab VMs, the mirror, BIND and the DNS
# tests, then the lab VM image, built once per recipe and cached under $SOP_CACHE.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

packages=(
  mmdebstrap debian-archive-keyring e2fsprogs          # image build
  qemu-system-x86 qemu-utils seabios ipxe-qemu          # lab VMs (TCG when KVM fails)
  genisoimage                                           # cloud-init NoCloud seed
  apt-utils                                             # apt-ftparchive for the lab mirror
  iproute2 openssh-client curl                          # namespace, SSH into VMs, checks
  bind9 bind9-utils bind9-dnsutils                      # the lab's DNS primary
  faketime                                              # the TSIG clock-skew test
  zstd                                                  # the lab PVE's vzdump archives (.tar.zst)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's bind9 package starts a named of its own where systemd runs; the lab runs its own
# instances on their own addresses and ports, so the system one is not wanted.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now named.service >/dev/null 2>&1 || true
fi

python3 -c 'import dns.version' 2>/dev/null || python3 -m pip install -q 'dnspython>=2.6'

# The image (about 2 minutes on 2 cores when not cached); prints its recipe hash and build time.
export SOP_CACHE="${SOP_CACHE:-/var/cache/sop-pipeline}"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" python3 -m sop_pipeline.lab.image
