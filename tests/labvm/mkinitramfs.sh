#!/bin/sh
# mkinitramfs.sh - pack the lab VM's whole root file system into one initramfs (cpio) file.
#
#   tests/labvm/mkinitramfs.sh OUT.cpio O LABVM_DIR CMD PROGRAM...
#     OUT.cpio   the archive to write (QEMU's -initrd)
#     O          the build tree: build, or build/san for SAN=1
#     LABVM_DIR  where fetch.sh put the kernel modules and busybox (build/labvm)
#     CMD        the default test command (/labvm/cmd; run.sh usually passes its own)
#     PROGRAM... the host programs to carry, e.g. build/hv build/tests/integration
#
# An initramfs is a cpio archive the kernel unpacks into a RAM file system before it starts
# /init: no disk, no driver, no mount. Everything the VM has must be in it:
#   /init                   tests/labvm/init
#   /bin/busybox            the userland (init makes the applet links at boot)
#   /labvm/modules/         irqbypass.ko kvm.ko kvm_amd.ko and their load order
#   /labvm/O, /labvm/cmd    the build tree and the default test command
#   /hvlab/                 the repository layout the tests expect, as on the host:
#                           $O/hv, build/guest/*, $O/tests/..., run from /hvlab
#   /lib..., /usr/lib...    every shared library the programs load (what `ldd` lists), at the
#                           same path as on the host, with the dynamic loader itself
# Run from the repository root. Textbook: chapter 5 "A guest OS", section "The lab VM:
# hardware virtualization in software".
set -eu

[ $# -ge 5 ] || {
	echo "usage: $0 OUT.cpio O LABVM_DIR CMD PROGRAM..." >&2
	exit 2
}
OUT=$1 O=$2 LABVM=$3 CMD=$4
shift 4
ROOT=${OUT%.cpio}.root

rm -rf "$ROOT"
mkdir -p "$ROOT/bin" "$ROOT/labvm/modules" "$ROOT/hvlab/build/guest"
cp tests/labvm/init "$ROOT/init"
chmod 755 "$ROOT/init"
cp "$LABVM/busybox" "$ROOT/bin/busybox"
cp "$LABVM"/kernel/modules/*.ko "$LABVM/kernel/modules/order" "$ROOT/labvm/modules/"
echo "$O" >"$ROOT/labvm/O"
echo "$CMD" >"$ROOT/labvm/cmd"

# The guests: all of build/guest/ but the object files (a new guest is carried by itself).
(cd build/guest && find . -path ./obj -prune -o -type f -print) | while read -r f; do
	mkdir -p "$ROOT/hvlab/build/guest/$(dirname "$f")"
	cp "build/guest/$f" "$ROOT/hvlab/build/guest/$f"
done

# A library at its host path: the dynamic loader and the sanitizer runtimes look there.
# cp -L: a link (e.g. /lib64/ld-linux-x86-64.so.2) becomes the file it points to.
copy_lib() {
	[ -e "$ROOT$1" ] && return 0
	mkdir -p "$ROOT$(dirname "$1")"
	cp -L "$1" "$ROOT$1"
}

for p in "$@"; do
	mkdir -p "$ROOT/hvlab/$(dirname "$p")"
	cp "$p" "$ROOT/hvlab/$p"
	# ldd prints "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and, for the loader,
	# "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file (the kernel maps it).
	ldd "$p" 2>/dev/null | sed -n -e 's/.*=> \(\/[^ ]*\) (.*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
		while read -r lib; do
			copy_lib "$lib"
		done
done

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
echo "labvm: $OUT: $(($(wc -c <"$OUT") / 1048576)) MiB, carries $* and build/guest/"
