/*
 * trace_dump.h - `hv trace dump`: every record as one line of words, or one JSON object.
 *
 * Concept: the trace is the truth, and a dump is the truth in text: every field, in file order,
 * in the vocabulary of trace_names.h. hvviz's timeline and search print the same line, so a
 * screen can always be checked against `hv trace dump`.
 * Textbook: appendix A "The trace format", section A.12 "Example"; chapter 6 "Watching it happen".
 */
#ifndef HV_TRACE_DUMP_H
#define HV_TRACE_DUMP_H

#include <stddef.h>
#include <stdio.h>

#include "trace_read.h"

/* `hv trace dump`: every record of a loaded trace. json: one JSON object per line. */
void trace_print_dump(FILE *out, const struct trace_file *tf, int json);
/* One record as `hv trace dump` prints it, without the newline, into buf (always terminated;
 * cut at len - 1 bytes). hvviz's timeline and search use the same words. */
void trace_format_record(char *buf, size_t len, const struct hvt_record *r);

#endif
