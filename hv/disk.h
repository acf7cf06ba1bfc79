/*
 * disk.h - the disk image behind both disk controllers: a host file, and how hv writes to it.
 *
 * Concept: an emulated disk is, in the end, a file on the host. Both controllers (the legacy
 * ATA one and virtio-blk) turn the guest's requests into the same three system calls on it:
 * pread, pwrite and fdatasync. *How* those calls reach the host's disk is the cache mode: four
 * of the five QEMU offers (textbook chapter 4, section "Cache modes"). QEMU's fifth,
 * directsync (O_DIRECT | O_DSYNC), only combines the rows none and writethrough:
 *
 *   mode          open flags           host page cache   guest FLUSH        QEMU equivalent
 *   writeback     (none)               used              fdatasync          cache=writeback
 *   writethrough  O_DSYNC              used, written     fdatasync (cheap)  cache=writethrough
 *                                      through at once
 *   none          O_DIRECT             bypassed          fdatasync          cache=none
 *   unsafe        (none)               used              ignored            cache=unsafe
 *
 * writeback is the default, as in QEMU: fast, and safe for any guest that flushes when it
 * must. unsafe is for throw-away guests (a crash of the *host* may lose what the guest was told
 * is on disk). O_DIRECT needs buffers, offsets and lengths aligned to the device's logical
 * block size: disk.c bounces every transfer through a fixed, 4 KiB-aligned buffer.
 *
 * Every function checks its sector range itself (overflow-safe): a controller bug can never
 * read or write outside the image, and the image never grows (textbook appendix C, B13).
 * This file has no KVM in it: the unit tests run it on plain temporary files.
 */
#ifndef HV_DISK_H
#define HV_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace_write.h"

enum disk_cache { DISK_WRITEBACK = 0, DISK_WRITETHROUGH = 1, DISK_NONE = 2, DISK_UNSAFE = 3 };

/* The bounce buffer for O_DIRECT: transfers larger than this are split. */
#define DISK_BOUNCE_SIZE (64u * 1024u)

struct disk {
	int fd;
	uint64_t sectors;        /* capacity in 512-byte sectors (file size / 512, rounded down) */
	bool read_only;
	enum disk_cache cache;
	uint8_t *bounce;         /* DISK_BOUNCE_SIZE bytes, 4096-aligned (cache=none only) */
	char serial[21];         /* the 20-character ID virtio GET_ID and ATA IDENTIFY report */

	/* recording: which controller this disk hangs on goes into each HVT_DISK record */
	struct trace_writer *trace;
	uint8_t trace_dev;       /* enum hvt_disk_dev */
	uint32_t trace_head;     /* the virtio request being served (count field), 0 for ATA */

	/* counters for the end-of-run summary and the tests */
	uint64_t reads, writes, flushes;  /* calls by the controllers */
	uint64_t bytes_read, bytes_written;
	uint64_t syncs;                   /* fdatasync calls actually made */
	uint64_t errors;                  /* host system calls that failed */
};

/*
 * Open an existing image file. Its size must be a non-zero multiple of 512. On failure returns
 * -1 with a one-line reason (and the fix) in err; the struct is then unusable.
 */
int disk_open(struct disk *d, const char *path, enum disk_cache cache, bool read_only, char *err,
	      size_t errlen);
/* A scratch image: an unlinked temporary file of `mib` MiB in $TMPDIR (default /tmp), zeroed,
 * gone when hv exits. */
int disk_open_scratch(struct disk *d, uint32_t mib, enum disk_cache cache, char *err,
		      size_t errlen);
void disk_close(struct disk *d);

/* "writeback", ... and back; parse returns -1 for an unknown name. */
const char *disk_cache_name(enum disk_cache cache);
int disk_cache_parse(const char *name, enum disk_cache *out);

/*
 * Transfer nsect sectors starting at `sector` between the image and host memory `buf` (a
 * pointer into guest RAM from gm_ptr, or a device's own buffer). Return 0, or a negative errno:
 * -ERANGE if the range is not inside the disk (nothing is transferred), -EROFS for a write to a
 * read-only disk, or the error of the failed system call. Each call is one HVT_DISK record.
 */
int disk_read(struct disk *d, uint64_t sector, void *buf, uint64_t nsect);
int disk_write(struct disk *d, uint64_t sector, const void *buf, uint64_t nsect);
/* Make written data durable: fdatasync, except in cache=unsafe (then nothing, and 0). */
int disk_flush(struct disk *d);

/* The overflow-safe range rule both controllers use (appendix C, B3/L3):
 * sector <= capacity && nsect <= capacity - sector. */
bool disk_range_ok(const struct disk *d, uint64_t sector, uint64_t nsect);

#endif
