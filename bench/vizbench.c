/*
 * vizbench.c - can hvviz open a 10-million-event trace in under a second, in under 100 MB?
 *
 * Concept: the cost of looking. A trace of a busy guest grows by 256 bytes per exit, so a
 * minute of disk I/O is millions of events and hundreds of megabytes. A viewer that read it
 * all into memory would need as much memory as the file and seconds before the first screen.
 * hvviz's model (viz/model.c) maps the file instead, checks each record once while building
 * a small index, and hands each 16 MB chunk back to the kernel behind it. This benchmark
 * measures that claim on a synthetic trace of 10,000,000 events (640 MB):
 *
 *   open     wall time of model_open (check + index every record), peak resident memory
 *            (VmHWM) during it, and the model's own heap (request table + virtqueue
 *            checkpoints)
 *   get      1000 model_get calls at random records (what drawing a screen costs)
 *   vqstate  vq_state_at near the end of the trace (the Virtqueue view's jump)
 *   search   one model_find that matches nothing: the worst case of the '/' search
 *
 * The page cache matters more than anything else here: a file the kernel still holds in
 * memory is "read" at memory speed, one that must come from disk at disk speed. Right after
 * the file is generated it is all cached (warm); `vizbench --cold` asks the kernel to drop
 * the file's pages first (posix_fadvise DONTNEED) to show the first-open-after-boot case.
 * The report says which one it measured. Like exitbench, this is a benchmark, not a test:
 * it exits 0 whether or not the goal was met, and says MISSED when it was not.
 * Textbook: chapter 6 "Watching it happen", section "Opening a big trace".
 *
 *   usage: vizbench [--cold] [--events N] [FILE]     (default build/bench/10m.hvt, 10000000)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "model.h"
#include "pvtrace.h"
#include "trace_read.h"
#include "trace_write.h"
#include "vqstate.h"

#define BENCH_GUEST "vizbench"  /* header guest name: marks a file this program generated */
#define GOAL_SECONDS 1.0
#define GOAL_RSS_MB 100.0

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Decimal megabytes, as disks and the goal are quoted (10M x 64 bytes = 640 MB). */
static double mb(uint64_t bytes)
{
	return (double)bytes / 1e6;
}

/* ---- generating the trace ---- */

/*
 * The generator: hv's own trace writer (so the file is exactly what hv writes, 64 KiB per
 * write() system call), a clock that advances by realistic steps, and a cap on the count.
 */
struct gen {
	struct trace_writer *w;
	uint64_t n, left, t;
};

static void emit(struct gen *g, struct hvt_record r, uint64_t dt)
{
	if (g->left == 0)
		return;
	g->t += dt;
	r.time_ns = g->t;
	if (r.mode == 0 && r.kind != HVT_VQ && r.kind != HVT_DISK && r.kind != HVT_IRQ)
		r.mode = HVT_MODE_LONG;
	trace_emit(g->w, &r);
	g->left--;
}

/* One exit's round trip, as hv records it: hv calls KVM_RUN, the CPU enters the guest, the
 * guest exits, KVM_RUN returns (textbook appendix A, "one exit's round trip"). */
static void round_trip(struct gen *g, uint8_t reason, uint64_t addr, int write, uint64_t data,
		       uint64_t guest_ns, uint64_t hv_ns)
{
	emit(g, (struct hvt_record){ .kind = HVT_RUN_CALL, .count = 1,
				     .flags = HVT_F_TIME_BOUND }, 300);
	emit(g, (struct hvt_record){ .kind = HVT_ENTRY, .count = 1, .flags = HVT_F_TIME_BOUND }, 0);
	emit(g, (struct hvt_record){ .kind = HVT_EXIT, .reason = reason, .addr = addr,
				     .data = data, .size = reason == HVT_R_HLT ? 0 : 4,
				     .rip = 0x101000 + (addr & 0xFF), .count = 1,
				     .flags = (write ? HVT_F_WRITE : 0) | HVT_F_TIME_BOUND,
				     .duration_ns = hv_ns }, guest_ns);
	emit(g, (struct hvt_record){ .kind = HVT_RUN_RETURN, .count = 1,
				     .flags = HVT_F_TIME_BOUND }, 0);
	g->t += hv_ns;
}

static void vq(struct gen *g, uint8_t op, uint64_t addr, uint64_t data, uint32_t count,
	       uint64_t arg)
{
	emit(g, (struct hvt_record){ .kind = HVT_VQ, .reason = op, .size = 0, .addr = addr,
				     .data = data, .count = count, .arg = arg }, 150);
}

/* The rings of queue 0 (gpa), with 128 entries: where the diskio guest puts them. */
#define Q_SIZE  128u
#define Q_DESC  0x200000u
#define Q_AVAIL (Q_DESC + 16u * Q_SIZE)
#define Q_USED  0x201000u
#define VIRTIO_REG(off) (HV_MMIO_VIRTIO_BLK + (off))

