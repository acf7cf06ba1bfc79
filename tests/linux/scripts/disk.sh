# disk.sh - hvlab.run=disk: write a pattern to hv's disk, sync, read it back through the driver.
# Run by tests/linux/init after it loaded the drivers of hvlab.disk (virtio_blk: /dev/vda;
# pata_legacy: /dev/sda). The host checks the image afterwards (tests/integration/test_linux.c):
# sector 8 onwards must hold 8 sectors of the line below, repeated.
dmesg | grep -m1 'ttyS0 at I/O'
case $(cat /proc/cmdline) in
*hvlab.disk=virtio*) dev=/dev/vda ;;
*hvlab.disk=legacy*) dev=/dev/sda ;;
*) echo "disk.sh: no hvlab.disk= on the command line (run hv with --disk-path)"; exit 5 ;;
esac
# The driver finds the disk asynchronously: give it a few seconds to appear.
i=0
while [ ! -b $dev ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -b $dev ] || { echo "disk.sh: no $dev"; dmesg | tail -20; exit 7; }
echo "disk.sh: $dev is $(cat /sys/block/${dev#/dev/}/size) sectors"
# 4096 bytes: 64 lines of 64 characters, "hvlab linux disk test line NN ..." padded with dots.
n=0
while [ $n -lt 64 ]; do
	printf 'hvlab linux disk test line %02d .................................\n' $n
	n=$((n + 1))
done >/tmp/pattern
dd if=/tmp/pattern of=$dev bs=512 seek=8 count=8 conv=fsync 2>/dev/null || exit 9
sync
# Drop the page cache so the read below goes to the device, not to memory.
echo 3 >/proc/sys/vm/drop_caches
dd if=$dev of=/tmp/back bs=512 skip=8 count=8 2>/dev/null || exit 11
cmp /tmp/pattern /tmp/back || exit 13
echo "disk.sh: wrote, synced and read back 4096 bytes on $dev"
exit 0
