#!/bin/sh
# mkinitramfs.sh - pack the Linux guest's initramfs: busybox, the disk drivers, init, scripts.
#
#   tests/linux/mkinitramfs.sh OUT.cpio LABVM_DIR
#     OUT.cpio   the archive to write (hv run --kernel ... --initrd OUT.cpio)
#     LABVM_DIR  where tests/labvm/fetch.sh put busybox and the guest modules (build/labvm)
#
# The same recipe as the lab VM's archive (tests/labvm/mkinitramfs.sh), for a different
# machine: hv's. It holds
#   /init              tests/linux/init
#   /bin/busybox       Debian's busybox-static, the whole userland
#   /lib/modules/      virtio_mmio, virtio_blk, pata_legacy, sd_mod and their dependencies,
#                      from the same Debian kernel package as the kernel, and their load order
#   /scripts/          tests/linux/scripts/*.sh, what hvlab.run=NAME runs
# Run from the repository root. Textbook: chapter 11 "Booting Linux", section "A small
# initramfs".
set -eu

[ $# -eq 2 ] || {
	echo "usage: $0 OUT.cpio LABVM_DIR" >&2
	exit 2
}
OUT=$1 LABVM=$2
ROOT=${OUT%.cpio}.root

[ -f "$LABVM/kernel/guest/order" ] || {
	echo "linux: $LABVM/kernel/guest/ is missing (run: make labvm-initramfs, which fetches it)" >&2
	exit 1
}
rm -rf "$ROOT"
mkdir -p "$(dirname "$OUT")" "$ROOT/bin" "$ROOT/lib/modules" "$ROOT/scripts"
cp tests/linux/init "$ROOT/init"
chmod 755 "$ROOT/init"
cp tests/linux/scripts/*.sh "$ROOT/scripts/"
cp "$LABVM/busybox" "$ROOT/bin/busybox"
cp "$LABVM"/kernel/guest/*.ko "$LABVM/kernel/guest/order" "$ROOT/lib/modules/"

# newc, sorted in the C locale, checked for the trailer: as tests/labvm/mkinitramfs.sh does.
BUSYBOX=$(cd "$LABVM" && pwd)/busybox
(cd "$ROOT" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc) >"$OUT.tmp"
if ! grep -q 'TRAILER!!!' "$OUT.tmp"; then
	echo "linux: packing $OUT failed (cpio's message above names the file it could not read)" >&2
	rm -f "$OUT.tmp"
	exit 1
fi
mv "$OUT.tmp" "$OUT"
rm -rf "$ROOT"
