/*
 * gen_trace_corpus.c - writes the seed traces the trace fuzzer starts from.
 *
 * Concept: a coverage-guided fuzzer mutates inputs it already has. Starting from real traces
 * (made by the real writer) lets it reach the record checks and the stats code at once
 * instead of spending its first minutes rediscovering the magic "HVLTRACE".
 * Usage: gen_trace_corpus DIR   (make -f tests/fuzz/fuzz.mk fuzz-trace-corpus)
 * The seeds have no .hvt suffix on purpose: .gitignore ignores *.hvt (recorded traces).
 * Textbook: appendix A "The trace format", section "Validation rules".
 */
#include <stdio.h>

#include "trace_write.h"

#include <stdlib.h>

static struct trace_writer *seed_open(const char *dir, const char *name)
{
	char path[512], err[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct trace_writer *t = trace_create(path, HVT_HOST_VMX, "seed.bin", err, sizeof err);
	if (!t) {
		fprintf(stderr, "gen_trace_corpus: %s\n", err);
		exit(1);
	}
	return t;
}

static void seed_close(struct trace_writer *t)
{
	char err[256];
	if (trace_close(t, err, sizeof err) < 0) {
		fprintf(stderr, "gen_trace_corpus: %s\n", err);
		exit(1);
	}
}

/* One round trip through the exit loop: hv calls KVM_RUN, the guest runs, an exit returns. */
static void seed_exit(struct trace_writer *t, uint64_t *now, uint8_t reason, uint64_t addr,
		      uint32_t flags, uint32_t count, uint8_t mode)
{
	struct hvt_record r = { .time_ns = *now, .kind = HVT_RUN_CALL, .mode = mode, .count = 1 };
	trace_emit(t, &r);
	/* Entry and exit happen inside KVM: hv can only bound them by its own instants. */
	r = (struct hvt_record){ .time_ns = *now, .kind = HVT_ENTRY, .mode = mode, .count = 1,
				 .flags = HVT_F_TIME_BOUND };
	trace_emit(t, &r);
	*now += 1500;
	r = (struct hvt_record){ .time_ns = *now, .kind = HVT_EXIT, .reason = reason, .size = 1,
				 .mode = mode, .addr = addr, .data = 0x41, .rip = 0x100010,
				 .count = count, .flags = flags | HVT_F_TIME_BOUND,
				 .duration_ns = 800 };
	trace_emit(t, &r);
	r = (struct hvt_record){ .time_ns = *now, .kind = HVT_RUN_RETURN, .mode = mode, .count = 1 };
	trace_emit(t, &r);
	*now += 800;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_trace_corpus DIR\n");
		return 2;
	}
	/* 1: a header and no records (a run that ended before its first exit). */
	seed_close(seed_open(argv[1], "empty"));

	/* 2: a short run touching every kind, reason class, flag and mode. */
	struct trace_writer *t = seed_open(argv[1], "run");
	uint64_t now = 0;
	seed_exit(t, &now, HVT_R_IO, 0x3f8, HVT_F_WRITE, 1, HVT_MODE_REAL);
	seed_exit(t, &now, HVT_R_IO, 0xe9, HVT_F_WRITE | HVT_F_STRING, 5, HVT_MODE_PROT32);
	seed_exit(t, &now, HVT_R_MMIO, 0xd0000000, 0, 1, HVT_MODE_LONG);
	seed_exit(t, &now, HVT_R_MMIO, 0xd0001000, HVT_F_UNCLAIMED, 1, HVT_MODE_COMPAT);
	seed_exit(t, &now, HVT_R_OTHER, 0, 0, 1, HVT_MODE_PROT16);
	struct hvt_record r = { .time_ns = now, .kind = HVT_GUEST_ERROR, .addr = 0x3f8 };
	trace_emit(t, &r);
	seed_exit(t, &now, HVT_R_HLT, 0, 0, 1, HVT_MODE_LONG);
	for (unsigned c = HVT_C_EXITS; c <= HVT_C_MAX; c++) {
		r = (struct hvt_record){ .time_ns = now, .kind = HVT_COUNTER, .addr = c,
					 .data = 100 * c };
		trace_emit(t, &r);
	}
	seed_close(t);

	/* 3: many exits to one port, as the 'exits' guest makes (crosses no buffer boundary). */
	t = seed_open(argv[1], "port-loop");
	now = 0;
	for (int i = 0; i < 16; i++)
		seed_exit(t, &now, HVT_R_IO, 0x500, HVT_F_WRITE, 1, HVT_MODE_PROT32);
	seed_close(t);
	return 0;
}
