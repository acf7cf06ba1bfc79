/*
 * virtio_blk.c - the virtio block device: one request = header, data, status byte.
 *
 * Concept: where the ATA controller makes the guest move every 512-byte sector through a
 * data port (an exit per 2 bytes), a virtio-blk request is a descriptor chain the driver
 * built in its RAM: a 16-byte header (what to do), the data buffers, and one status byte for
 * the answer. hv reads the header, moves the data straight between guest RAM and the image
 * file (no copy through a device buffer), writes the status and returns the chain.
 * Textbook: chapter 4 "Two I/O paths", section "One request, step by step"; virtio 1.1,
 * section 5.2 "Block Device".
 *
 * Layout of a request (virtio 1.1, 5.2.6), as byte streams over the chain rather than as
 * "descriptor 0 is the header" (the spec forbids assuming a layout, 2.6.4 "Message Framing"):
 *
 *   device-readable bytes:  le32 type, le32 reserved, le64 sector   (16 bytes, the header)
 *                           then the data of an OUT (write) request
 *   device-writable bytes:  the data of an IN (read) or GET_ID request
 *                           then u8 status: the LAST writable byte of the chain (B12: it may
 *                           share its descriptor with data)
 *
 * Config space (5.2.4), at window offset 0x100, little-endian, read-only:
 *   +0   le64 capacity   in 512-byte sectors, whatever blk_size says
 *   +8   le32 size_max   0 (SIZE_MAX not offered: any segment size is fine)
 *   +12  le32 seg_max    126 = VIRTQ_NUM_MAX - 2 data segments (header and status take two
 *                        descriptors; without INDIRECT a chain cannot exceed the queue size)
 *   +16  geometry        0 (GEOMETRY not offered)
 *   +20  le32 blk_size   512
 *   the rest of the 256 bytes reads 0.
 *
 * Offered features: VERSION_1, SEG_MAX, BLK_SIZE, FLUSH, and RO for a read-only image.
 * Not offered: INDIRECT_DESC, EVENT_IDX, packed rings, DISCARD, WRITE_ZEROES, MQ, CONFIG_WCE.
 *
 * Hostile-guest rows (appendix C, C.3), decided like this; every refusal is an HVT_VQ_ERROR
 * with addr = the chain's first buffer, index = head, detail as noted:
 *   B1  fewer than 16 readable bytes (missing, short, or device-writable header): IOERR if a
 *       status byte exists, else nothing written, used len 0.  Header outside RAM is caught
 *       one layer down, as Q6 (the chain is rejected untouched).  detail = readable bytes
 *   B2  no device-writable byte at all (status missing, read-only, or length 0): used len 0,
 *       nothing written (there is nowhere to put a status).  detail = buffers in the chain
 *   B3  sector range beyond the capacity, overflow-safe (disk_range_ok): IOERR.  detail = sector
 *   B4  IN/OUT data length not a multiple of 512: IOERR.  detail = data length
 *   B5  IN with device-readable data, OUT/GET_ID with device-writable data: IOERR; the device
 *       never writes a readable buffer (Q7 guarantees the layout).  detail = type
 *   B6  unknown type (incl. DISCARD, WRITE_ZEROES, B10): UNSUPP.  detail = type
 *   B7  FLUSH with sector != 0 or with data: rejected with IOERR, as rust-vmm does; Linux sends
 *       neither, so tolerating it would only hide driver bugs.  detail = sector
 *   B8  GET_ID with fewer than 20 writable data bytes: IOERR, nothing copied; 20 or more: the
 *       20 ID bytes exactly, never more (Firecracker's rule).  detail = data length
 *   B9  OUT on a read-only disk: IOERR, nothing written.  detail = sector
 *   B11 no allocation: data moves buffer by buffer, straight from guest RAM (gm_ptr'd when the
 *       chain was parsed) into pread/pwrite; only a sector split across two descriptors goes
 *       through the device's one-sector buffer.
 *   B13 disk.c never writes outside the image (it re-checks every range).
 */
