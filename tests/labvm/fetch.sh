#!/bin/sh
# fetch.sh - bring the lab VM's kernel, its KVM modules and busybox from the Debian archive.
#
#   tests/labvm/fetch.sh [DIR]      (DIR defaults to build/labvm; run from the repository root)
#
# The lab VM (see tests/labvm/labvm.mk) boots a real Linux kernel inside QEMU so that /dev/kvm
# inside it is an AMD-V KVM. That kernel is not the host's: it is Debian's standard amd64
# kernel image, taken straight from the archive with `apt-get download` and unpacked with
# `dpkg -x`, so nothing is installed on the host and no root is needed (the package lists must
# exist). It builds KVM as modules (kvm.ko, kvm-amd.ko) and also the 9p file system (9p.ko,
# 9pnet_virtio.ko), through which the VM sees the host's files (run.sh: the repository read-write,
# the host's programs read-only). Debian's smaller *cloud* kernel would boot as fast (about 2 s
# under QEMU's TCG emulation: everything we need is a module either way) but has no 9p, only
# virtiofs, which needs a daemon (virtiofsd) that wants root or user namespaces: a Docker
# container (Gradescope's autograder) often allows neither. 9p is served by QEMU itself.
#
# What lands in DIR (everything is cached: a second run with the files present does nothing):
#   DIR/kernel/vmlinuz            the kernel QEMU boots (-kernel)
#   DIR/kernel/version            e.g. 6.1.0-57-amd64 (6.1.192-3)
#   DIR/kernel/modules/*.ko       kvm_amd and everything it needs, decompressed (busybox's
#                                 insmod reads plain ELF only, not .ko.xz / .ko.zst)
#   DIR/kernel/modules/order      their names, each after the modules it depends on
#   DIR/kernel/guest/*.ko, order  the modules of the Linux guest on hv (GUEST below)
#   DIR/busybox                   Debian's busybox-static: one static binary that is the
#                                 VM's whole userland (sh, mount, insmod, poweroff, ...)
#
# Textbook: chapter 5 "A guest OS", section "The lab VM: hardware virtualization in software".
set -eu

DIR=${1:-build/labvm}
KDIR=$DIR/kernel
DL=$DIR/deb
# The Debian package whose current version holds the kernel (a metapackage: see below).
KPKG=linux-image-amd64
# The modules the lab VM loads, by module name. Their own dependencies are added below from
# each module's .modinfo "depends=" field (what `modinfo -F depends` prints): kvm_amd brings
# kvm and irqbypass; 9p brings 9pnet, netfs and fscache. 9pnet_virtio is 9p's transport over
# a virtio device (QEMU's -virtfs); without it the VM cannot see the repository.
WANT="irqbypass kvm kvm_amd 9p 9pnet_virtio"
# Wanted too, but the VM can do without them:
#  brd          a RAM disk for /tmp. tmpfs, the obvious /tmp, refuses O_DIRECT before Linux 6.6,
#               and hv's --cache none opens disk images with it; ext2 on a RAM disk accepts it.
#               Without brd, init falls back to tmpfs.
#  ext4, crc32c_generic   the driver that mounts that ext2 (Debian's standard kernel builds ext4,
#               which also serves ext2, as a module; crc32c is the checksum it asks the crypto
#               layer for). Without them the RAM disk cannot be mounted: tmpfs again.
#  virtio_pci, virtio_rng   the driver of QEMU's virtio-rng-pci, host randomness for the VM's
#               kernel. Without it the first read of /dev/urandom (Criterion reads it) waits
#               while the kernel gathers entropy from timing jitter: 1 s under TCG.
OPTIONAL="brd crc32c_generic ext4 virtio_pci virtio_rng"
# The same kernel is also the guest kernel of chapter 11 "Booting Linux" (hv run --kernel); its
# initramfs (tests/linux/mkinitramfs.sh) takes these modules, kept apart in DIR/kernel/guest/ so
# the lab VM's own archive does not grow: virtio_mmio and virtio_blk drive hv's virtio disk,
# pata_legacy (on libata, the SCSI layer and the sd disk driver) hv's ATA disk at 0x1F0, IRQ 14;
# crct10dif_generic is the checksum sd_mod's crc_t10dif asks the crypto layer for.
GUEST="virtio_mmio virtio_blk pata_legacy sd_mod crct10dif_generic"

