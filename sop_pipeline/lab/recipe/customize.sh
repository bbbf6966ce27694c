#!/bin/sh
# mmdebstrap customize hook for the lab VM image. $1 is the root directory being built.
# SOP_RECIPE_DIR: this folder; SOP_MIRROR_DEBS: where the mirror's .deb files go;
# SOP_MIRROR_URL: the apt source the VMs use (the lab mirror).
set -eu
root="$1"

# 1. Download every package the roles need that the image lacks, for the lab mirror.
rm -f "$root"/var/cache/apt/archives/*.deb
# mmdebstrap's own apt configuration (exported to hooks) resolves against the chroot's
# dpkg status and downloads into its cache, with the host's network and resolver.
# shellcheck disable=SC2046
APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get install -y -q --download-only \
    -o APT::Install-Recommends=true \
    $(grep -v -e '^#' -e '^$' "$SOP_RECIPE_DIR/mirror-packages.txt")
mkdir -p "$SOP_MIRROR_DEBS"
cp "$root"/var/cache/apt/archives/*.deb "$SOP_MIRROR_DEBS"/

# 1b. Bake the heavy stack packages into the image, as a data centre's golden template has
# them: under TCG, dpkg alone takes many minutes per VM (php-fpm's debconf per module). The
# roles still install them wherever a template lacks them; the mirror above keeps them all.
# A policy-rc.d keeps the chroot from starting services.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
# shellcheck disable=SC2046
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download \
    $(grep -v -e '^#' -e '^$' "$SOP_RECIPE_DIR/preinstall-packages.txt")
rm -f "$root/usr/sbin/policy-rc.d" "$root"/var/cache/apt/archives/*.deb
# The roles enable what a site needs; nothing serves or competes for CPU at boot before that.
chroot "$root" systemctl disable nginx.service php8.2-fpm.service mariadb.service \
    postgresql.service

# 2. Point apt at the lab mirror only, and start with no package lists.
printf 'deb [trusted=yes] %s ./\n' "$SOP_MIRROR_URL" > "$root/etc/apt/sources.list"
rm -rf "$root"/etc/apt/sources.list.d/* "$root"/var/lib/apt/lists/*
mkdir -p "$root/var/lib/apt/lists/partial"

# 3. cloud-init, file systems, first-boot identity.
install -m 0644 "$SOP_RECIPE_DIR/cloud.cfg" "$root/etc/cloud/cloud.cfg.d/90-sop-lab.cfg"
# (/etc/fstab: written by tune-boot.sh)
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
: > "$root/etc/hostname"

# 4. Units: networkd for the static address; nothing that competes with Ansible for apt or
# waits for a person at the console.
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service
chroot "$root" systemctl mask systemd-firstboot.service apt-daily.timer \
    apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer

# 5. Boot time: root disk by label, cloud-init in local mode, fewer units (tune-boot.sh).
sh "$SOP_RECIPE_DIR/tune-boot.sh" "$root"
