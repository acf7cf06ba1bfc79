/*
 * model.c - hvviz's trace model: map a trace file, check every record once, index it.
 *
 * Concept: memory-mapped files and the page cache. A 10-million-event trace is 640 MB; decoding
 * it into a malloc'd array (what `hv trace` does once it has mapped it) would cost 640 MB of our
 * own memory and a second of copying before the first screen appears. Instead the file is mmap'ed: the kernel
 * gives us an address range backed by the file itself, a page is read from the page cache only
 * when we touch it, and a page we stopped using can be handed back at once (madvise
 * MADV_DONTNEED) because the kernel can always re-read it from the file. So the model does one
 * pass over the file in 16 MB chunks, checks each record with hv's own rules
 * (trace_record_check), feeds a small index (statistics, disk requests, virtqueue checkpoints)
 * and lets go of each chunk behind it. What stays is the mapping: any record can be decoded
 * again later in nanoseconds (model_get), without holding the file in our memory.
 * Textbook: appendix A "The trace format"; chapter 6 "Watching it happen", section "Opening a
 * big trace".
 */
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "pvtrace.h"
#include "tracepage.h"   /* TRACEPAGE_LEN: the ports the trace-page device answers */
#include "dev/ata.h"     /* ATA_CMD_LEN, ATA_CTL_LEN */
#include "dev/debugcon.h" /* DEBUGCON_LEN */
#include "dev/exitdev.h"  /* EXITDEV_LEN */
#include "dev/acpipm.h"  /* ACPIPM_LEN */
#include "dev/i8042.h"   /* I8042_PORT_LEN */
#include "dev/pic.h"     /* PIC_LEN, ELCR_LEN */
#include "dev/pit.h"     /* PIT_LEN, PIT_PORT61_LEN */
#include "dev/rtc.h"     /* RTC_LEN */
#include "dev/testdev.h" /* TESTDEV_*_LEN */
#include "dev/uart.h"    /* UART_LEN */

/*
 * How much of the file the open scan touches before handing it back. 16 MB is 262144
 * records: big enough that the madvise system call is paid once per quarter million records,
 * small enough that the scan's resident share of the file stays a rounding error next to the
 * 100 MB goal. 16 MB is a multiple of the page size and of the record size, and the header
 * (128 bytes) is a multiple of 64 too, so no record ever straddles two chunks.
 */
#define MODEL_CHUNK ((size_t)16 << 20)

/* ---- which device an exit was for ---- */

/* Is v inside [base, base + len)? Written as a subtraction so base + len cannot overflow. */
static int in_range(uint64_t v, uint64_t base, uint64_t len)
{
	return v >= base && v - base < len;
}

/*
 * The port map of hv's machine, built from the very constants hv registers its devices with
 * (hv/vm.c and hv/irq.c call bus_register with these bases and lengths). If a device moves,
 * hvviz follows without an edit here. Ports are looked up in the order of the table; the
 * ranges do not overlap.
 */
static const struct {
	uint16_t base, len;
	enum viz_dev dev;
} viz_ports[] = {
	{ HV_PORT_UART0, UART_LEN, VIZ_DEV_UART },
	{ HV_PORT_ATA_CMD, ATA_CMD_LEN, VIZ_DEV_ATA },
	{ HV_PORT_ATA_CTL, ATA_CTL_LEN, VIZ_DEV_ATA },
	{ HV_PORT_PIC_MASTER, PIC_LEN, VIZ_DEV_PIC },
	{ HV_PORT_PIC_SLAVE, PIC_LEN, VIZ_DEV_PIC },
	{ HV_PORT_ELCR, ELCR_LEN, VIZ_DEV_PIC },
	{ HV_PORT_PIT, PIT_LEN, VIZ_DEV_PIT },
	{ HV_PORT_PORT61, PIT_PORT61_LEN, VIZ_DEV_PIT },
	{ HV_PORT_RTC, RTC_LEN, VIZ_DEV_RTC },
	{ HV_PORT_I8042_DATA, I8042_PORT_LEN, VIZ_DEV_I8042 },
	{ HV_PORT_I8042_CMD, I8042_PORT_LEN, VIZ_DEV_I8042 },
	{ HV_PORT_ACPI_PM1, ACPIPM_LEN, VIZ_DEV_ACPIPM },
	{ HV_PORT_EXIT, EXITDEV_LEN, VIZ_DEV_EXIT },
	{ HV_PORT_DEBUGCON, DEBUGCON_LEN, VIZ_DEV_DEBUGCON },
	{ HV_PORT_TESTDEV, TESTDEV_PIO_LEN, VIZ_DEV_TESTDEV },
	{ HV_PORT_PVTRACE, TRACEPAGE_LEN, VIZ_DEV_PVTRACE },
	{ HV_PORT_STEPTRAP, 1, VIZ_DEV_STEPTRAP },
};

