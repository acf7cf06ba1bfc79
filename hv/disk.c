/*
 * disk.c - the disk image: pread, pwrite and fdatasync on a host file, in one of four cache modes.
 *
 * Concept: whatever the guest believes it talks to (an ATA drive, a virtio-blk device), the
 * bytes end up in a file through the host kernel, and the host kernel has its own cache. That
 * second cache is why "the guest wrote it" and "it is on the disk" are different moments, and
 * why QEMU's cache= option exists. hv's four modes (disk.h) differ only in the flags of one
 * open() and in what a guest FLUSH does. Textbook: chapter 4 "Two I/O paths", section "Cache
 * modes"; the table of modes is in disk.h.
 *
 * Every transfer is recorded as one HVT_DISK trace record with the time the system call took,
 * so a student can see writeback return in microseconds and writethrough wait for the disk.
 */
#include "disk.h"
#include "layout.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One-line reason for the caller to print after "hv: ". */
/* format(printf, 3, 4): argument 3 is a printf format and the values start at argument 4, so
 * -Wformat (in -Wall) checks every disk_fail call's %s and %lld against its arguments. */
__attribute__((format(printf, 3, 4)))
static int disk_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * The names are QEMU's cache= values, so a student can carry them across. The switch has no
 * default on purpose: -Wswitch (in -Wall) then fails the build when a mode is added to disk.h
 * without a name here; the "?" is only for a value outside the enum.
 */
const char *disk_cache_name(enum disk_cache cache)
{
	switch (cache) {
	case DISK_WRITEBACK: return "writeback";
	case DISK_WRITETHROUGH: return "writethrough";
	case DISK_NONE: return "none";
	case DISK_UNSAFE: return "unsafe";
	}
	return "?";
}

/* The inverse of disk_cache_name, built from it so the two cannot disagree. The loop relies on
 * the modes being numbered 0..3 without gaps (disk.h). */
int disk_cache_parse(const char *name, enum disk_cache *out)
{
	for (int c = DISK_WRITEBACK; c <= DISK_UNSAFE; c++) {
		if (!strcmp(name, disk_cache_name((enum disk_cache)c))) {
			*out = (enum disk_cache)c;
			return 0;
		}
	}
	return -1;
}

/*
 * The open flags of each mode. O_DSYNC makes every pwrite return only once the data (and the
 * metadata needed to read it back) is on stable storage, like a disk with its write cache off.
 * O_DIRECT skips the host page cache: the data goes from our buffer straight to the device by
 * DMA, which is why it must be aligned. Neither is a durability promise on its own for
 * cache=none: the drive's own cache still needs the FLUSH, so FLUSH means fdatasync there too.
 */
static int disk_open_flags(enum disk_cache cache, bool read_only)
{
	/*
	 * O_RDONLY makes the host kernel refuse writes too, not only disk_transfer's EROFS check.
	 * O_CLOEXEC: --viz forks and execs hvviz (vizlink.c); the image must not stay open in it.
	 * O_DSYNC rather than O_SYNC: O_SYNC would also wait for metadata a read does not need
	 * (the modification time), the same difference as between fsync and fdatasync.
	 * writeback and unsafe open alike; they differ only in disk_flush.
	 */
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (cache == DISK_WRITETHROUGH)
		flags |= O_DSYNC;
	if (cache == DISK_NONE)
		flags |= O_DIRECT;
	return flags;
}

