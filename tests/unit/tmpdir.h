/*
 * tmpdir.h - a private temporary directory for unit tests that write files (traces).
 *
 * Criterion runs every test in its own process, so each test gets a fresh directory from
 * tmpdir_setup (a suite's .init) and loses it in tmpdir_teardown (.fini), files and one level
 * of subdirectories included. Shared by test_trace.c and test_model.c.
 */
#ifndef TESTS_UNIT_TMPDIR_H
#define TESTS_UNIT_TMPDIR_H

#include <stddef.h>

void tmpdir_setup(void);
void tmpdir_teardown(void);
/* NAME inside the directory, written into buf. */
const char *tmp_path(char *buf, size_t len, const char *name);

#endif
