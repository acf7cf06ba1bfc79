/*
 * trace_read.h - reading a .hvt file: every rule of the format checked before a number is believed.
 *
 * Concept: a trace file is input, and input may be hostile (a corrupt file, a fuzzer, a path
 * that is not a file at all, a file another process cuts shorter while we read it). The reader
 * checks what kind of thing the path is and the 128-byte header before touching the records,
 * reads the records with pread (no mapping that could end in SIGBUS), and never allocates more
 * than the file's own length justifies. `hv trace`, hvviz and the tests all
 * open traces through trace_open_file, so all of them refuse a bad input the same way.
 * Textbook: appendix A "The trace format", section A.9 "Validation rules".
 */
#ifndef HV_TRACE_READ_H
#define HV_TRACE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct trace_header {
	uint32_t version;
	uint32_t host_kind;
	uint64_t start_unix_ns;
	uint64_t dropped; /* events past --trace-limit: the file covers the start of the run only */
	char guest[65];
};

struct trace_file {
	struct trace_header header;
	struct hvt_record *records;
	uint64_t count;
};

/*
 * Open, check and decode a whole trace into tf->records (one struct per record). Returns 0, or
 * -1 with a one-line reason in err ("trace 'x': not an hvlab trace (bad magic); ...",
 * "trace 'x': truncated: ...", "trace 'x' is not a regular file; ...", "trace 'x' was
 * truncated while being read: ..."). Nothing is allocated before its header has passed.
 */
int trace_load(const char *path, struct trace_file *out, char *err, size_t errlen);
/* Same, from bytes in memory (used by the loader above and by fuzzers). */
int trace_parse(const uint8_t *buf, size_t len, struct trace_file *out, char *err, size_t errlen);
void trace_free(struct trace_file *tf);
/*
 * The pieces trace_parse is made of, for readers that do not load a whole file (hvviz maps
 * it and checks records as it indexes them, viz/model.c). trace_header_parse checks the
 * first len bytes (len >= HVT_HEADER_SIZE for success) and fills h. trace_record_parse copies
 * one on-disk record (HVT_RECORD_SIZE bytes) into r; trace_record_check applies the per-record
 * rules to that copy, i being its index in the file. Both checks: 0, or -1 with a reason.
 */
int trace_header_parse(const uint8_t *buf, size_t len, struct trace_header *h, char *err,
		       size_t errlen);
void trace_record_parse(const uint8_t *p, struct hvt_record *r);
/* The readers' one-line error: printf into err (when given), return -1. The caller adds its
 * program name ("hv: ", "hvviz: "). */
int trace_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int trace_record_check(const struct hvt_record *r, uint64_t i, char *err, size_t errlen);

/*
 * How every reader opens a trace (`hv trace`, hvviz, the tests), in the order that costs least
 * when the input is wrong:
 *
 * trace_open_file opens PATH without blocking (a FIFO is refused, not waited on) and refuses
 * anything but a regular, non-empty file before one byte is read. label is how messages name
 * the file ("'x.hvt'" or "trace 'x.hvt'"). Returns the descriptor (close it) and the size, or
 * -1 with a one-line reason in err: "cannot open trace 'x': No such file or directory",
 * "'x' is a directory, not a trace; ...".
 *
 * trace_read_header then reads the 128-byte header with pread and checks it
 * (trace_header_parse): a 2 GiB file with a wrong magic costs one small read. On failure the
 * reason in why names no file ("not an hvlab trace (bad magic); ..."): each caller words it.
 *
 * Only after both does a reader look at the records: `hv trace` with trace_read_records,
 * hvviz by mapping the file (viz/model.c).
 *
 * trace_read_records reads and checks the header and records of fd, a file of `size` bytes
 * (the size trace_open_file measured), with pread in 1 MiB pieces, into out (trace_free it).
 * If the file got shorter since it was measured, the read comes back short and the result is
 * -1 with "LABEL was truncated while being read: it ends at byte N, not M (record it again)",
 * never a signal. trace_load is trace_open_file + trace_read_header + this.
 */
int trace_open_file(const char *path, const char *label, size_t *size, char *err, size_t errlen);
int trace_read_header(int fd, size_t size, struct trace_header *h, char *why, size_t whylen);
int trace_read_records(int fd, size_t size, const char *label, struct trace_file *out,
		       char *err, size_t errlen);

#endif