die() {
	echo "labvm: $*" >&2
	exit 1
}

# What to do about a missing network, said at the end of each message that may be caused by
# one: the archive is needed once, after that DIR is the cache and the lab VM works offline.
AGAIN="it is needed once: with network access, run make labvm-initramfs again (then $DIR is the cache)"

# ---- the Debian archive: resolve, then download one package into $DL ----

# apt-cache answers from the package lists under /var/lib/apt/lists. A fresh machine may have
# none; `apt-get update` fetches them (root only, and only once per run).
UPDATED=no
apt_update_once() {
	[ "$UPDATED" = no ] || return 1
	UPDATED=yes
	if [ "$(id -u)" != 0 ]; then
		die "the Debian package lists are missing, so the lab VM's kernel cannot be found (run: sudo apt-get update, then make labvm-initramfs again)"
	fi
	echo "labvm: no Debian package lists yet: running apt-get update once"
	# Its messages are kept for the failure reports below. Without the network it still exits 0
	# (it only warns that the index files failed to download): fetch_kernel then finds no
	# package and says so.
	mkdir -p "$DL"
	apt-get update -qq >"$DL/update.log" 2>&1 ||
		die "apt-get update failed (its messages: $DL/update.log): no network to the Debian archive? $AGAIN"
}

# The metapackage linux-image-amd64 only depends on the current versioned image,
# e.g. linux-image-6.1.0-57-amd64; that one holds the files.
resolve_kernel_pkg() {
	apt-cache depends $KPKG 2>/dev/null |
		sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1
}

download() { # package -> the .deb's path
	mkdir -p "$DL"
	# apt drops to the _apt user to download, which may not write into our build tree; the
	# download then still works as root but warns. Its output is kept and shown on failure only.
	if ! (cd "$DL" && apt-get download "$1") >"$DL/apt.log" 2>&1; then
		if grep -q -e 'Unable to locate' -e 'no installation candidate' -e "Can't select" "$DL/apt.log" &&
			apt_update_once; then
			download "$1"
			return
		fi
		die "cannot download Debian package $1 (apt-get's messages: $DL/apt.log): no network to the Debian archive? $AGAIN"
	fi
}

deb_of() { # package -> the newest .deb of it in $DL
	ls -t "$DL/$1"_*.deb 2>/dev/null | head -n 1
}

# ---- the kernel ----