/*
 * A port exit and an MMIO exit are the same event to the CPU (an access nothing in the guest
 * can complete), but they live in two address spaces: port 0x3F8 and physical address 0x3F8
 * are different things, so the reason picks the table. Only exits have an address worth
 * classifying; for a virtqueue record `addr` is a guest-physical ring address, not a device.
 */
enum viz_dev viz_device_of(const struct hvt_record *r)
{
	if (r->kind != HVT_EXIT || (r->reason != HVT_R_IO && r->reason != HVT_R_MMIO))
		return VIZ_DEV_NONE;
	/* hv itself said no device took it (bus.c found no owner): trust the recorder. */
	if (r->flags & HVT_F_UNCLAIMED)
		return VIZ_DEV_UNCLAIMED;
	if (r->reason == HVT_R_IO) {
		for (size_t i = 0; i < sizeof viz_ports / sizeof viz_ports[0]; i++)
			if (in_range(r->addr, viz_ports[i].base, viz_ports[i].len))
				return viz_ports[i].dev;
		return VIZ_DEV_UNCLAIMED; /* a port no device of hv's machine owns */
	}
	if (in_range(r->addr, HV_MMIO_VIRTIO_BLK, HV_VIRTIO_MMIO_LEN))
		return VIZ_DEV_VIRTIO_BLK;
	if (in_range(r->addr, HV_MMIO_TESTDEV, TESTDEV_MMIO_LEN))
		return VIZ_DEV_TESTDEV;
	return VIZ_DEV_UNCLAIMED;
}

uint64_t model_device_exits(const struct model *m)
{
	return m->stats.exits_by_device[VIZ_DEV_ATA] + m->stats.exits_by_device[VIZ_DEV_VIRTIO_BLK];
}

uint64_t model_other_exits(const struct model *m)
{
	return m->stats.by_kind[HVT_EXIT] - model_device_exits(m);
}

int model_kernel_exits(const struct model *m, uint64_t *out)
{
	uint64_t kvm = m->stats.counters[HVT_C_EXITS], hv = m->stats.by_kind[HVT_EXIT];
	if (m->stats.by_kind[HVT_COUNTER] == 0 || kvm == 0 || kvm < hv)
		return -1;
	*out = kvm - hv;
	return 0;
}

const char *viz_device_name(enum viz_dev d)
{
	static const char *const names[VIZ_DEV_MAX] = {
		[VIZ_DEV_NONE] = "-",            [VIZ_DEV_UART] = "uart",
		[VIZ_DEV_ATA] = "ata",           [VIZ_DEV_VIRTIO_BLK] = "virtio-blk",
		[VIZ_DEV_PIC] = "pic",           [VIZ_DEV_PIT] = "pit",
		[VIZ_DEV_EXIT] = "exit",         [VIZ_DEV_DEBUGCON] = "debugcon",
		[VIZ_DEV_TESTDEV] = "testdev",   [VIZ_DEV_PVTRACE] = "pvtrace",
		[VIZ_DEV_STEPTRAP] = "steptrap", [VIZ_DEV_RTC] = "rtc",
		[VIZ_DEV_I8042] = "i8042",       [VIZ_DEV_ACPIPM] = "acpi-pm1",
		[VIZ_DEV_UNCLAIMED] = "unclaimed",
	};
	return (unsigned)d < VIZ_DEV_MAX ? names[d] : "?";
}