#include "virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Request types and status values (virtio 1.1, 5.2.6). IN and OUT are named from the driver's
 * side: IN brings data into the guest (a read), OUT takes it out (a write). The gaps in the
 * numbering belong to types this device does not know, among them DISCARD (11) and WRITE_ZEROES
 * (13): they are answered UNSUPP (B6, B10). The status byte is the only answer a request gets:
 * OK, IOERR (the request was understood and failed, or was malformed) or UNSUPP (the type is
 * unknown). A driver cannot tell a bad sector number from a failed pread; the trace can.
 */
#define VIRTIO_BLK_T_IN     0u
#define VIRTIO_BLK_T_OUT    1u
#define VIRTIO_BLK_T_FLUSH  4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define BLK_HEADER_SIZE 16u
#define BLK_ID_BYTES    20u /* VIRTIO_BLK_ID_BYTES */
/* seg_max in config space: a chain has at most N descriptors (INDIRECT is not offered), and
 * two of them are taken by the header and the status byte. Linux limits its segments by it. */
#define BLK_SEG_MAX     (VIRTQ_NUM_MAX - 2u)

/*
 * The feature bits offered in DeviceFeatures (virtio 1.1, 5.2.3). VERSION_1 (bit 32) says "a
 * virtio 1.x device": the driver must accept it (virtio_mmio.c refuses FEATURES_OK without it).
 * SEG_MAX and BLK_SIZE say the config fields of those names are valid. FLUSH lets the driver
 * send VIRTIO_BLK_T_FLUSH; Linux then treats the disk as having a volatile write cache and
 * sends a flush when a file system asks for durability (textbook ch04 "Cache modes"). RO makes
 * the guest's driver mark the disk read-only; hv refuses writes anyway (B9), because a driver
 * is free to ignore the bit.
 */
uint64_t virtio_blk_features(const struct virtio_blk *b)
{
	uint64_t f = VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
		     VIRTIO_BLK_F_FLUSH;
	if (b->disk->read_only)
		f |= VIRTIO_BLK_F_RO;
	return f;
}

void virtio_blk_config_read(const struct virtio_blk *b, uint64_t off, uint8_t *data,
			    uint32_t size)
{
	/*
	 * The first 24 bytes as the driver sees them, built fresh: nothing to keep in sync. The
	 * transport has checked that [off, off + size) lies inside the 256-byte config space (T2),
	 * and every byte past the 24 reads 0, so no offset the guest picks indexes past cfg.
	 */
	uint8_t cfg[24] = { 0 };
	uint64_t cap = htole64(b->disk->sectors);
	uint32_t seg_max = htole32(BLK_SEG_MAX), blk_size = htole32(HV_SECTOR_SIZE);
	memcpy(cfg + 0, &cap, 8);
	memcpy(cfg + 12, &seg_max, 4);
	memcpy(cfg + 20, &blk_size, 4);
	for (uint32_t i = 0; i < size; i++)
		data[i] = off + i < sizeof(cfg) ? cfg[off + i] : 0;
}

/* ---- byte streams over a chain ------------------------------------------------------------ */

/*
 * A run of bytes over consecutive buffers of a chain: the readable part (header + OUT data)
 * or the writable part (IN data). blk_stream_next hands out one contiguous host piece at a
 * time; the pieces come from gm_ptr over the whole buffer, so each is entirely guest RAM.
 */
/*
 * Why streams rather than "descriptor 1 is the data": Linux puts header, data and status in
 * separate descriptors, but another driver may put the header and the first data bytes in one
 * buffer, or cut the data at any byte. The spec forbids the device to care (2.6.4), so hv reads
 * the request as two byte streams, and a layout it never saw in testing still works.
 */
struct blk_stream {
	const struct virtq_chain *c;
	uint16_t i;    /* current buffer */
	uint32_t off;  /* offset inside it */
	uint64_t left; /* bytes still to hand out */
};