/*
 * One virtio-blk request the way the diskio guest does it with batch=1: a system call in the
 * guest's task (ring records), the doorbell exit, the device's walk of the rings, the backend
 * pread/pwrite, the used ring, the interrupt, and the driver's acknowledgement (an MMIO read
 * of InterruptStatus, a write of InterruptACK, the PIC's EOI), plus a line of console output
 * every fourth request. About 45 records per request, like a real run.
 */
static void request_round(struct gen *g, uint64_t k)
{
	uint16_t slot = (uint16_t)(k % Q_SIZE), head = (uint16_t)(k * 3 % (Q_SIZE - 2));
	int write = k % 2 == 0;
	uint64_t sector = (k * 8) % 2048;
	emit(g, (struct hvt_record){ .kind = HVT_RING, .reason = HV_PVT_SYSCALL, .cpl = 3,
				     .size = 0, .addr = 0x80, .data = 4, .count = 1,
				     .flags = HVT_F_GUEST_CLOCK }, 2000);
	round_trip(g, HVT_R_MMIO, VIRTIO_REG(0x50), 1, 0, 1500, 2500); /* QueueNotify */
	vq(g, HVT_VQ_NOTIFY, VIRTIO_REG(0x50), 0, 0, 0);
	vq(g, HVT_VQ_AVAIL_IDX, Q_AVAIL + 2, (uint16_t)(k + 1), (uint16_t)k, 0);
	vq(g, HVT_VQ_AVAIL_ENTRY, Q_AVAIL + 4 + 2u * slot, head, slot, 0);
	vq(g, HVT_VQ_DESC, 0x300000, 16, head, 1u | (uint32_t)(head + 1) << 16);
	vq(g, HVT_VQ_DESC, 0x310000 + sector * 512, 4096, head + 1u,
	   (write ? 1u : 3u) | (uint32_t)(head + 2) << 16);
	vq(g, HVT_VQ_DESC, 0x300010, 1, head + 2u, 2u);
	vq(g, HVT_VQ_REQUEST, sector, 4096, head, write ? 1 : 0);
	emit(g, (struct hvt_record){ .kind = HVT_DISK, .reason = write ? HVT_DISK_WRITE :
				     HVT_DISK_READ, .size = HVT_DISK_VIRTIO, .addr = sector * 512,
				     .data = 4096, .count = head, .duration_ns = 15000 }, 15000);
	vq(g, HVT_VQ_USED_ELEM, Q_USED + 4 + 8u * slot, write ? 1 : 4097, slot, head);
	vq(g, HVT_VQ_USED_IDX, Q_USED + 2, (uint16_t)(k + 1), 0, 0);
	vq(g, HVT_VQ_IRQ_RAISE, 0, 1, 0, 0);
	emit(g, (struct hvt_record){ .kind = HVT_IRQ, .reason = HVT_IRQ_LINE,
				     .addr = HV_IRQ_VIRTIO_BLK, .data = 1 }, 100);
	round_trip(g, HVT_R_HLT, 0, 0, 0, 4000, 1000); /* the driver sleeps until the interrupt */
	emit(g, (struct hvt_record){ .kind = HVT_IRQ, .reason = HVT_IRQ_WAKE,
				     .addr = HV_IRQ_VIRTIO_BLK, .data = 20000 }, 100);
	emit(g, (struct hvt_record){ .kind = HVT_IRQ, .reason = HVT_IRQ_INJECT,
				     .addr = HV_IRQ_VIRTIO_BLK, .count = 0x25 }, 100);
	round_trip(g, HVT_R_MMIO, VIRTIO_REG(0x60), 0, 1, 800, 700); /* InterruptStatus */
	round_trip(g, HVT_R_MMIO, VIRTIO_REG(0x64), 1, 1, 300, 900); /* InterruptACK */
	emit(g, (struct hvt_record){ .kind = HVT_IRQ, .reason = HVT_IRQ_LINE,
				     .addr = HV_IRQ_VIRTIO_BLK, .data = 0 }, 100);
	round_trip(g, HVT_R_IO, HV_PORT_PIC_MASTER, 1, 0x20, 200, 600); /* EOI */
	emit(g, (struct hvt_record){ .kind = HVT_RING, .reason = HV_PVT_SYSRET, .cpl = 0,
				     .size = 3, .addr = 0x80, .count = 1,
				     .flags = HVT_F_GUEST_CLOCK }, 500);
	if (k % 4 == 0) {
		round_trip(g, HVT_R_IO, HV_PORT_UART0 + 5, 0, 0x60, 900, 500); /* LSR: room? */
		round_trip(g, HVT_R_IO, HV_PORT_UART0, 1, 'k', 300, 1200);     /* THR */
	}
}