fetch_kernel() {
	pkg=$(resolve_kernel_pkg)
	if [ -z "$pkg" ]; then
		apt_update_once || true
		pkg=$(resolve_kernel_pkg)
	fi
	# (apt-get update exits 0 even when it could not reach the archive, hence both causes.)
	[ -n "$pkg" ] ||
		die "apt-cache knows no $KPKG even after apt-get update (its messages: $DL/update.log): no network to the Debian archive? $AGAIN"
	download "$pkg"
	rm -rf "$DL/root"
	dpkg -x "$(deb_of "$pkg")" "$DL/root"

	kver=$(ls "$DL/root/lib/modules" | head -n 1)
	mroot=$DL/root/lib/modules/$kver
	[ -f "$DL/root/boot/vmlinuz-$kver" ] || die "package $pkg has no /boot/vmlinuz-$kver"

	rm -rf "$KDIR"
	mkdir -p "$KDIR/modules"
	# Every module file once, as "name path" with the name spelled as the kernel does
	# (kvm-amd.ko is module kvm_amd): "depends=" uses those names.
	find "$mroot/kernel" -name '*.ko*' | while read -r f; do
		b=${f##*/}
		echo "$(echo "${b%%.ko*}" | tr - _) $f"
	done >"$DL/index"

	MODDIR=$KDIR/modules
	: >"$MODDIR/order"
	for m in $WANT; do
		add_module "$m" "$mroot"
	done
	for m in $OPTIONAL; do
		if awk -v n="$m" '$1 == n { f = 1 } END { exit !f }' "$DL/index"; then
			add_module "$m" "$mroot"
		else
			echo "labvm: note: kernel $kver has no module $m (the VM will do without it)"
		fi
	done
	MODDIR=$KDIR/guest
	mkdir -p "$MODDIR"
	: >"$MODDIR/order"
	for m in $GUEST; do
		add_module "$m" "$mroot"
	done
	echo "$KPKG: $WANT $OPTIONAL; guest: $GUEST" >"$KDIR/wanted"
	cp "$DL/root/boot/vmlinuz-$kver" "$KDIR/vmlinuz.tmp"
	echo "$kver ($(dpkg-deb -f "$(deb_of "$pkg")" Version))" >"$KDIR/version"
	# Written last: its presence means the kernel directory is complete.
	mv "$KDIR/vmlinuz.tmp" "$KDIR/vmlinuz"
	rm -rf "$DL/root" "$DL/index"
	echo "labvm: kernel $(cat "$KDIR/version"), modules: $(tr '\n' ' ' <"$KDIR/modules/order")"
}

# Adds one module after its dependencies (a depth-first walk: the order file then lists each
# module after everything it needs, which is the order insmod must load them in).
add_module() { # name mroot; into $MODDIR
	# Module names use _ (the index above is in those terms); a depends= field may spell a
	# file name with - (sd_mod: "t10-pi").
	set -- "$(echo "$1" | tr - _)" "$2"
	grep -qx "$1" "$MODDIR/order" && return 0
	path=$(awk -v n="$1" '$1 == n { print $2; exit }' "$DL/index")
	if [ -z "$path" ]; then
		# Built into the kernel image: nothing to load.
		if grep -q "/$(echo "$1" | tr _ -)\.ko$\|/$1\.ko$" "$2/modules.builtin" 2>/dev/null; then
			return 0
		fi
		case $1 in
		kvm_amd) die "kernel $(basename "$2") has no kvm_amd module (the lab VM needs a kernel with CONFIG_KVM_AMD)" ;;
		*) die "kernel $(basename "$2") has no module $1 (needed for $WANT)" ;;
		esac
	fi
	ko=$MODDIR/$1.ko
	case $path in
	*.ko.xz) xz -dc "$path" >"$ko" ;;
	*.ko.zst) zstd -qdc "$path" >"$ko" ;;
	*.ko.gz) gzip -dc "$path" >"$ko" ;;
	*) cp "$path" "$ko" ;;
	esac
	# .modinfo is a section of NUL-separated "key=value" strings; depends= is comma-separated.
	objcopy -O binary -j .modinfo "$ko" "$KDIR/modinfo.tmp"
	deps=$(tr '\0' '\n' <"$KDIR/modinfo.tmp" | sed -n 's/^depends=//p' | tr , ' ')
	rm -f "$KDIR/modinfo.tmp"
	for d in $deps; do
		add_module "$d" "$2"
	done
	echo "$1" >>"$MODDIR/order"
}

# ---- busybox ----

fetch_busybox() {
	download busybox-static
	rm -rf "$DL/bb"
	dpkg -x "$(deb_of busybox-static)" "$DL/bb"
	cp "$DL/bb/bin/busybox" "$DIR/busybox.tmp"
	mv "$DIR/busybox.tmp" "$DIR/busybox"
	rm -rf "$DL/bb"
}

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
	die "apt-get and dpkg are needed to fetch the lab VM's kernel (a Debian or Ubuntu host)"
# The cache is complete when the kernel is there with the module list of this script.
if [ ! -f "$KDIR/vmlinuz" ] || [ "$(cat "$KDIR/wanted" 2>/dev/null)" != "$KPKG: $WANT $OPTIONAL; guest: $GUEST" ]; then
	fetch_kernel
fi
[ -x "$DIR/busybox" ] || fetch_busybox
# Newer than this script, so make (which runs it when it changes) is satisfied.
touch "$KDIR/vmlinuz" "$DIR/busybox"
# The .debs are not needed any more: the unpacked files are the cache.
rm -rf "$DL"