static void blk_stream_init(struct blk_stream *s, const struct virtq_chain *c, uint16_t first,
			    uint32_t skip, uint64_t len)
{
	*s = (struct blk_stream){ .c = c, .i = first, .off = 0, .left = len };
	/* skip whole buffers, then part of one (the header may end inside a buffer) */
	while (skip > 0 && s->i < c->n) {
		uint32_t in_buf = c->buf[s->i].len;
		if (skip < in_buf) {
			s->off = skip;
			break;
		}
		skip -= in_buf;
		s->i++;
	}
}

/*
 * The next piece of at most `max` bytes, or 0 at the end of the stream. Each piece is a host
 * pointer gm_ptr has already checked over the whole buffer (Q6), so whatever the guest wrote
 * in the descriptors, a piece never leaves guest RAM. The loop terminates: it only advances
 * s->i, which is bounded by c->n.
 */
static uint64_t blk_stream_next(struct blk_stream *s, uint8_t **p, uint64_t max)
{
	while (s->left > 0 && s->i < s->c->n && s->off == s->c->buf[s->i].len) {
		s->i++;
		s->off = 0;
	}
	if (s->left == 0 || s->i >= s->c->n)
		return 0;
	uint64_t n = s->c->buf[s->i].len - s->off;
	if (n > s->left)
		n = s->left;
	if (n > max)
		n = max;
	*p = s->c->buf[s->i].host + s->off;
	s->off += (uint32_t)n;
	s->left -= n;
	return n;
}

/* Copy between a stream and a device-side buffer (header, GET_ID). */
static void blk_stream_copy(struct blk_stream *s, uint8_t *dev, uint64_t len, bool to_guest)
{
	uint8_t *p;
	uint64_t n;
	while (len > 0 && (n = blk_stream_next(s, &p, len)) > 0) {
		if (to_guest)
			memcpy(p, dev, n);
		else
			memcpy(dev, p, n);
		dev += n;
		len -= n;
	}
}

/* ---- moving sectors ----------------------------------------------------------------------- */

static int blk_disk_io(struct virtio_blk *b, bool write, uint64_t sector, uint8_t *buf,
		       uint64_t nsect)
{
	return write ? disk_write(b->disk, sector, buf, nsect) : disk_read(b->disk, sector, buf, nsect);
}

/*
 * Move `s->left` bytes (a multiple of 512, checked by the caller) starting at `sector`.
 * Whole sectors inside one buffer go straight between guest RAM and the file, one system call
 * per buffer. A sector that straddles two buffers (a driver may cut its buffers anywhere) goes
 * through b->sector_buf: read whole before being scattered, or gathered whole before being
 * written. Memory used: one sector, whatever the guest asks (B11).
 *
 * "Straight between guest RAM and the file" is the point of para-virtualization: pread writes
 * the guest's buffer directly, one system call per buffer, and the whole request costs the
 * guest one doorbell exit, where the ATA drive needs an exit per word written (textbook
 * ch04 "Counting the difference"). A
 * second vCPU may change a buffer while pwrite reads it; that only changes what the guest
 * writes to its own disk, which it could do anyway.
 */
static int blk_transfer(struct virtio_blk *b, struct blk_stream *s, uint64_t sector, bool write)
{
	uint32_t pending = 0; /* bytes of the current straddling sector already moved */
	uint8_t *p;
	uint64_t n;
	while ((n = blk_stream_next(s, &p, UINT64_MAX)) > 0) {
		while (n > 0) {
			if (pending == 0 && n >= HV_SECTOR_SIZE) {
				uint64_t whole = n / HV_SECTOR_SIZE;
				int rc = blk_disk_io(b, write, sector, p, whole);
				if (rc < 0)
					return rc;
				sector += whole;
				p += whole * HV_SECTOR_SIZE;
				n -= whole * HV_SECTOR_SIZE;
				continue;
			}
			if (pending == 0 && !write) {
				int rc = disk_read(b->disk, sector, b->sector_buf, 1);
				if (rc < 0)
					return rc;
			}
			uint32_t take = HV_SECTOR_SIZE - pending;
			if (take > n)
				take = (uint32_t)n;
			if (write)
				memcpy(b->sector_buf + pending, p, take);
			else
				memcpy(p, b->sector_buf + pending, take);
			pending += take;
			p += take;
			n -= take;
			if (pending == HV_SECTOR_SIZE) {
				if (write) {
					int rc = disk_write(b->disk, sector, b->sector_buf, 1);
					if (rc < 0)
						return rc;
				}
				sector++;
				pending = 0;
			}
		}
	}
	return 0;
}

