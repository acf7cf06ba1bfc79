/*
 * fileguard.c - turn SIGBUS on a truncated, mapped trace into an ordinary error (fileguard.h).
 *
 * Concept: a signal handler may do very little safely: the program was stopped at an
 * arbitrary instruction. This one only compares an address with a few numbers and then either
 * jumps away (siglongjmp, which is allowed from a handler) or gives the signal back its
 * default action. The jump is safe here because the only code that touches a mapping is
 * trace_record_parse, which reads bytes and writes a local struct: it holds no lock and
 * leaves nothing half-updated that the error path would use.
 * Textbook: chapter 6 "Watching it happen", section "Opening a big trace".
 */
#include "fileguard.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>

sigjmp_buf fileguard_jump;

/* What the handler reads. Written only outside the handler, before a fault can happen. */
static struct model *const *watched;
static volatile int nwatched;
static volatile int hit = -1; /* which model's page was gone */

/* Is addr inside model m's mapping? A page past the new end is still inside the range we
 * mapped: the range stays, only the file behind it shrank. */
static int in_mapping(const struct model *m, uintptr_t addr)
{
	uintptr_t base = (uintptr_t)m->map;
	return m->map && addr >= base && addr - base < m->map_len;
}

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	for (int i = 0; i < nwatched; i++) {
		if (in_mapping(watched[i], (uintptr_t)si->si_addr)) {
			hit = i;
			siglongjmp(fileguard_jump, 1);
		}
	}
	/*
	 * Not a trace page: a bug, or a SIGBUS sent with kill. Back to the default action. For a
	 * fault, returning runs the faulting load again, which now ends the program; a signal
	 * that was sent is sent again, since nothing would repeat it.
	 */
	signal(sig, SIG_DFL);
	if (si->si_code <= 0)
		raise(sig);
}

void fileguard_watch(struct model *const *m, int n)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	if (n <= 0) {
		nwatched = 0;
		sa.sa_handler = SIG_DFL;
		sigaction(SIGBUS, &sa, NULL);
		return;
	}
	watched = m;
	nwatched = n;
	hit = -1;
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
}

const char *fileguard_path(void)
{
	return hit >= 0 && hit < nwatched ? watched[hit]->path : "";
}