/* ---- statistics ---- */

/* Durations come from the file, and a hostile file may hold 2^64 - 1 in every one: a sum
 * that wraps would show a tiny total, so it sticks at the maximum instead. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/*
 * One checked record into the Stats view's totals. Every index is safe without a check here:
 * trace_record_check has already bounded kind (1..HVT_KIND_MAX) and, per kind, reason (exit
 * reasons, virtqueue, disk and interrupt ops each against their own _MAX), and each table is
 * sized by that same _MAX + 1.
 */
static void stats_add(struct model_stats *s, const struct hvt_record *r)
{
	s->by_kind[r->kind]++;
	/* Duration of the run = the latest instant recorded, as `hv trace stats` computes it
	 * (guest-clock ring records may be placed slightly before the record in front of them). */
	if (r->time_ns > s->last_ns)
		s->last_ns = r->time_ns;
	if (r->kind == HVT_RUN_CALL && !s->seen_run_call) {
		s->seen_run_call = 1;
		s->first_run_call = r->seq;
	}
	if (r->kind == HVT_ENTRY && !s->seen_entry) {
		s->seen_entry = 1;
		s->first_entry = r->seq;
	}
	switch (r->kind) {
	case HVT_ENTRY:
		/* The CPU entered the guest. hv cannot see the instant (HVT_F_TIME_BOUND): the time
		 * is KVM_RUN's call, so guest time is an upper bound that includes KVM's own work. */
		s->in_guest = 1;
		s->last_entry_ns = r->time_ns;
		break;
	case HVT_EXIT:
		s->exits_by_reason[r->reason]++;
		s->exits_by_device[viz_device_of(r)]++;
		s->hv_ns_by_reason[r->reason] = add_sat(s->hv_ns_by_reason[r->reason], r->duration_ns);
		if (s->in_guest && r->time_ns >= s->last_entry_ns)
			s->guest_ns = add_sat(s->guest_ns, r->time_ns - s->last_entry_ns);
		s->in_guest = 0;
		break;
	case HVT_VQ:
		s->vq_by_op[r->reason]++;
		break;
	case HVT_DISK:
		s->disk_by_op[r->reason]++;
		break;
	case HVT_IRQ:
		s->irq_by_op[r->reason]++;
		break;
	case HVT_COUNTER:
		/* addr is the counter's id and is NOT checked by the reader: a newer hv may record
		 * counters we have no slot for. Those are skipped, never indexed with. */
		if (r->addr <= HVT_C_MAX)
			s->counters[r->addr] = r->data;
		break;
	default:
		break;
	}
}

/* ---- the open scan ---- */

/*
 * madvise on bytes [off, off + len) of the mapping, cut at its end. off must be a multiple of
 * the page size (callers pass 0 or a chunk's start): advice applies to whole pages, and the
 * mapping starts on one. Advice is only a hint, so a failure changes nothing we rely on.
 */
static void map_advise(const struct model *m, size_t off, size_t len, int advice)
{
	if (!m->map || off >= m->map_len)
		return;
	if (len > m->map_len - off)
		len = m->map_len - off;
	madvise((void *)(uintptr_t)(m->map + off), len, advice);
}

/*
 * Check and index records [first, end). Reading goes chunk by chunk; when a chunk is done
 * its pages are dropped from our address space with MADV_DONTNEED. For a read-only mapping of
 * a file this loses nothing: the pages stay in the kernel's page cache (so reopening is fast)
 * and the next touch maps them again. What it changes is our resident set: it stays at about
 * one chunk instead of growing to the whole file, which is the difference between 35 MB and
 * 670 MB in `top` for a 10-million-event trace (`make bench`).
 * On success m->count = end. On a bad record m->count stops before it.
 */
