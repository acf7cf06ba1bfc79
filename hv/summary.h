/*
 * summary.h - the end-of-run summary on stderr (hv run without --quiet): exits by reason, time
 * in the guest and in hv, exits per request. Textbook: chapter 4 "Two I/O paths", section
 * "Counting the difference".
 */
#ifndef HV_SUMMARY_H
#define HV_SUMMARY_H

#include <stdio.h>

struct vm;

void summary_print(FILE *out, const struct vm *vm);

#endif
