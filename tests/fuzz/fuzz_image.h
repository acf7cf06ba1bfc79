/*
 * fuzz_image.h - the disk image the device fuzzers (fuzz_virtio.c, fuzz_ata.c) share.
 *
 * One temporary file, opened twice (read-write and read-only, for the read-only rules B9/L2),
 * unlinked at once so nothing is left in /tmp, cache=unsafe so a FLUSH costs no fdatasync.
 * Between inputs it is put back to a known content (sector s filled with byte s): a sector
 * read by one input may land on the rings, so the disk steers the device, and a crash must
 * replay with the same bytes. Header-only: each fuzzer is one translation unit plus hv's files.
 */
#ifndef FUZZ_IMAGE_H
#define FUZZ_IMAGE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "layout.h"

static void fuzz_image_die(const char *who, const char *what)
{
	fprintf(stderr, "%s: %s\n", who, what);
	abort();
}

static void fuzz_image_open(const char *who, unsigned sectors, struct disk *rw, struct disk *ro)
{
	char path[] = "/tmp/hv-fuzz-image-XXXXXX", err[256];
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)sectors * HV_SECTOR_SIZE) < 0)
		fuzz_image_die(who, "cannot create the temporary image in /tmp");
	if (disk_open(rw, path, DISK_UNSAFE, false, err, sizeof(err)) < 0 ||
	    disk_open(ro, path, DISK_UNSAFE, true, err, sizeof(err)) < 0)
		fuzz_image_die(who, err);
	unlink(path);
	close(fd);
}

/* Only rewritten after an input wrote something (rw->writes moved). */
static void fuzz_image_reset(const char *who, unsigned sectors, struct disk *rw)
{
	static uint64_t writes_seen = UINT64_MAX;
	if (rw->writes == writes_seen)
		return;
	uint8_t sector[HV_SECTOR_SIZE];
	for (unsigned s = 0; s < sectors; s++) {
		memset(sector, (int)s, sizeof(sector));
		if (pwrite(rw->fd, sector, sizeof(sector), (off_t)s * HV_SECTOR_SIZE) !=
		    (ssize_t)sizeof(sector))
			fuzz_image_die(who, "cannot rewrite the temporary image");
	}
	writes_seen = rw->writes;
}

#endif
