/*
 * tmpdir.c - the unit tests' private temporary directory (tmpdir.h).
 */
#include "tmpdir.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

void tmpdir_setup(void)
{
	strcpy(tmpdir, "/tmp/hvlab-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp failed");
	/* A skipped test never reaches its suite's .fini: remove the directory at exit too. */
	atexit(tmpdir_teardown);
}

void tmpdir_teardown(void)
{
	DIR *d = tmpdir[0] ? opendir(tmpdir) : NULL;
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
		if (unlink(path) < 0)
			rmdir(path); /* a directory a test made (the "not a file" cases) */
	}
	closedir(d);
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

const char *tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}
