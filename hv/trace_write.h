/*
 * trace_write.h - hv's trace writer: the exit loop and the devices append records to a .hvt file.
 *
 * Concept: measuring without changing what is measured. Every exit that reaches hv becomes four
 * records, so the writer must cost nanoseconds per record: a buffer, one write() per 1024
 * records, no allocation after trace_create. Only hv links it; readers (hvviz, `hv trace`) see
 * the format (trace.h) and the reader (trace_read.h), never this.
 * Textbook: appendix A, section A.10 "How the writer works"; chapter 3 "Exits", section
 * "What an exit costs".
 */
#ifndef HV_TRACE_WRITE_H
#define HV_TRACE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct trace_writer;

/* Create FILE. On failure returns NULL and puts a one-line reason in err. */
struct trace_writer *trace_create(const char *path, enum hvt_host_kind host, const char *guest,
				  char *err, size_t errlen);
/* Append one record; seq is assigned here. Buffered: no system call per record. Thread-safe:
 * the vCPU thread and a device's I/O thread may emit at the same time. t = NULL: no-op. */
void trace_emit(struct trace_writer *t, struct hvt_record *rec);
/*
 * Hold back the records this thread emits until trace_release, which appends them after
 * whatever was emitted with trace_emit_now in between. The exit loop uses it so that device
 * steps done while handling an exit follow that exit's record in the file. At most 1024 are
 * held; more go out at once (in time order still, only before the exit record).
 */
void trace_hold(struct trace_writer *t);
void trace_release(struct trace_writer *t);
/* At most max_bytes of file (header included): later records are counted, not written
 * (hv run --trace-limit). trace_dropped says how many. */
void trace_set_limit(struct trace_writer *t, uint64_t max_bytes);
/* The limit keeps room for HVT_C_MAX records; this releases it (for the end-of-run counters). */
void trace_use_reserve(struct trace_writer *t);
uint64_t trace_dropped(struct trace_writer *t);
/* trace_emit that is never held back (the exit loop's own records). */
void trace_emit_now(struct trace_writer *t, struct hvt_record *rec);
/* Hand the buffered records to the kernel now, not when 1024 have gathered: hv run --viz,
 * where hvviz reads the file while it grows (hv/vizlink.c). t = NULL: no-op. */
void trace_flush_now(struct trace_writer *t);
/* Monotonic nanoseconds since the writer was created (the time_ns of a record); 0 if t is NULL. */
uint64_t trace_now(const struct trace_writer *t);
/* Flush and close. Returns 0, or -1 with a reason in err (disk full, ...). */
int trace_close(struct trace_writer *t, char *err, size_t errlen);

/* A device event (HVT_VQ or HVT_DISK) stamped with the writer's clock. Used by devices, which
 * never see the exit loop. t = NULL: nothing happens. */
void trace_device(struct trace_writer *t, uint8_t kind, uint8_t op, uint8_t queue, uint64_t addr,
		  uint64_t data, uint32_t count, uint64_t arg);
/* The vcpu field of records this thread emits from now on through trace_device (a vCPU index,
 * or HVT_VCPU_IOTHREAD for a device's I/O thread). Default 0. */
void trace_set_thread_id(uint16_t id);
uint16_t trace_thread_id(void);

#endif