/* ---- one request -------------------------------------------------------------------------- */

/* What a request turned out to be, after the header was read. All of it comes from the local
 * copy of the header and from the chain hv parsed, never again from guest RAM (Q11). */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	uint64_t out_bytes; /* readable bytes after the header */
	uint64_t in_bytes;  /* writable bytes before the status byte */
};

/* A request-level refusal: traced and counted like the ring's own errors, so one counter
 * (stats.errors) and one `grep B` in the trace dump find them all (appendix C, C.3). */
static void blk_error(struct virtio_blk *b, const struct virtq_chain *c, enum hvt_vq_error err,
		      uint64_t detail)
{
	virtq_error(&b->vq, c->n ? c->buf[0].gpa : 0, err, c->head, detail);
}

/*
 * IN (read): sectors from the image into the device-writable buffers. Every check comes before
 * the first byte moves, so a refused request leaves the guest's buffers as they were. The
 * sector count is the data length / 512: a virtio-blk request carries no count of its own, the
 * buffers are the count.
 */
static uint8_t blk_in(struct virtio_blk *b, const struct virtq_chain *c, const struct blk_req *r,
		      uint32_t *written)
{
	if (r->out_bytes != 0) {
		blk_error(b, c, HVT_VQE_BLK_DIRECTION, r->type); /* B5 */
		return VIRTIO_BLK_S_IOERR;
	}
	if (r->in_bytes % HV_SECTOR_SIZE != 0) {
		blk_error(b, c, HVT_VQE_BLK_LENGTH, r->in_bytes); /* B4 */
		return VIRTIO_BLK_S_IOERR;
	}
	uint64_t nsect = r->in_bytes / HV_SECTOR_SIZE;
	if (!disk_range_ok(b->disk, r->sector, nsect)) {
		blk_error(b, c, HVT_VQE_BLK_RANGE, r->sector); /* B3 */
		return VIRTIO_BLK_S_IOERR;
	}
	struct blk_stream s;
	blk_stream_init(&s, c, c->nread, 0, r->in_bytes);
	if (blk_transfer(b, &s, r->sector, false) < 0) {
		blk_error(b, c, HVT_VQE_BLK_IO, r->sector);
		return VIRTIO_BLK_S_IOERR;
	}
	b->stats.bytes += r->in_bytes;
	*written = (uint32_t)r->in_bytes; /* < 2^32: the chain's total length was checked (Q5) */
	return VIRTIO_BLK_S_OK;
}

/*
 * OUT (write): the device-readable data after the header into the image. The read-only check
 * comes before the range check, so a write to a read-only disk is B9 wherever it points.
 */