static int model_index(struct model *m, uint64_t first, uint64_t end, char *err, size_t errlen)
{
	char why[256];
	uint64_t i = first;
	while (i < end) {
		size_t off = HVT_HEADER_SIZE + (size_t)i * HVT_RECORD_SIZE;
		size_t chunk = off / MODEL_CHUNK * MODEL_CHUNK;
		/* The last record of this chunk + 1, or end. */
		uint64_t stop = (chunk + MODEL_CHUNK - HVT_HEADER_SIZE) / HVT_RECORD_SIZE;
		if (stop > end)
			stop = end;
		for (; i < stop; i++) {
			struct hvt_record r;
			trace_record_parse(m->map + HVT_HEADER_SIZE + i * HVT_RECORD_SIZE, &r);
			if (trace_record_check(&r, i, why, sizeof why) < 0)
				return trace_fail(err, errlen, "'%s': %s (the file is damaged; "
						  "record the run again)", m->path, why);
			stats_add(&m->stats, &r);
			if (requests_add(&m->requests, &r) < 0 || vq_index_add(&m->vq, &r) < 0)
				return trace_fail(err, errlen, "'%s': out of memory indexing record %llu",
						  m->path, (unsigned long long)i);
			m->count = i + 1;
		}
		map_advise(m, chunk, MODEL_CHUNK, MADV_DONTNEED);
	}
	return 0;
}

/* Map (or grow the mapping to) the first len bytes of the file. */
static int model_map(struct model *m, size_t len, char *err, size_t errlen)
{
	void *p;
	if (!m->map)
		/*
		 * PROT_READ + MAP_SHARED: we see the file itself, including what hv appends later
		 * (live mode), and can never change it. No copy is made until a page is touched.
		 * The price of mapping instead of reading: if someone cuts the file while we have
		 * it mapped (re-recording into the same name truncates it), touching a page past
		 * the new end raises SIGBUS. model_refresh notices a shorter file before reading;
		 * a cut between that check and the read is caught by fileguard.h (viz/main.c).
		 */
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, m->fd, 0);
	else
		/* MREMAP_MAYMOVE: the kernel may move the range; model_get always goes through
		 * m->map, so no one keeps an old pointer. */
		p = mremap((void *)(uintptr_t)m->map, m->map_len, len, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return trace_fail(err, errlen, "cannot map '%s' (%zu bytes): %s", m->path, len,
				  strerror(errno));
	m->map = p;
	m->map_len = len;
	return 0;
}

/*
 * The header through hv's reader (trace_read_header: a pread of 128 bytes and hv's own rules),
 * worded for a person looking at hvviz. In live mode it is re-read at every refresh: hv fills
 * in `dropped` when it closes the file.
 */
static int model_read_header(struct model *m, size_t size, char *err, size_t errlen)
{
	char why[256];
	if (trace_read_header(m->fd, size, &m->header, why, sizeof why) == 0)
		return 0;
	/* "'notes.txt' is not an hvlab trace (bad magic); ..." reads better than "...: not". */
	if (strncmp(why, "not ", 4) == 0)
		return trace_fail(err, errlen, "'%s' is %s", m->path, why);
	if (strncmp(why, "unknown version", 15) == 0)
		return trace_fail(err, errlen, "'%s': %s; if a newer hv wrote it, use the hvviz "
				  "built with that hv", m->path, why);
	return trace_fail(err, errlen, "'%s': %s", m->path, why);
}

