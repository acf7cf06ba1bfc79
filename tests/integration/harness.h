/*
 * harness.h - run the real `hv` binary from a test and capture what it did.
 *
 * Integration tests treat hv as a user would: a process with arguments, stdout, stderr and
 * an exit status. The binary and the guest directory come from the environment (HV,
 * GUESTDIR), set by `make integration`, so the same tests check the sanitizer build too.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stddef.h>

struct hv_result {
	int status;      /* exit status, or 128 + signal number if hv was killed */
	char out[65536]; /* stdout, NUL-terminated (truncated if longer) */
	char err[16384]; /* stderr */
};

/* Run any program (argv[0] looked up in PATH), NULL-terminated argv. */
void cmd_exec(struct hv_result *res, const char *const *argv);

/* The same with "NAME=value" strings (NULL-terminated, may be NULL) added to its environment. */
void cmd_exec_env(struct hv_result *res, const char *const *env, const char *const *argv);

/* Run hv with NULL-terminated args (args[0] is the first argument, not "hv"). */
void hv_exec(struct hv_result *res, const char *const *args);
void hv_exec_env(struct hv_result *res, const char *const *env, const char *const *args);

/* What a host without KVM looks like to hv (hostinfo_kvm_device): a device path that does not
 * exist. */
#define NO_KVM_ENV "HVLAB_KVM_DEVICE=/nonexistent/kvm"

/* hv_exec as on a host without /dev/kvm (NO_KVM_ENV): whatever hv reports then, it found
 * before it needed KVM. */
void hv_exec_nokvm(struct hv_result *res, const char *const *args);

/* Path of a guest image: $GUESTDIR/name. Static buffer per call slot (4 slots). */
const char *guest(const char *name);

/* A path in this test process's own /tmp/hvtest.XXXXXX directory, removed with everything
 * in it when the test process exits. */
const char *tmp_path(const char *name);

/* Skip the current test when /dev/kvm is not usable, printing why. */
void require_kvm(void);

/* Skip the current test, printing why, on a host whose KVM cannot run ring-3 code or deliver
 * interrupts through a protected-mode IDT (PVM). Such tests run in the nested lab VM instead,
 * which `make test` starts next on such hosts (tests/labvm/, textbook chapter 5). */
void require_ring3(void);

/* A TCP port nobody listens on right now on 127.0.0.1 (the kernel picks it; closed again at
 * once), for hv run --gdb. */
int free_tcp_port(void);

/* Number of lines in a string. */
int count_lines(const char *s);

/* Write bytes to a new temporary file and return its path. */
const char *write_tmp(const char *name, const void *data, size_t len);

#endif
