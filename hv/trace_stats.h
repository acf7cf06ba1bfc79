/*
 * trace_stats.h - `hv trace stats`: a loaded trace turned into the answers a performance
 * engineer asks first (which exits, how often, how long, caused by which port; what KVM counted).
 * Textbook: appendix A, section A.11 "How `hv trace stats` is computed"; chapter 3 "Exits",
 * section "Counting exits".
 */
#ifndef HV_TRACE_STATS_H
#define HV_TRACE_STATS_H

#include <stdio.h>

#include "trace_read.h"

/* The whole report for a loaded, checked trace (trace_load). */
void trace_print_stats(FILE *out, const struct trace_file *tf);

#endif