static uint8_t blk_out(struct virtio_blk *b, const struct virtq_chain *c, const struct blk_req *r)
{
	if (r->in_bytes != 0) {
		blk_error(b, c, HVT_VQE_BLK_DIRECTION, r->type); /* B5 */
		return VIRTIO_BLK_S_IOERR;
	}
	if (r->out_bytes % HV_SECTOR_SIZE != 0) {
		blk_error(b, c, HVT_VQE_BLK_LENGTH, r->out_bytes); /* B4 */
		return VIRTIO_BLK_S_IOERR;
	}
	if (b->disk->read_only) {
		blk_error(b, c, HVT_VQE_BLK_READ_ONLY, r->sector); /* B9 */
		return VIRTIO_BLK_S_IOERR;
	}
	uint64_t nsect = r->out_bytes / HV_SECTOR_SIZE;
	if (!disk_range_ok(b->disk, r->sector, nsect)) {
		blk_error(b, c, HVT_VQE_BLK_RANGE, r->sector); /* B3 */
		return VIRTIO_BLK_S_IOERR;
	}
	struct blk_stream s;
	blk_stream_init(&s, c, 0, BLK_HEADER_SIZE, r->out_bytes);
	if (blk_transfer(b, &s, r->sector, true) < 0) {
		blk_error(b, c, HVT_VQE_BLK_IO, r->sector);
		return VIRTIO_BLK_S_IOERR;
	}
	b->stats.bytes += r->out_bytes;
	return VIRTIO_BLK_S_OK;
}

/*
 * FLUSH: make everything written so far durable (fdatasync, per the cache mode). Offered with
 * VIRTIO_BLK_F_FLUSH; the request is a header and a status byte, nothing between (B7). Its
 * OK is the driver's promise that earlier completed writes survive a host crash.
 */
