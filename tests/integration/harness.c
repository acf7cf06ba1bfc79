/*
 * harness.c - fork/exec the hv binary with pipes for stdout and stderr (see harness.h).
 */
#include "harness.h"
#include "hostinfo.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

/* Read both pipes until both close, so a chatty child can never block on a full pipe. */
static void drain(int fo, int fe, struct hv_result *res)
{
	size_t no = 0, ne = 0;
	struct pollfd p[2] = { { fo, POLLIN, 0 }, { fe, POLLIN, 0 } };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			char *buf = i ? res->err : res->out;
			size_t cap = i ? sizeof(res->err) : sizeof(res->out);
			size_t *n = i ? &ne : &no;
			char scratch[4096];
			ssize_t got = read(p[i].fd, scratch, sizeof(scratch));
			if (got <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				continue;
			}
			size_t room = cap - 1 - *n;
			size_t take = (size_t)got < room ? (size_t)got : room;
			memcpy(buf + *n, scratch, take);
			*n += take;
		}
	}
	res->out[no] = '\0';
	res->err[ne] = '\0';
}

void cmd_exec(struct hv_result *res, const char *const *argv)
{
	cmd_exec_env(res, NULL, argv);
}

void cmd_exec_env(struct hv_result *res, const char *const *env, const char *const *argv)
{
	int po[2], pe[2];
	cr_assert(pipe(po) == 0 && pipe(pe) == 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]), close(pe[0]), close(po[1]), close(pe[1]);
		/* Standard input is /dev/null, whatever the test runner had (CI may have none):
		 * QEMU's -serial stdio, for one, fails on a closed descriptor 0. Done last, as a
		 * pipe end may have been given descriptor 0 if the runner had none. */
		int in = open("/dev/null", O_RDONLY);
		if (in > 0) {
			dup2(in, 0);
			close(in);
		}
		/* In the child only: the test process's own environment stays as it was. */
		for (; env && *env; env++)
			putenv((char *)*env);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	drain(po[0], pe[0], res);
	int st;
	waitpid(pid, &st, 0);
	res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void hv_exec_env(struct hv_result *res, const char *const *env, const char *const *args)
{
	const char *argv[64] = { env_or("HV", "build/hv") };
	int n = 1;
	for (; args[n - 1] && n < 63; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	cmd_exec_env(res, env, argv);
}

void hv_exec(struct hv_result *res, const char *const *args)
{
	hv_exec_env(res, NULL, args);
}

void hv_exec_nokvm(struct hv_result *res, const char *const *args)
{
	hv_exec_env(res, (const char *[]){ NO_KVM_ENV, NULL }, args);
}

const char *guest(const char *name)
{
	static char buf[4][512];
	static int slot;
	char *b = buf[slot++ % 4];
	snprintf(b, sizeof(buf[0]), "%s/%s", env_or("GUESTDIR", "build/guest"), name);
	return b;
}

static char tmp_dir[256];

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

/* At the test process's exit, its directory goes with everything in it (traces, images, the
 * unpacked 8.6 MB legacy trace of the hvviz tests): test runs must not fill /tmp. */
static void tmp_dir_remove(void)
{
	if (tmp_dir[0] && strncmp(tmp_dir, "/tmp/hvtest.", 12) == 0)
		nftw(tmp_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

const char *tmp_path(const char *name)
{
	char *dir = tmp_dir;
	static char buf[4][512];
	static int slot;
	if (!dir[0]) {
		snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/hvtest.XXXXXX");
		cr_assert(mkdtemp(tmp_dir) != NULL);
		atexit(tmp_dir_remove);
	}
	char *b = buf[slot++ % 4];
	snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
	return b;
}

/*
 * Under `make test` (tests/run-tests.sh sets HVTEST_STRICT=1) every test runs where it can: a
 * test that needs KVM runs on a host that has it or in the lab VM, never skipped. So there a
 * missing KVM is a failure: the test's suite is missing from KVM_TESTS or RING3_TESTS in
 * the Makefile. Run by hand (build/tests/integration), such a test skips with the reason.
 */
static void skip_or_fail(const char *why)
{
	const char *strict = getenv("HVTEST_STRICT");
	if (strict && strcmp(strict, "1") == 0)
		cr_assert_fail("%s; under 'make test' this must not happen: add this test's suite to "
			"KVM_TESTS or RING3_TESTS in the Makefile", why);
	cr_skip_test("%s", why);
}

void require_kvm(void)
{
	/* hostinfo_kvm_device: the device hv opens; a whole test run with
	 * HVLAB_KVM_DEVICE=/nonexistent/kvm plays a host without KVM. */
	const char *dev = hostinfo_kvm_device();
	if (access(dev, R_OK | W_OK) != 0) {
		char why[256];
		snprintf(why, sizeof(why), "%s is not usable here (%s): KVM integration test", dev,
			 strerror(errno));
		skip_or_fail(why); /* either call ends the test */
	}
}

void require_ring3(void)
{
	require_kvm();
	struct host_info hi;
	hostinfo_probe(&hi);
	if (hi.kind == HVT_HOST_PVM)
		skip_or_fail("PVM host: KVM here cannot run ring 3 or deliver interrupts through a "
			     "protected-mode IDT; this test runs in the lab VM, which 'make test' "
			     "starts by itself (or run 'make test-labvm')");
}

int free_tcp_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	cr_assert(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
		  getsockname(s, (struct sockaddr *)&a, &len) == 0, "no free TCP port: %s",
		  strerror(errno));
	close(s);
	return ntohs(a.sin_port);
}

int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

const char *write_tmp(const char *name, const void *data, size_t len)
{
	const char *p = tmp_path(name);
	FILE *f = fopen(p, "wb");
	cr_assert(f != NULL);
	cr_assert(fwrite(data, 1, len, f) == len);
	fclose(f);
	return p;
}
