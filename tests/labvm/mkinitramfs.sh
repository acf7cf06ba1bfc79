#!/bin/sh
# mkinitramfs.sh - pack the lab VM's root file system into one initramfs (cpio) file.
#
#   tests/labvm/mkinitramfs.sh OUT.cpio LABVM_DIR
#     OUT.cpio   the archive to write (QEMU's -initrd)
#     LABVM_DIR  where fetch.sh put the kernel modules and busybox (build/labvm)
#
# An initramfs is a cpio archive the kernel unpacks into a RAM file system before it starts
# /init: no disk, no driver, no mount. This one holds only what the VM needs to reach the
# host's files (tests/labvm/init mounts them over 9p):
#   /init                   tests/labvm/init
#   /bin/busybox            the userland of the set-up (init makes the applet links at boot)
#   /labvm/modules/         kvm_amd, 9p and their dependencies, and their load order
# hv, the guests, the tests and every library they load are not copied: the VM runs the host's
# own files, so a rebuilt hv is seen at once and the archive never goes stale.
# Run from the repository root. Textbook: chapter 0 "Your host", section "The lab VM".
set -eu

[ $# -eq 2 ] || {
	echo "usage: $0 OUT.cpio LABVM_DIR" >&2
	exit 2
}
OUT=$1 LABVM=$2
ROOT=${OUT%.cpio}.root

rm -rf "$ROOT"
mkdir -p "$ROOT/bin" "$ROOT/labvm/modules"
cp tests/labvm/init "$ROOT/init"
chmod 755 "$ROOT/init"
cp "$LABVM/busybox" "$ROOT/bin/busybox"
cp "$LABVM"/kernel/modules/*.ko "$LABVM/kernel/modules/order" "$ROOT/labvm/modules/"

# newc is the cpio format the kernel reads. Sorted in the C locale so the file order does not
# depend on the user's language (the archive still records mtimes: not byte-for-byte stable).
# cpio's own complaints are kept (they say which file it could not read); set -e does not see a
# failure inside the pipeline, so the archive is checked below.
BUSYBOX=$(cd "$LABVM" && pwd)/busybox
(cd "$ROOT" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc) >"$OUT.tmp"
# A complete archive ends with the "TRAILER!!!" entry; a failed cpio leaves none.
if ! grep -q 'TRAILER!!!' "$OUT.tmp"; then
	echo "labvm: packing $OUT failed (cpio's message above names the file it could not read)" >&2
	rm -f "$OUT.tmp"
	exit 1
fi
mv "$OUT.tmp" "$OUT"
rm -rf "$ROOT"