/* What every successful open shares: the size rule, the bounce buffer, the serial number. */
static int disk_setup(struct disk *d, int fd, enum disk_cache cache, bool read_only,
		      const char *what, char *err, size_t errlen)
{
	struct stat st;
	/* fstat on the descriptor, not stat on the path: the checks are about the file actually
	 * opened, even if someone renames another file onto the path in between. */
	if (fstat(fd, &st) < 0)
		return disk_fail(err, errlen, "cannot stat disk image '%s': %s", what, strerror(errno));
	/* Images are files here. (A block device would report st_size 0: its size needs the
	 * BLKGETSIZE64 ioctl, which hv does not do.) */
	if (!S_ISREG(st.st_mode))
		return disk_fail(err, errlen, "disk image '%s' is not a regular file (use an image "
				 "file; block devices are not supported)", what);
	/* Guests address whole sectors: the bytes of a trailing partial sector could never be read
	 * or written, so such a file is refused rather than silently rounded down. */
	if (st.st_size < (off_t)HV_SECTOR_SIZE || st.st_size % HV_SECTOR_SIZE != 0)
		return disk_fail(err, errlen,
				 "disk image '%s' is %lld bytes; it must be a non-zero multiple of 512 "
				 "(create one with 'truncate -s 1M %s')",
				 what, (long long)st.st_size, what);
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->sectors = (uint64_t)st.st_size / HV_SECTOR_SIZE;
	d->cache = cache;
	d->read_only = read_only;
	if (cache == DISK_NONE) {
		/* 4096 covers every logical block size in use (512 and 4K-native disks). */
		if (posix_memalign((void **)&d->bounce, 4096, DISK_BOUNCE_SIZE) != 0)
			return disk_fail(err, errlen, "out of memory for the O_DIRECT buffer");
		/*
		 * O_DIRECT also wants the file offset and length aligned to the device's logical
		 * block size. Guests address 512-byte sectors; a disk with 4 KiB logical blocks
		 * would refuse every odd one with EINVAL. One 512-byte read finds out now, rather
		 * than as I/O errors in the guest.
		 */
		/* The file is at least one sector long (checked above), so this read has data
		 * to return; only EINVAL means "misaligned". Other errors show at the first I/O. */
		if (pread(fd, d->bounce, HV_SECTOR_SIZE, 0) < 0 && errno == EINVAL) {
			free(d->bounce);
			d->bounce = NULL;
			return disk_fail(err, errlen, "disk image '%s' is on a disk that needs more than "
					 "512-byte alignment for O_DIRECT (use --cache writeback or "
					 "writethrough)", what);
		}
	}
	/*
	 * 20 characters is the room both buses give a serial: ATA IDENTIFY words 10-19, and
	 * virtio-blk's GET_ID (VIRTIO_BLK_ID_BYTES). "HVLAB" and 15 hex digits of (device, inode)
	 * fill it. A copy of the image is a new inode, so the guest sees a new serial, and the
	 * serial is what Linux's /dev/disk/by-id names are built from.
	 */
	/* A stable, printable ID from the file's identity: the same image gives the same serial. */
	snprintf(d->serial, sizeof(d->serial), "HVLAB%015llx",
		 (unsigned long long)(((uint64_t)st.st_dev << 40) ^ (uint64_t)st.st_ino) &
			 0xFFFFFFFFFFFFFFFull);
	return 0;
}

