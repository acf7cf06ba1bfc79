/*
 * fuzz_trace.c - libFuzzer target: any byte string given to the trace reader and printers.
 *
 * Concept: a trace file is input from outside (a classmate's file, a corrupted disk, a crafted
 * attack on a tool that reads traces). The reader must reject every malformed file with a
 * message, never crash, never read outside the buffer, never allocate more than the input
 * justifies; and whatever it accepts, `stats` and `dump` must print without tripping a
 * sanitizer. libFuzzer mutates inputs towards new code paths; AddressSanitizer and
 * UndefinedBehaviorSanitizer turn silent memory errors into crashes it can report.
 * Build and run: make -f tests/fuzz/fuzz.mk fuzz-trace   (clang; not part of `make test`)
 * Textbook: appendix A "The trace format", section "Validation rules";
 * textbook appendix C, R6 (files from outside are validated like guest input).
 */
#include "trace_read.h"
#include "trace_dump.h"
#include "trace_stats.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Printed output goes nowhere; the printers still format every field. */
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");

	struct trace_file tf;
	char err[256];
	memset(err, 'x', sizeof err);
	if (trace_parse(data, size, &tf, err, sizeof err) == 0) {
		trace_print_stats(sink, &tf);
		trace_print_dump(sink, &tf, 0);
		trace_print_dump(sink, &tf, 1);
		trace_free(&tf);
	} else {
		/* A rejection must say why, in one line, and leave nothing allocated. */
		if (err[0] == 'x' || strchr(err, '\n') || tf.records || tf.count)
			__builtin_trap();
	}
	return 0;
}
