/*
 * fuzz_tracepage.c - libFuzzer target: a hostile guest kernel owning its trace page.
 *
 * Concept: the para-virtual trace page (hv/pvtrace.h) is guest memory that hv reads at every
 * exit; the guest can write anything there, at any time, between two exits. The fuzzer plays
 * such a guest: its input is a script of "write these bytes into the page, register this
 * address, let an exit happen with this clock", and AddressSanitizer turns any read or write
 * outside the synthetic guest RAM into a crash. After every drain the invariants of
 * hv/tracepage.c must hold: at most 64 records per exit, hv's tail never more than 64 behind
 * the guest's head when the header is good, and trace time never going backwards.
 * Build and run: make fuzz-tracepage   (clang; not part of `make test`)
 * Textbook: chapter 5 "A guest OS", section "Seeing ring changes: the trace page".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestmem.h"
#include "pvtrace.h"
#include "trace_write.h"
#include "tracepage.h"

#define FUZZ_RAM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
		v |= (uint64_t)**p << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static char path[64];
	if (!ram) {
		ram = malloc(FUZZ_RAM);
		snprintf(path, sizeof path, "/tmp/fuzz-tracepage-%d.hvt", (int)getpid());
	}
	memset(ram, 0, FUZZ_RAM);
	struct guest_mem gm = { .slots = { { .gpa = 0, .size = FUZZ_RAM, .host = ram } }, .nslots = 1 };
	char err[256];
	struct trace_writer *tw = trace_create(path, HVT_HOST_UNKNOWN, "fuzz", err, sizeof err);
	if (!tw)
		abort();
	struct tracepage tp;
	tracepage_init(&tp, &gm, tw);
	/* A valid header at 0x1000 to start from, so the fuzzer reaches the drain quickly. */
	struct hv_pvtrace_header h = { .magic = HV_PVTRACE_MAGIC, .version = HV_PVTRACE_VERSION,
				       .record_size = HV_PVTRACE_REC_SIZE, .capacity = HV_PVTRACE_CAPACITY };
	memcpy(ram + 0x1000, &h, sizeof h);
	uint64_t now = 1000, last = 0;
	const uint8_t *p = data;
	size_t n = size;
	while (n) {
		switch (take(&p, &n, 1) % 4) {
		case 0: { /* the guest writes up to 64 bytes anywhere in its page (or near it) */
			uint64_t off = take(&p, &n, 2) % (FUZZ_RAM - 64);
			unsigned len = (unsigned)take(&p, &n, 1) % 65;
			for (unsigned i = 0; i < len && n; i++)
				ram[off + i] = (uint8_t)take(&p, &n, 1);
			break;
		}
		case 1: { /* OUT32 to the port: any address, any width */
			uint8_t b[4];
			uint32_t a = (uint32_t)take(&p, &n, 4);
			memcpy(b, &a, 4);
			unsigned width = 1u << (take(&p, &n, 1) % 3);
			tracepage_ops.write(&tp, 0, b, width);
			break;
		}
		default: { /* an exit: hv drains with some clock */
			struct tracepage_clock clk = {
				.guest_tsc = take(&p, &n, 8), .tsc_khz = (uint32_t)take(&p, &n, 4),
				.floor_ns = now, .ceil_ns = now + take(&p, &n, 2),
			};
			clk.now_ns = clk.ceil_ns + take(&p, &n, 2);
			uint64_t before = tp.records;
			tracepage_drain(&tp, &clk);
			if (tp.records - before > HV_PVTRACE_CAPACITY)
				abort(); /* more than one page's worth from one drain */
			if (tp.last_ns < last)
				abort(); /* trace time went backwards */
			last = tp.last_ns;
			now = clk.ceil_ns + 1;
			break;
		}
		}
	}
	trace_close(tw, err, sizeof err);
	unlink(path);
	return 0;
}