int disk_open(struct disk *d, const char *path, enum disk_cache cache, bool read_only, char *err,
	      size_t errlen)
{
	int fd = open(path, disk_open_flags(cache, read_only));
	/* open() itself returns EINVAL when the file system has no O_DIRECT support at all (tmpfs
	 * before Linux 6.6, some FUSE file systems); say which mode works instead. */
	if (fd < 0 && errno == EINVAL && cache == DISK_NONE)
		return disk_fail(err, errlen,
				 "cannot open disk image '%s' with O_DIRECT: the file system does not "
				 "support it (use --cache writeback or writethrough)", path);
	if (fd < 0)
		return disk_fail(err, errlen, "cannot open disk image '%s': %s%s", path,
				 strerror(errno),
				 errno == EACCES || errno == EROFS ? " (check its permissions, or use a copy)" :
				 errno == ENOENT ? " (create one with 'truncate -s 1M FILE')" : "");
	if (disk_setup(d, fd, cache, read_only, path, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	return 0;
}

/*
 * O_TMPFILE: a file with no name from the start, so nothing is left behind even if hv is
 * killed. The open flags are the cache mode's: O_DIRECT on tmpfs works since Linux 6.6 only,
 * and the error then says so.
 */
int disk_open_scratch(struct disk *d, uint32_t mib, enum disk_cache cache, char *err,
		      size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	/*
	 * O_TMPFILE opens a directory and creates the file inside it; the kernel insists on write
	 * access (O_RDWR from the flags) and refuses O_CREAT with EINVAL, hence the mask. 0600 is
	 * the mode the file would have if it were ever given a name with linkat.
	 */
	int fd = open(dir, O_TMPFILE | (disk_open_flags(cache, false) & ~O_CREAT), 0600);
	if (fd < 0)
		return disk_fail(err, errlen, "cannot create a scratch disk in '%s': %s%s", dir,
				 strerror(errno),
				 cache == DISK_NONE ? " (O_DIRECT unsupported there? use --cache writeback)"
						    : " (set TMPDIR to a writable directory)");
	/* ftruncate makes a sparse file of zeros: no disk space is used until the guest writes. */
	/* The cast comes before the shift: in 32 bits, 4096 MiB << 20 would overflow to 0. */
	if (ftruncate(fd, (off_t)mib << 20) < 0) {
		int e = errno;
		close(fd);
		return disk_fail(err, errlen, "cannot size the scratch disk: %s", strerror(e));
	}
	char what[64];
	snprintf(what, sizeof(what), "scratch disk in %s", dir);
	if (disk_setup(d, fd, cache, false, what, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	return 0;
}

/* Leaves fd -1 and bounce NULL: a second call does nothing, and a late pread on the closed disk
 * fails with EBADF instead of reaching whatever file reuses the descriptor number. */
void disk_close(struct disk *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->bounce);
	d->bounce = NULL;
}

/*
 * Appendix C, B3/L3: a guest can ask for sector 2^64 - 1 and 2 sectors; sector + nsect wraps to 1
 * and a naive "sector + nsect <= capacity" passes. Subtracting instead never overflows once we
 * know sector <= capacity.
 */
bool disk_range_ok(const struct disk *d, uint64_t sector, uint64_t nsect)
{
	return sector <= d->sectors && nsect <= d->sectors - sector;
}

/* One HVT_DISK record per system call: offset, bytes, how long the host took. */
static void disk_record(struct disk *d, uint8_t op, uint64_t offset, uint64_t bytes, int rc,
			uint64_t t0)
{
	if (!d->trace)
		return;
	/*
	 * The fields as textbook appendix A, section A.14 lists them: size = which controller,
	 * addr = byte offset in the image, data = bytes (or the errno), count = the virtio request
	 * head, arg = the cache mode. t0 was read before the system call, so time_ns is when the
	 * call started and duration_ns how long the host kept the guest waiting. vcpu is the
	 * calling thread: the vCPU, or the I/O thread under --ioeventfd.
	 */
	struct hvt_record r = {
		.time_ns = t0, .vcpu = trace_thread_id(), .kind = HVT_DISK, .reason = op,
		.size = d->trace_dev, .addr = offset, .data = rc < 0 ? (uint64_t)-rc : bytes,
		.count = d->trace_head, .arg = d->cache, .flags = rc < 0 ? HVT_F_ERROR : 0,
		.duration_ns = trace_now(d->trace) - t0,
	};
	trace_emit(d->trace, &r);
}

/*
 * pread/pwrite may transfer less than asked (a signal, a file system's own limits), so loop
 * until done. 0 from pread means end of file, which disk_range_ok rules out unless the file
 * shrank under us: report it as EIO rather than spin.
 */
static int disk_io(int fd, bool write, uint8_t *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
		/* EINTR: hv kicks the vCPU thread with SIGUSR1 (vm.c) and installs the handler
		 * without SA_RESTART. Local file systems rarely let a signal cut a pread short, but
		 * network and FUSE file systems can. A short pwrite is also how a full disk first
		 * shows: the next call then fails with ENOSPC, which goes back as -errno. */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* cache=none: O_DIRECT wants aligned memory, which guest buffers need not be. Copy through the
 * aligned bounce buffer, DISK_BOUNCE_SIZE at a time (a fixed amount, whatever the guest asks). */
static int disk_io_bounced(struct disk *d, bool write, uint8_t *buf, size_t len, off_t off)
{
	while (len > 0) {
		/* Every chunk starts at a multiple of 512 (the sector offset plus whole 64 KiB
		 * chunks) and is a multiple of 512 long: the alignment disk_setup checked for.
		 * The price is two memcpy per transfer; QEMU bounces only when the guest's buffer
		 * is misaligned, and otherwise lets the device DMA into guest RAM directly. */
		size_t n = len < DISK_BOUNCE_SIZE ? len : DISK_BOUNCE_SIZE;
		if (write)
			memcpy(d->bounce, buf, n);
		int rc = disk_io(d->fd, write, d->bounce, n, off);
		if (rc < 0)
			return rc;
		if (!write)
			memcpy(buf, d->bounce, n);
		buf += n;
		len -= n;
		off += (off_t)n;
	}
	return 0;
}

static int disk_transfer(struct disk *d, bool write, uint8_t *buf, uint64_t sector, uint64_t nsect)
{
	/* The range is checked before the read-only rule: a request outside the disk is a
	 * controller (or guest) bug whatever the mode, and nothing may be transferred for it. */
	if (!disk_range_ok(d, sector, nsect))
		return -ERANGE;
	if (write && d->read_only)
		return -EROFS;
	/* Both fit: sector and nsect are at most the capacity, itself file size / 512. */
	off_t off = (off_t)(sector * HV_SECTOR_SIZE);
	size_t len = (size_t)(nsect * HV_SECTOR_SIZE);
	uint64_t t0 = trace_now(d->trace);
	int rc = d->bounce ? disk_io_bounced(d, write, buf, len, off)
			   : disk_io(d->fd, write, buf, len, off);
	/* Recorded even when it failed (HVT_F_ERROR): a failed system call is the one a student
	 * most needs to find in the trace. */
	disk_record(d, write ? HVT_DISK_WRITE : HVT_DISK_READ, (uint64_t)off, len, rc, t0);
	if (rc < 0) {
		d->errors++;
		return rc;
	}
	if (write) {
		d->writes++;
		d->bytes_written += len;
	} else {
		d->reads++;
		d->bytes_read += len;
	}
	return 0;
}

int disk_read(struct disk *d, uint64_t sector, void *buf, uint64_t nsect)
{
	return disk_transfer(d, false, buf, sector, nsect);
}

int disk_write(struct disk *d, uint64_t sector, const void *buf, uint64_t nsect)
{
	/* disk_transfer only reads from buf when writing; the cast keeps one code path. */
	return disk_transfer(d, true, (uint8_t *)(uintptr_t)buf, sector, nsect);
}

/*
 * The guest's FLUSH (ATA FLUSH CACHE, virtio-blk VIRTIO_BLK_T_FLUSH) is the only moment a guest
 * file system may rely on durability. fdatasync writes the file's dirty pages and the metadata
 * needed to read them (not, say, the access time), then asks the drive to empty its own cache.
 * cache=unsafe skips it on purpose: faster, and a host crash may then lose acknowledged data.
 */
int disk_flush(struct disk *d)
{
	uint64_t t0 = trace_now(d->trace);
	int rc = 0;
	/*
	 * flushes counts what the guest asked for, syncs what the host did: under cache=unsafe
	 * the first grows and the second stays 0 (the trace shows the same as data 0 or 1). In
	 * writethrough every write already waited, so fdatasync finds little left. A read-only
	 * disk has nothing to write. If fdatasync fails, the guest gets an I/O error
	 * (VIRTIO_BLK_S_IOERR, or ATA ABRT) and hv does not retry: after a failed writeback
	 * Linux may mark the pages clean, so a second fdatasync can return 0 without the data
	 * ever reaching the disk.
	 */
	d->flushes++;
	if (d->cache != DISK_UNSAFE && !d->read_only) {
		rc = fdatasync(d->fd) < 0 ? -errno : 0;
		d->syncs++;
	}
	/* data = 1 if fdatasync ran, 0 if the mode skipped it (or errno with HVT_F_ERROR). */
	disk_record(d, HVT_DISK_FLUSH, 0, d->cache != DISK_UNSAFE && !d->read_only, rc, t0);
	if (rc < 0)
		d->errors++;
	return rc;
}
