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
__attribute__((format(printf, 3, 4)))
static int disk_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

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
	if (fstat(fd, &st) < 0)
		return disk_fail(err, errlen, "cannot stat disk image '%s': %s", what, strerror(errno));
	/* Images are files here. (A block device would report st_size 0: its size needs the
	 * BLKGETSIZE64 ioctl, which hv does not do.) */
	if (!S_ISREG(st.st_mode))
		return disk_fail(err, errlen, "disk image '%s' is not a regular file (use an image "
				 "file; block devices are not supported)", what);
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
		if (pread(fd, d->bounce, HV_SECTOR_SIZE, 0) < 0 && errno == EINVAL) {
			free(d->bounce);
			d->bounce = NULL;
			return disk_fail(err, errlen, "disk image '%s' is on a disk that needs more than "
					 "512-byte alignment for O_DIRECT (use --cache writeback or "
					 "writethrough)", what);
		}
	}
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
	int fd = open(dir, O_TMPFILE | (disk_open_flags(cache, false) & ~O_CREAT), 0600);
	if (fd < 0)
		return disk_fail(err, errlen, "cannot create a scratch disk in '%s': %s%s", dir,
				 strerror(errno),
				 cache == DISK_NONE ? " (O_DIRECT unsupported there? use --cache writeback)"
						    : " (set TMPDIR to a writable directory)");
	/* ftruncate makes a sparse file of zeros: no disk space is used until the guest writes. */
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