/* How many whole records a file of `size` bytes holds. Non-live, the rest must be zero. */
static int model_whole_records(const struct model *m, size_t size, uint64_t *n, char *err,
			       size_t errlen)
{
	size_t body = size - HVT_HEADER_SIZE;
	*n = body / HVT_RECORD_SIZE;
	/*
	 * hv flushes whole records (trace_write.c: a 64 KiB buffer of whole records per write()), but a
	 * write can land half-way while we look. Live, that tail simply is not there yet;
	 * otherwise the file ended in the middle of a record (hv was killed during a write, or
	 * the file was cut), and trace_parse's words say so.
	 */
	if (!m->live && body % HVT_RECORD_SIZE != 0)
		return trace_fail(err, errlen, "'%s': truncated: %zu bytes after the last whole "
				  "record (record %llu); hv was stopped while writing it: record "
				  "the run again", m->path, body % HVT_RECORD_SIZE,
				  (unsigned long long)*n);
	return 0;
}

static void model_reset(struct model *m)
{
	memset(m, 0, sizeof *m);
	m->fd = -1;
	requests_init(&m->requests);
	vq_index_init(&m->vq);
}

int model_open(struct model *m, const char *path, int live, char *err, size_t errlen)
{
	model_reset(m);
	snprintf(m->path, sizeof m->path, "%s", path);
	m->live = live;
	/*
	 * The same door as `hv trace` (hv/trace_read.c): opened without blocking, anything but a
	 * regular non-empty file refused at once, then the header, and only then the mapping.
	 */
	char label[sizeof m->path + 2];
	snprintf(label, sizeof label, "'%s'", path);
	size_t size;
	m->fd = trace_open_file(path, label, &size, err, errlen);
	if (m->fd < 0) {
		model_close(m);
		return -1;
	}
	uint64_t n = 0;
	if (model_read_header(m, size, err, errlen) < 0 ||
	    model_whole_records(m, size, &n, err, errlen) < 0)
		goto fail;
	if (n > 0) {
		if (model_map(m, size, err, errlen) < 0)
			goto fail;
		/* Read-ahead hint for the one pass: the kernel reads big blocks ahead of us. */
		map_advise(m, 0, m->map_len, MADV_SEQUENTIAL);
		if (model_index(m, 0, n, err, errlen) < 0)
			goto fail;
		/* From now on the views jump around (a search result, the Compare view): reading
		 * ahead would fetch pages nobody looks at. */
		map_advise(m, 0, m->map_len, MADV_RANDOM);
	}
	requests_finish(&m->requests, m->count, m->stats.last_ns);
	return 0;
fail:
	model_close(m);
	return -1;
}

/*
 * Live mode: hv appends whole 64-byte records while we watch. The file only ever grows while
 * hv writes it; a file that got shorter was re-recorded (O_TRUNC) under us, and its records no
 * longer match our index, so that is an error rather than something to paper over.
 */
int64_t model_refresh(struct model *m, char *err, size_t errlen)
{
	struct stat st;
	if (m->fd < 0)
		return trace_fail(err, errlen, "no trace is open");
	if (fstat(m->fd, &st) < 0)
		return trace_fail(err, errlen, "cannot stat '%s': %s", m->path, strerror(errno));
	size_t size = (size_t)st.st_size;
	uint64_t had = HVT_HEADER_SIZE + m->count * HVT_RECORD_SIZE;
	if (size < had)
		return trace_fail(err, errlen, "'%s' got shorter (%zu bytes, had %llu): it was "
				  "recorded again; open it anew", m->path, size,
				  (unsigned long long)had);
	/* hv writes `dropped` (header offset 96) when it closes the trace: read it again. */
	if (model_read_header(m, size, err, errlen) < 0)
		return -1;
	uint64_t n = 0, before = m->count;
	if (model_whole_records(m, size, &n, err, errlen) < 0)
		return -1;
	if (n == before)
		return 0;
	if (size > m->map_len && model_map(m, size, err, errlen) < 0)
		return -1;
	int rc = model_index(m, before, n, err, errlen);
	/* Even after a bad record, what was checked stays usable: close the last request there. */
	requests_finish(&m->requests, m->count, m->stats.last_ns);
	if (rc < 0)
		return -1;
	return (int64_t)(n - before);
}

