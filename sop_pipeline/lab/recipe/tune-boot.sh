#!/bin/sh
# Boot-time tuning of the lab VM image; run by customize.sh. $1 is the image's root directory.
# Every change here is measured and explained in docs/lab.md ("Boot time").
set -eu
root="$1"

# Root file system by label: the lab boots the kernel directly, without an initrd, from an
# NVMe disk (the cloud kernel has NVMe and ext4 built in, virtio only as modules).
# Pass 0: a throwaway copy-on-write overlay gets no fsck at boot.
printf 'LABEL=soplab-root / ext4 defaults,noatime 0 0\n' > "$root/etc/fstab"

# cloud-init in local mode (the lab's kernel command line has `ds=nocloud`, see cloud.cfg):
# cloud-init-local.service does the work of the network and config stages, which would start
# Python only to find nothing to do. Masked, not merely skipped by a condition: a skipped
# cloud-init.service still holds sysinit.target (and so sshd) until the network is online.
chroot "$root" systemctl mask cloud-init.service cloud-config.service
# ds-identify (run by cloud-init's systemd generator at every boot): no search, cloud-init
# is enabled and cloud.cfg's datasource_list applies.
printf 'policy: enabled\n' > "$root/etc/cloud/ds-identify.cfg"

# Units that cost CPU at boot and do nothing in a lab VM: no VGA console (getty on tty1),
# no DRM, no pstore, no periodic jobs that compete with Ansible for apt or the disk.
chroot "$root" systemctl mask getty@tty1.service modprobe@drm.service \
    systemd-pstore.service dpkg-db-backup.timer

# cloud-init-local is the whole path to the first login (sshd waits for it); under TCG it is
# mostly Python importing cloud-init while udev's coldplug, journald and resolved start next
# to it on the same two vCPUs. Let it go first.
mkdir -p "$root/etc/systemd/system/cloud-init-local.service.d"
printf '[Service]\nNice=-10\nCPUWeight=10000\nIOWeight=10000\n' \
    > "$root/etc/systemd/system/cloud-init-local.service.d/sop-first.conf"