static uint8_t blk_flush(struct virtio_blk *b, const struct virtq_chain *c,
			 const struct blk_req *r)
{
	if (r->sector != 0 || r->out_bytes != 0 || r->in_bytes != 0) {
		blk_error(b, c, HVT_VQE_BLK_FLUSH, r->sector); /* B7 */
		return VIRTIO_BLK_S_IOERR;
	}
	if (disk_flush(b->disk) < 0) {
		blk_error(b, c, HVT_VQE_BLK_IO, 0);
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * GET_ID: the disk's serial, 20 bytes, NUL-padded (not NUL-terminated when 20 long). Linux
 * sends it when something reads /sys/block/vda/serial; hvlab's guest driver sends it too, the
 * virtio counterpart of ATA's IDENTIFY (which is why hv counts one request more than the
 * guest, textbook ch04 "Full virtualization: the legacy ATA disk"). The copy is exactly 20
 * bytes into the writable stream, so a longer buffer gets nothing past them (B8).
 */
static uint8_t blk_get_id(struct virtio_blk *b, const struct virtq_chain *c,
			  const struct blk_req *r, uint32_t *written)
{
	if (r->out_bytes != 0) {
		blk_error(b, c, HVT_VQE_BLK_DIRECTION, r->type); /* B5 */
		return VIRTIO_BLK_S_IOERR;
	}
	if (r->in_bytes < BLK_ID_BYTES) {
		blk_error(b, c, HVT_VQE_BLK_GET_ID, r->in_bytes); /* B8 */
		return VIRTIO_BLK_S_IOERR;
	}
	uint8_t id[BLK_ID_BYTES] = { 0 };
	memcpy(id, b->disk->serial, strnlen(b->disk->serial, BLK_ID_BYTES));
	struct blk_stream s;
	blk_stream_init(&s, c, c->nread, 0, BLK_ID_BYTES);
	blk_stream_copy(&s, id, BLK_ID_BYTES, true);
	*written = BLK_ID_BYTES;
	return VIRTIO_BLK_S_OK;
}

/*
 * Read the header once into a local (Q11): a guest that rewrites it afterwards changes
 * nothing. Returns false (B1) if the chain has fewer than 16 device-readable bytes.
 *
 * `sector` is always in 512-byte units, whatever blk_size says (virtio 1.1, 5.2.6). The header
 * is little-endian on every host (a virtio 1.x rule; legacy devices used the guest's order).
 */
static bool blk_read_header(const struct virtq_chain *c, struct blk_req *r)
{
	if (c->readable_bytes < BLK_HEADER_SIZE)
		return false;
	uint8_t h[BLK_HEADER_SIZE];
	struct blk_stream s;
	blk_stream_init(&s, c, 0, 0, BLK_HEADER_SIZE);
	blk_stream_copy(&s, h, BLK_HEADER_SIZE, false);
	uint32_t type;
	uint64_t sector;
	memcpy(&type, h + 0, 4);
	memcpy(&sector, h + 8, 8); /* h + 4: le32 reserved (was "ioprio"), ignored */
	r->type = le32toh(type);
	r->sector = le64toh(sector);
	r->out_bytes = c->readable_bytes - BLK_HEADER_SIZE;
	r->in_bytes = c->writable_bytes - 1u; /* the caller checked there is a status byte */
	return true;
}

/*
 * One parsed chain as a block request. The return value becomes the used element's len: the
 * number of bytes the device wrote into the chain, data plus the status byte (virtio 1.1,
 * 2.6.8), 0 when not even a status could be written. The caller, vm_process in virtio_mmio.c,
 * holds the device lock and pushes the chain to the used ring afterwards.
 */
uint32_t virtio_blk_execute(struct virtio_blk *b, const struct virtq_chain *c)
{
	/* B2: the status is the last device-writable byte. No writable byte: nowhere to answer,
	 * so nothing is written and the chain goes back with used len 0. */
	if (c->writable_bytes == 0) {
		blk_error(b, c, HVT_VQE_BLK_STATUS, c->n);
		return 0;
	}
	const struct virtq_buf *last = &c->buf[c->n - 1];
	uint8_t *status = last->host + last->len - 1; /* len >= 1: zero-length bufs were dropped */

	struct blk_req r;
	if (!blk_read_header(c, &r)) {
		blk_error(b, c, HVT_VQE_BLK_HEADER, c->readable_bytes); /* B1 */
		*status = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	b->stats.requests++;
	trace_device(b->trace, HVT_VQ, HVT_VQ_REQUEST, b->vq.index, r.sector,
		     r.out_bytes + r.in_bytes, c->head, r.type);
	b->disk->trace_head = c->head; /* the HVT_DISK records of this request name it */

	uint32_t written = 0;
	uint8_t st;
	switch (r.type) {
	case VIRTIO_BLK_T_IN: st = blk_in(b, c, &r, &written); break;
	case VIRTIO_BLK_T_OUT: st = blk_out(b, c, &r); break;
	case VIRTIO_BLK_T_FLUSH: st = blk_flush(b, c, &r); break;
	case VIRTIO_BLK_T_GET_ID: st = blk_get_id(b, c, &r, &written); break;
	default:
		blk_error(b, c, HVT_VQE_BLK_UNSUPP, r.type); /* B6, B10 */
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	/* Data first, status last: the driver may look at the status as soon as it sees the
	 * used entry, and the used entry is published after this (virtq_push's fence). */
	*status = st;
	return (st == VIRTIO_BLK_S_OK ? written : 0) + 1u;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

struct virtio_blk *virtio_blk_create(const struct guest_mem *mem, struct disk *disk)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	/* The lock serialises the vCPU thread (register accesses) and, with --ioeventfd, the I/O
	 * thread that runs doorbells (hv/iothread.c): both end up in vm_process. */
	int rc = pthread_mutex_init(&b->lock, NULL);
	if (rc != 0) {
		free(b);
		errno = rc;
		return NULL;
	}
	b->mem = mem;
	b->disk = disk;
	/* This disk hangs on the virtio controller: its HVT_DISK records say so. */
	disk->trace_dev = HVT_DISK_VIRTIO;
	/* Queue 0 starts not ready; the driver configures it through virtio_mmio.c. Nothing is
	 * allocated from here on (appendix C, T10 and R2). */
	virtq_init(&b->vq, mem, NULL, 0);
	return b;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void virtio_blk_set_trace(struct virtio_blk *b, struct trace_writer *t)
{
	pthread_mutex_lock(&b->lock);
	b->trace = t;
	b->vq.trace = t;
	pthread_mutex_unlock(&b->lock);
}

void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->stats;
	out->errors = b->vq.errors;
	pthread_mutex_unlock(&b->lock);
}