/* The driver's set-up (virtio 1.x, 3.1.1): status bytes, then the queue goes live. */
static void setup(struct gen *g)
{
	static const uint8_t status[] = { 1, 3, 11, 15 }; /* ACK, DRIVER, FEATURES_OK, DRIVER_OK */
	uint8_t old = 0;
	for (size_t i = 0; i < sizeof status; i++) {
		round_trip(g, HVT_R_MMIO, VIRTIO_REG(0x70), 1, status[i], 5000, 2000);
		vq(g, HVT_VQ_STATUS, 0, status[i], 0, old);
		old = status[i];
	}
	round_trip(g, HVT_R_MMIO, VIRTIO_REG(0x44), 1, 1, 3000, 2000); /* QueueReady */
	vq(g, HVT_VQ_READY, Q_DESC, Q_AVAIL, Q_SIZE, Q_USED);
}

static int generate(const char *path, uint64_t n)
{
	char tmp[4200], err[512];
	/* Written under another name and renamed at the end: an interrupted run never leaves a
	 * half-written file under the real name. */
	snprintf(tmp, sizeof tmp, "%s.part", path);
	struct gen g = { .n = n, .left = n };
	g.w = trace_create(tmp, HVT_HOST_VMX, BENCH_GUEST, err, sizeof err);
	if (!g.w) {
		fprintf(stderr, "vizbench: %s\n", err);
		return -1;
	}
	double t0 = now_s();
	setup(&g);
	for (uint64_t k = 0; g.left > 0; k++)
		request_round(&g, k);
	if (trace_close(g.w, err, sizeof err) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "vizbench: %s\n", err[0] ? err : strerror(errno));
		unlink(tmp);
		return -1;
	}
	printf("generated %s: %llu events in %.2f s\n", path, (unsigned long long)n,
	       now_s() - t0);
	return 0;
}

/* Reuse the file if it is the one we would generate: right length, a valid header that
 * names this program, and a last record whose seq is n - 1. */
static int already_there(const char *path, uint64_t n)
{
	struct stat st;
	if (stat(path, &st) < 0 || (uint64_t)st.st_size != HVT_HEADER_SIZE + n * HVT_RECORD_SIZE)
		return 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	uint8_t hdr[HVT_HEADER_SIZE], last[HVT_RECORD_SIZE];
	struct trace_header h;
	struct hvt_record r = { 0 };
	int ok = pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
		 trace_header_parse(hdr, sizeof hdr, &h, NULL, 0) == 0 &&
		 strcmp(h.guest, BENCH_GUEST) == 0 &&
		 pread(fd, last, sizeof last, st.st_size - HVT_RECORD_SIZE) == (ssize_t)sizeof last;
	if (ok)
		trace_record_parse(last, &r);
	close(fd);
	return ok && r.seq == n - 1;
}

static int make_dirs(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* ---- measuring ---- */

/* A "VmHWM:   1234 kB" style line of /proc/self/status, in bytes (0 if missing). */
static uint64_t status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t klen = strlen(key);
	unsigned long long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			sscanf(line + klen + 1, "%llu", &kb);
			break;
		}
	if (f)
		fclose(f);
	return (uint64_t)kb * 1024;
}

/* Start the peak-RSS counter over from the current RSS (Linux >= 4.0: "5" to clear_refs), so
 * VmHWM afterwards is the peak of the open alone. Returns 0 if the kernel allowed it. */
static int hwm_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0)
		return -1;
	int rc = write(fd, "5", 1) == 1 ? 0 : -1;
	close(fd);
	return rc;
}

/* What share of the file the page cache holds right now: mincore on a fresh mapping reports
 * residency without reading anything. */
static double cached_share(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t len = (size_t)st.st_size, page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + page - 1) / page, in = 0;
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char *vec = malloc(pages);
	if (p != MAP_FAILED && vec && mincore(p, len, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
	free(vec);
	if (p != MAP_FAILED)
		munmap(p, len);
	close(fd);
	return 100.0 * (double)in / (double)pages;
}

/* Ask the kernel to forget the file's cached pages (they are clean once synced). */
static void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static int never(const struct hvt_record *r, void *arg)
{
	(void)r;
	(void)arg;
	return 0;
}

/* Where bench_get's records go, so the compiler cannot drop the loop as unused. */
static volatile uint64_t sink;

/* Random records like a person jumping around: xorshift64, fixed seed, so runs compare. */
static double bench_get(const struct model *m, unsigned n)
{
	uint64_t x = 88172645463325252ull;
	double t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		struct hvt_record r;
		model_get(m, x % m->count, &r);
		sink += r.seq;
	}
	return now_s() - t0;
}