void model_close(struct model *m)
{
	if (m->map)
		munmap((void *)(uintptr_t)m->map, m->map_len);
	if (m->fd >= 0)
		close(m->fd);
	requests_free(&m->requests);
	vq_index_free(&m->vq);
	/* Empty again rather than dangling, so closing twice (or after a failed open) is safe. */
	requests_init(&m->requests);
	vq_index_init(&m->vq);
	m->map = NULL;
	m->map_len = 0;
	m->fd = -1;
	m->count = 0;
}

/* ---- reading records back ---- */

void model_get(const struct model *m, uint64_t i, struct hvt_record *out)
{
	/* A view asking past the end gets an all-zero record (kind 0, which no valid record has),
	 * never a read outside the mapping. */
	if (!m->map || i >= m->count) {
		memset(out, 0, sizeof *out);
		return;
	}
	trace_record_parse(m->map + HVT_HEADER_SIZE + i * HVT_RECORD_SIZE, out);
}

/*
 * Why trimming is needed at all: one page fault maps more than the page that was touched.
 * The kernel maps the neighbouring pages it already has ("fault-around", 64 KB), and when the
 * page cache holds the file in large pieces (folios of up to 2 MB, which readahead of a big
 * file creates: "FileHugePages" in /proc/meminfo) it maps the whole piece. A thousand jumps
 * around a 640 MB trace can so map the whole file: harmless for the machine (clean file pages
 * the kernel may take back whenever it likes), but `top` would show hvviz at 640 MB. Dropping
 * the mappings costs a walk of our page tables; the next screen faults in the few it needs.
 */
void model_trim(const struct model *m)
{
	map_advise(m, 0, m->map_len, MADV_DONTNEED);
}

/*
 * A linear scan: the only way to find "the next exit to port 0x1F7" is to look at every record
 * on the way, so a search through 10 million records takes a noticeable fraction of a second
 * (the callers say "searching..."). Like the open scan, it gives each 16 MB chunk back once
 * it has passed, so even a search across the whole trace leaves our memory as it was.
 */
uint64_t model_find(const struct model *m, uint64_t from, int dir,
		    int (*match)(const struct hvt_record *r, void *arg), void *arg)
{
	if (m->count == 0 || dir == 0)
		return MODEL_NONE;
	uint64_t i;
	if (dir > 0) {
		i = from + 1; /* MODEL_NONE + 1 wraps to 0: "from before the start" */
		if (from == MODEL_NONE)
			i = 0;
	} else {
		if (from == 0)
			return MODEL_NONE;
		/* MODEL_NONE or past the end: "from after the end", so the last record is first */
		i = from > m->count ? m->count - 1 : from - 1;
	}
	/* Start from nothing mapped, so a search ends with at most one chunk resident. */
	model_trim(m);
	map_advise(m, 0, m->map_len, MADV_SEQUENTIAL);
	uint64_t found = MODEL_NONE;
	size_t last_chunk = (HVT_HEADER_SIZE + (size_t)i * HVT_RECORD_SIZE) / MODEL_CHUNK;
	while (i < m->count) {
		struct hvt_record r;
		size_t chunk = (HVT_HEADER_SIZE + (size_t)i * HVT_RECORD_SIZE) / MODEL_CHUNK;
		if (chunk != last_chunk) {
			map_advise(m, last_chunk * MODEL_CHUNK, MODEL_CHUNK, MADV_DONTNEED);
			last_chunk = chunk;
		}
		model_get(m, i, &r);
		if (match(&r, arg)) {
			found = i;
			break;
		}
		if (dir < 0 && i == 0)
			break;
		i += dir > 0 ? 1 : (uint64_t)-1;
	}
	map_advise(m, 0, m->map_len, MADV_RANDOM);
	return found;
}