static int run(const char *path, uint64_t n, int cold)
{
	if (cold)
		drop_cache(path);
	double cached = cached_share(path);
	int hwm_ok = hwm_reset() == 0;
	uint64_t rss0 = status_kb("VmRSS");

	struct model *m = calloc(1, sizeof *m);
	struct vq_state *st = calloc(1, sizeof *st);
	char err[512];
	if (!m || !st) {
		fprintf(stderr, "vizbench: out of memory\n");
		return -1;
	}
	double t0 = now_s();
	if (model_open(m, path, 0, err, sizeof err) < 0) {
		fprintf(stderr, "vizbench: %s\n", err);
		return -1;
	}
	double open_s = now_s() - t0;
	if (m->count != n)
		fprintf(stderr, "vizbench: %s has %llu events, expected %llu\n", path,
			(unsigned long long)m->count, (unsigned long long)n);
	uint64_t hwm = status_kb("VmHWM"), rss = status_kb("VmRSS");
	uint64_t heap = m->requests.cap * sizeof(struct request) +
			m->vq.cap * sizeof(struct vq_checkpoint);

	double get_s = bench_get(m, 1000);
	uint64_t rss_get = status_kb("VmRSS");
	model_trim(m);
	uint64_t rss_trim = status_kb("VmRSS");
	uint64_t at = m->count > 2 ? m->count - 2 : 0;
	t0 = now_s();
	vq_state_at(m, 0, at, st);
	double vq_s = now_s() - t0;
	t0 = now_s();
	model_find(m, MODEL_NONE, +1, never, NULL);
	double find_s = now_s() - t0;
	uint64_t rss_find = status_kb("VmRSS");

	double peak = mb(hwm);
	int ok = open_s < GOAL_SECONDS && peak < GOAL_RSS_MB;
	printf("\n== hvviz trace model on %s ==\n", path);
	printf("page cache before open: %.0f%% of the file cached (%s)\n", cached,
	       cached >= 99.0 ? "warm: the open read memory, not the disk; the first open after a "
				"reboot also waits for the disk (vizbench --cold)" :
	       cached <= 1.0 ? "cold: the open read the file from disk" : "partly cached");
	printf("open:    %.3f s for %llu events (%.0f MB): %.0f ns per event\n", open_s,
	       (unsigned long long)m->count, mb(m->map_len),
	       open_s * 1e9 / (double)(m->count ? m->count : 1));
	printf("memory:  peak RSS %.1f MB during the open%s (RSS before %.1f MB, after %.1f MB); "
	       "model heap %.1f MB (%zu requests, %zu virtqueue checkpoints)\n", peak,
	       hwm_ok ? "" : " (peak counter not resettable: includes generation)", mb(rss0),
	       mb(rss), mb(heap), m->requests.n, m->vq.n);
	/* Each first touch of a page is a page fault that maps the page cache's whole piece
	 * around it (64 KB, or 2 MB when the kernel cached the file in large folios): 1000
	 * far-apart records can map most of the file until model_trim gives it back. */
	printf("get:     1000 random records in %.3f ms (%.0f ns each, mostly page faults); RSS "
	       "after them %.1f MB, after model_trim %.1f MB\n", get_s * 1e3, get_s * 1e6,
	       mb(rss_get), mb(rss_trim));
	printf("vqstate: queue 0 at event %llu in %.3f ms (replays at most %u records)\n",
	       (unsigned long long)at, vq_s * 1e3, VQ_CHECKPOINT_EVERY - 1);
	printf("search:  a search through every event (no match) in %.3f s; RSS after it %.1f MB\n",
	       find_s, mb(rss_find));
	printf("hvviz open: %llu events (%.0f MB) in %.2f s, peak RSS %.0f MB (goal: < %.0f s, "
	       "< %.0f MB): %s\n", (unsigned long long)m->count, mb(m->map_len), open_s, peak,
	       GOAL_SECONDS, GOAL_RSS_MB, ok ? "OK" : "MISSED");
	model_close(m);
	free(m);
	free(st);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = "build/bench/10m.hvt";
	uint64_t n = 10000000;
	int cold = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cold") == 0)
			cold = 1;
		else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: vizbench [--cold] [--events N] [FILE]\n");
			return 2;
		} else
			path = argv[i];
	}
	if (n == 0) {
		fprintf(stderr, "vizbench: --events must be at least 1\n");
		return 2;
	}
	if (already_there(path, n)) {
		printf("reusing %s (%llu events, generated earlier)\n", path, (unsigned long long)n);
	} else {
		printf("generating %s: %llu events, %.0f MB (once; later runs reuse it)\n", path,
		       (unsigned long long)n, mb(HVT_HEADER_SIZE + n * HVT_RECORD_SIZE));
		if (make_dirs(path) < 0 || generate(path, n) < 0)
			return 1;
	}
	return run(path, n, cold) < 0 ? 1 : 0;
}
