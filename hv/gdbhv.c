/*
 * gdbhv.c - hv run --gdb [ADDR:]PORT: gdb debugs the guest, from outside, over TCP.
 *
 * Concept: the target half of a remote debugger. gdbstub.c speaks gdb's protocol; this file
 * does what the packets ask, on the guest's vCPU, with nothing but KVM's ioctls:
 *   registers  KVM_GET/SET_REGS, KVM_GET_SREGS, KVM_GET_FPU through regs.c, rearranged into the
 *              order gdb expects for the architecture (gdb_regs_*).
 *   memory     gdb's addresses are guest-*linear* (what rip and pointers hold). With paging on,
 *              KVM_TRANSLATE walks the guest's page tables to a guest-physical address, then
 *              guestmem.c's checked gm_read/gm_write: an address outside RAM is an E reply.
 *   breakpoints  software (Z0): INT3 (0xCC) written over the instruction's first byte; the CPU
 *              raises #BP (vector 3) when it executes it. KVM_GUESTDBG_USE_SW_BP makes KVM
 *              intercept #BP and return KVM_EXIT_DEBUG, so the guest never sees it. But PVM
 *              cannot emulate that #BP in protected or long mode, so hv takes a free debug
 *              register for a Z0 first (below), and writes an INT3 only when all are taken.
 *              hardware (Z1) and watchpoints (Z2 write, Z3 read, Z4 access): the debug
 *              registers. DR0-DR3 hold four linear addresses; DR7 enables each (bit 2i) and
 *              says for each what to watch (R/W bits: 00 execute, 01 write, 11 read or write;
 *              x86 has no read-only watch, so Z3 watches accesses) and how many bytes (LEN:
 *              1, 2, 4, 8). An execute breakpoint raises #DB (vector 1) *before* the
 *              instruction, a watchpoint *after* the access; DR6 says which slot fired.
 *              KVM_GUESTDBG_USE_HW_BP loads them and intercepts #DB. Four slots: a fifth is
 *              an E reply.
 *   stepi      the trap flag, RFLAGS.TF: #DB after one instruction (KVM_GUESTDBG_SINGLESTEP).
 *              But the CPU clears TF when it enters an interrupt handler, so a stepi over
 *              `int n` (a system call) would run the whole handler and stop after its iret.
 *              So before such a stepi hv reads the guest's IDT gate n and plants an I/O trap,
 *              `out %al, $0x80`, on the handler's first two bytes (hv/step.c, shared with
 *              hv run --step: step_int_handler, step_trap_plant). The CPU enters the handler
 *              and executes the OUT, which exits to hv on every KVM; hv puts the two bytes
 *              back, completes the OUT and moves rip back onto the handler's first
 *              instruction (step_trap_take), and gdb sees the stop there, at CPL 0. Why the
 *              trap and not a breakpoint, as step.c uses on VT-x/AMD-V: port I/O reaches hv on
 *              every KVM (QEMU's emulated SVM stops at no breakpoint), it takes none of gdb's
 *              four debug registers, and it needs no #DB or #BP that could be the guest's.
 *
 * The lab VM (QEMU's TCG emulating SVM, hostinfo_is_emulated_svm): there no breakpoint stops
 * the CPU. QEMU's SVM intercepts neither a DR0-DR3 hit nor INT3 nor ICEBP: the #DB or #BP goes
 * to the guest, which has no handler for it and dies (hv/step.c, the same measurement). Only
 * the trap flag is intercepted. So there, while any breakpoint or watchpoint is set, `continue`
 * becomes "seek": hv steps the guest with TF, silently, one instruction at a time, and after
 * each step compares rip with the breakpoints' addresses and the watched bytes with their
 * values when the guest was resumed. A match stops the guest with the stop reply real
 * hardware would have given (watch:ADDR for a changed watch, before the next instruction runs,
 * as a data breakpoint would). hv plants nothing in the guest there: no INT3, no DR7.
 * The cost: every instruction is a #DB VM exit, a round trip through KVM and hv, thousands of
 * times slower than running; fine for the small guests here, slow for a booting kernel. The
 * limits: a write is seen, a read is not (Z3 rwatch and Z4 awatch are refused there), and an
 * interrupt or exception handler runs unstepped (the CPU clears TF on entering it) until its
 * next exit, so a breakpoint inside a handler may be missed; its iret restores TF.
 * Textbook: chapter 5 "A guest OS", section "Watching one instruction at a time" explains TF
 * and the breakpoints as hv run --step uses them (hv/step.c); chapter 3 "Exits", section "The
 * six steps" the exit loop this hooks into; chapter 8 "Debugging a guest" is the stub's own
 * chapter, with sessions on every kind of host.
 *
 * Where it hooks in (vcpu.c): before every KVM_RUN, gdb_before_run: if the guest is to stop
 * (a breakpoint fired, a step ended, Ctrl-C, a `monitor break-exit` matched, or the guest was
 * just created and gdb has not said `continue` yet), the vCPU thread talks to gdb right there,
 * between two KVM_RUNs, where the registers are stable, until gdb resumes it. After every exit:
 * gdb_handle_debug takes KVM_EXIT_DEBUG, gdb_after_exit keeps the last exits for `monitor exits`
 * and matches `monitor break-exit`.
 *
 * While the guest runs, gdb may send Ctrl-C (the byte 0x03). The vCPU thread is inside KVM_RUN
 * and cannot read the socket, so a small watcher thread polls it, and when there is input asks
 * the vCPU to stop (vcpu_kick, the same kick --timeout uses) and waits until it has stopped;
 * the vCPU thread then reads the input itself. The watcher never reads or writes the socket.
 *
 * Stopping rules: --gdb listens on 127.0.0.1 unless an address is given (gdb's protocol has no
 * authentication: whoever connects owns the guest), accepts one client, and holds the guest
 * before its first instruction until gdb says continue (like QEMU's -s -S); --gdb-nowait starts
 * the guest at once and stops it when gdb connects. `detach` (D) clears every breakpoint and
 * lets the guest run to its normal end; a client that disconnects (even mid-packet) is a detach.
 * `kill` (k) ends the run with status 16 (HV_EXIT_INTERRUPTED), "killed by gdb".
 *
 * PVM: execution breakpoints in DR0-DR3 stop the CPU, data watchpoints never do (measured:
 * a ring-0 guest there runs in KVM's instruction emulator, which checks only DR7's execution
 * breakpoints). So on PVM a write watchpoint is found by seeking too, and rwatch and awatch
 * are refused, as in the lab VM, rather than accepted and never fired.
 *
 * Real-mode and mode-switching guests: the register layout is chosen once, from the boot mode
 * (i386:x86-64 for long-mode guests, i386 otherwise). For a real-mode guest use
 * `set architecture i8086` in gdb; gdb's addresses are linear, so `x/i $pc` is right only
 * while CS = 0 (otherwise `x/i $cs*16+$eip`).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpu.h"
#include "gdbhv.h"
#include "gdbstub.h"
#include "hostinfo.h"
#include "regs.h"
#include "step.h"
#include "trace_names.h"
#include "trace_write.h"
#include "vcpu.h"
#include "vm.h"

#define GDB_HW_SLOTS 4     /* DR0-DR3 */
#define GDB_SW_MAX   64    /* software breakpoints at once */
#define GDB_RING     256   /* exits kept for `monitor exits` */
#define INT3         0xCCu
#define SIGTRAP_GDB  5     /* gdb's signal numbers (not the host's): SIGTRAP, SIGINT */
#define SIGINT_GDB   2
#define DR6_BS       (1u << 14) /* the #DB came from the trap flag: one instruction done */
#define DR7_FIXED    0x400u
#define CR0_PG       (1ull << 31)

struct gdb_hw {
	uint64_t addr;
	int type;
	unsigned len;
	bool used, for_z0;
	uint8_t old[8];    /* seek (emulated SVM): the watched bytes when the guest was resumed */
	bool old_valid;    /* ...if they could be read then */
};
struct gdb_sw { uint64_t addr, gpa; uint8_t orig; bool used, planted; };
struct gdb_exit { uint64_t n, addr, data, rip; uint8_t reason, size; uint32_t flags; };

/* `monitor break-exit`: which exits stop the guest. */
enum brk_kind { BRK_OFF = 0, BRK_IO, BRK_MMIO, BRK_HLT, BRK_ANY };

struct gdb_server {
	struct vm *vm;
	int listen_fd, fd;      /* fd: the client, -1 until one connects */
	char where[80];         /* "127.0.0.1:1234", for messages */
	bool x64;               /* the register layout: i386:x86-64, else i386 */
	bool hold;              /* hold the guest before its first instruction */
	bool first;             /* gdb_before_run not called yet */
	bool detached;          /* after D, k or a disconnect: the stub is off for good */
	bool owe_reply;         /* gdb resumed the guest: it waits for a stop reply */
	bool stepping;          /* the resume was a stepi */
	bool dirty;             /* the debug state changed: KVM_SET_GUEST_DEBUG again */
	bool emulated;          /* QEMU's emulated SVM: no breakpoint stops the CPU (seek) */
	bool pvm;               /* PVM: data watchpoints never fire (write watches: seek) */
	bool seeking;           /* emulated: this continue steps with TF to find a breakpoint */
	bool said_seek;         /* the one line on stderr about seeking was printed */
	uint64_t seek_steps;    /* instructions stepped silently by seeking */
	volatile int want_stop; /* the signal to report at the next entry, 0: none */
	int why;                /* enum hvt_gdb_why for the trace */
	char extra[48];         /* stop reply extras, e.g. "watch:1000;" */
	char note[320];         /* text for gdb before the stop reply (O packet) */
	struct step_bp handler; /* a stepi over `int n`: the I/O trap on its handler (step.c) */
	unsigned frame_slot;    /* ...and the size of a slot of the frame the CPU pushes there */
	struct gdb_conn conn;
	struct gdb_hw hw[GDB_HW_SLOTS];
	struct gdb_sw sw[GDB_SW_MAX];
	enum brk_kind brk;
	bool brk_has_addr;
	uint64_t brk_addr;
	struct gdb_exit ring[GDB_RING];
	uint64_t nexits;
	uint8_t rbuf[4096];
	size_t rpos, rlen;
	/* the watcher thread (Ctrl-C, a connect with --gdb-nowait) */
	pthread_t watcher;
	bool watcher_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool guest_running;     /* under lock: the vCPU thread is not talking to gdb */
	bool quit;              /* under lock: the watcher ends */
};

/* ---- --gdb [ADDR:]PORT ---- */

int gdb_parse_spec(const char *spec, char *host, size_t hostlen, uint16_t *port, char *err,
		   size_t errlen)
{
	const char *colon = strrchr(spec, ':');
	const char *p = colon ? colon + 1 : spec;
	char *end;
	errno = 0;
	unsigned long v = strtoul(p, &end, 10);
	if (!*p || *end || errno || v < 1 || v > 65535 || *p == '-' || *p == '+') {
		snprintf(err, errlen, "bad --gdb '%s' (give PORT or ADDR:PORT, port 1 to 65535)", spec);
		return -1;
	}
	size_t hl = colon ? (size_t)(colon - spec) : 0;
	if (hl >= hostlen) {
		snprintf(err, errlen, "bad --gdb '%s' (address too long)", spec);
		return -1;
	}
	if (colon && hl)
		memcpy(host, spec, hl), host[hl] = 0;
	else
		snprintf(host, hostlen, "127.0.0.1"); /* loopback unless told otherwise */
	struct in_addr a;
	if (inet_pton(AF_INET, host, &a) != 1) {
		snprintf(err, errlen, "bad --gdb '%s' (the address must be IPv4 dotted, e.g. "
			 "127.0.0.1:%lu)", spec, v);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* ---- guest memory: linear -> physical -> guestmem ---- */

/* One page's worth at most: la's guest-physical address. Paging off: the same. */
static int la_to_gpa(struct vm *vm, uint64_t la, uint64_t *gpa)
{
	struct kvm_sregs s;
	if (sregs_get(vm, &s) < 0)
		return -1;
	if (!(s.cr0 & CR0_PG)) {
		*gpa = la;
		return 0;
	}
	struct kvm_translation tr = { .linear_address = la };
	if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -1;
	*gpa = tr.physical_address;
	return 0;
}

/* Page by page (neighbouring linear pages need not be physical neighbours). */
static int mem_access(struct vm *vm, uint64_t la, uint8_t *buf, size_t len, bool write)
{
	while (len) {
		uint64_t gpa;
		size_t chunk = 4096 - (size_t)(la & 4095);
		if (chunk > len)
			chunk = len;
		if (la_to_gpa(vm, la, &gpa) < 0)
			return -1;
		if (write ? gm_write(&vm->mem, gpa, buf, chunk) : gm_read(&vm->mem, gpa, buf, chunk))
			return -1;
		la += chunk, buf += chunk, len -= chunk;
	}
	return 0;
}

static int t_read_mem(void *ctx, uint64_t addr, uint8_t *buf, size_t len)
{
	struct gdb_server *g = ctx;
	return mem_access(g->vm, addr, buf, len, false);
}

static int t_write_mem(void *ctx, uint64_t addr, const uint8_t *buf, size_t len)
{
	struct gdb_server *g = ctx;
	return mem_access(g->vm, addr, (uint8_t *)buf, len, true);
}

/* ---- registers in gdb's order ---- */

/*
 * gdb's standard layouts (gdb/features/i386/64bit-core.xml, 64bit-sse.xml; 32bit-*.xml):
 *   i386:x86-64  0-15 rax rbx rcx rdx rsi rdi rbp rsp r8-r15 (8 bytes), 16 rip (8), 17 eflags,
 *                18-23 cs ss ds es fs gs (4), 24-31 st0-7 (10), 32-39 fctrl fstat ftag fiseg
 *                fioff foseg fooff fop (4), 40-55 xmm0-15 (16), 56 mxcsr (4)
 *   i386         0-7 eax ecx edx ebx esp ebp esi edi, 8 eip, 9 eflags, 10-15 cs ss ds es fs gs
 *                (all 4), 16-23 st0-7, 24-31 the FPU words, 32-39 xmm0-7, 40 mxcsr
 * Note the order differs from struct kvm_regs (rsp before rbp there) and between the two.
 */
static unsigned reg_count(bool x64) { return x64 ? 57 : 41; }

static unsigned reg_size(bool x64, unsigned n)
{
	unsigned st = x64 ? 24 : 16; /* first x87 register */
	if (n < st)
		return x64 && n <= 16 ? 8 : 4;
	if (n < st + 8)
		return 10;
	if (n < st + 16)
		return 4;
	if (n < st + 16 + (x64 ? 16 : 8))
		return 16;
	return 4; /* mxcsr */
}

/* The whole layout into buf (little-endian, as gdb reads x86). Returns its size. */
static int regs_to_gdb(struct gdb_server *g, uint8_t *buf, size_t cap)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu f;
	if (regs_get(g->vm, &r) < 0 || sregs_get(g->vm, &s) < 0)
		return -1;
	if (fpu_get(g->vm, &f) < 0)
		memset(&f, 0, sizeof f);
	uint64_t gpr64[17] = { r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9,
			       r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip };
	uint64_t gpr32[9] = { r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi, r.rip };
	uint32_t seg[6] = { s.cs.selector, s.ss.selector, s.ds.selector, s.es.selector,
			    s.fs.selector, s.gs.selector };
	/* x87 tag word: KVM keeps the abridged one (a bit per register: in use); gdb shows the
	 * full one (2 bits each: 00 valid, 11 empty). */
	uint32_t ftag = 0;
	for (int i = 0; i < 8; i++)
		ftag |= (f.ftwx & (1u << i) ? 0u : 3u) << (2 * i);
	uint32_t fwords[8] = { f.fcw, f.fsw, ftag, 0, (uint32_t)f.last_ip, 0, (uint32_t)f.last_dp,
			       f.last_opcode };
	size_t off = 0;
	unsigned ngpr = g->x64 ? 17 : 9, nxmm = g->x64 ? 16 : 8;
	size_t need = 0;
	for (unsigned i = 0; i < reg_count(g->x64); i++)
		need += reg_size(g->x64, i);
	if (need > cap)
		return -1;
	for (unsigned i = 0; i < ngpr; i++) {
		uint64_t v = g->x64 ? gpr64[i] : gpr32[i];
		unsigned sz = g->x64 ? 8 : 4;
		memcpy(buf + off, &v, sz); /* x86 hosts are little-endian, like the guest */
		off += sz;
	}
	uint32_t fl = (uint32_t)r.rflags;
	memcpy(buf + off, &fl, 4), off += 4;
	for (int i = 0; i < 6; i++)
		memcpy(buf + off, &seg[i], 4), off += 4;
	for (int i = 0; i < 8; i++)
		memcpy(buf + off, f.fpr[i], 10), off += 10;
	for (int i = 0; i < 8; i++)
		memcpy(buf + off, &fwords[i], 4), off += 4;
	for (unsigned i = 0; i < nxmm; i++)
		memcpy(buf + off, f.xmm[i], 16), off += 16;
	memcpy(buf + off, &f.mxcsr, 4), off += 4;
	return (int)off;
}

/* Back from gdb's layout: the general registers, rip and eflags are written; segment
 * selectors and the FPU are not (a selector alone, without its descriptor, is not a state the
 * CPU could be in: change them in the guest, not from gdb). len may cover a prefix only. */
static int regs_from_gdb(struct gdb_server *g, const uint8_t *buf, size_t len)
{
	struct kvm_regs r;
	if (regs_get(g->vm, &r) < 0)
		return -1;
	__u64 *gpr64[17] = { &r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rbp, &r.rsp,
				&r.r8, &r.r9, &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15, &r.rip };
	__u64 *gpr32[9] = { &r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi, &r.rip };
	unsigned ngpr = g->x64 ? 17 : 9, sz = g->x64 ? 8 : 4;
	size_t off = 0;
	for (unsigned i = 0; i < ngpr && off + sz <= len; i++, off += sz) {
		uint64_t v = 0;
		memcpy(&v, buf + off, sz);
		if (g->x64)
			*gpr64[i] = v;
		else
			*gpr32[i] = (*gpr32[i] & ~0xFFFFFFFFull) | v;
	}
	if (off + 4 <= len) {
		uint32_t fl;
		memcpy(&fl, buf + off, 4);
		r.rflags = (r.rflags & ~0xFFFFFFFFull) | fl | 2u; /* bit 1 always reads 1 */
	}
	return regs_set(g->vm, &r);
}

static int t_read_regs(void *ctx, uint8_t *buf, size_t cap)
{
	return regs_to_gdb(ctx, buf, cap);
}

static int t_write_regs(void *ctx, const uint8_t *buf, size_t len)
{
	return regs_from_gdb(ctx, buf, len);
}

static size_t reg_offset(bool x64, unsigned n)
{
	size_t off = 0;
	for (unsigned i = 0; i < n; i++)
		off += reg_size(x64, i);
	return off;
}

static int t_read_reg(void *ctx, unsigned n, uint8_t *buf, size_t cap)
{
	struct gdb_server *g = ctx;
	uint8_t all[GDB_PACKET_MAX / 2];
	if (n >= reg_count(g->x64) || reg_size(g->x64, n) > cap || regs_to_gdb(g, all, sizeof all) < 0)
		return -1;
	memcpy(buf, all + reg_offset(g->x64, n), reg_size(g->x64, n));
	return (int)reg_size(g->x64, n);
}

static int t_write_reg(void *ctx, unsigned n, const uint8_t *buf, size_t len)
{
	struct gdb_server *g = ctx;
	uint8_t all[GDB_PACKET_MAX / 2];
	int total = regs_to_gdb(g, all, sizeof all);
	if (n >= reg_count(g->x64) || len != reg_size(g->x64, n) || total < 0)
		return -1;
	memcpy(all + reg_offset(g->x64, n), buf, len);
	return regs_from_gdb(g, all, (size_t)total);
}

static const char *t_arch(void *ctx)
{
	struct gdb_server *g = ctx;
	return g->x64 ? "i386:x86-64" : "i386";
}

/* ---- breakpoints and watchpoints ---- */

static int sw_insert(struct gdb_server *g, uint64_t addr)
{
	int free_slot = -1;
	for (int i = 0; i < GDB_SW_MAX; i++) {
		if (g->sw[i].used && g->sw[i].addr == addr)
			return 0; /* already there (gdb may insert twice) */
		if (!g->sw[i].used && free_slot < 0)
			free_slot = i;
	}
	uint64_t gpa;
	uint8_t orig, cc = INT3;
	if (free_slot < 0)
		return -1;
	if (g->emulated) {
		/* No INT3 there (it would go to the guest): seeking compares rip with addr. */
		g->sw[free_slot] = (struct gdb_sw){ .addr = addr, .used = true };
		return 0;
	}
	if (la_to_gpa(g->vm, addr, &gpa) < 0 ||
	    gm_read(&g->vm->mem, gpa, &orig, 1) < 0 || gm_write(&g->vm->mem, gpa, &cc, 1) < 0)
		return -1;
	g->sw[free_slot] = (struct gdb_sw){ .addr = addr, .gpa = gpa, .orig = orig, .used = true,
					    .planted = true };
	return 0;
}

/* Put the guest's byte back, only where our INT3 still is. */
static void sw_restore(struct gdb_server *g, struct gdb_sw *b)
{
	uint8_t now;
	if (b->planted && gm_read(&g->vm->mem, b->gpa, &now, 1) == 0 && now == INT3)
		gm_write(&g->vm->mem, b->gpa, &b->orig, 1);
	b->used = false;
}

static int t_insert_bp(void *ctx, int type, uint64_t addr, unsigned len)
{
	struct gdb_server *g = ctx;
	g->dirty = true;
	if (type == GDB_BP_SW) {
		/* gdb's `break` asks for a software breakpoint. A free debug register does the
		 * same job and works on every KVM hv runs on: PVM stops at DR0-3 but fails to
		 * emulate the #BP of an INT3 in protected and long mode ("KVM internal error,
		 * emulation failed", the same measurement as hv/step.c's). So an INT3 only when
		 * all four are taken. */
		for (int i = 0; i < GDB_HW_SLOTS; i++) {
			if (g->hw[i].used && g->hw[i].for_z0 && g->hw[i].addr == addr)
				return 0;
			if (!g->hw[i].used) {
				g->hw[i] = (struct gdb_hw){ .addr = addr, .type = GDB_BP_HW, .len = 1,
							    .used = true, .for_z0 = true };
				return 0;
			}
		}
		return sw_insert(g, addr);
	}
	if (type == GDB_BP_HW)
		len = 1;
	else if ((len != 1 && len != 2 && len != 4 && len != 8) || (addr & (len - 1)))
		return -1; /* DR7's LEN: 1, 2, 4 or 8 bytes, naturally aligned */
	else if ((g->emulated || g->pvm) && type != GDB_WP_WRITE)
		return -1; /* seeking sees a changed value, never a read: no rwatch, no awatch */
	for (int i = 0; i < GDB_HW_SLOTS; i++)
		if (!g->hw[i].used) {
			g->hw[i] = (struct gdb_hw){ .addr = addr, .type = type, .len = len, .used = true };
			return 0;
		}
	return -1; /* all four debug registers taken */
}

static int t_remove_bp(void *ctx, int type, uint64_t addr, unsigned len)
{
	struct gdb_server *g = ctx;
	(void)len;
	g->dirty = true;
	if (type == GDB_BP_SW) {
		for (int i = 0; i < GDB_HW_SLOTS; i++)
			if (g->hw[i].used && g->hw[i].for_z0 && g->hw[i].addr == addr) {
				g->hw[i].used = false;
				return 0;
			}
		for (int i = 0; i < GDB_SW_MAX; i++)
			if (g->sw[i].used && g->sw[i].addr == addr) {
				sw_restore(g, &g->sw[i]);
				return 0;
			}
		return -1;
	}
	for (int i = 0; i < GDB_HW_SLOTS; i++)
		if (g->hw[i].used && !g->hw[i].for_z0 && g->hw[i].addr == addr && g->hw[i].type == type) {
			g->hw[i].used = false;
			return 0;
		}
	return -1;
}

static void clear_all_bps(struct gdb_server *g)
{
	step_bp_remove(g->vm, &g->handler);
	for (int i = 0; i < GDB_SW_MAX; i++)
		if (g->sw[i].used)
			sw_restore(g, &g->sw[i]);
	memset(g->hw, 0, sizeof g->hw);
	g->brk = BRK_OFF;
	g->stepping = false;
	g->dirty = true;
}

/* DR7 for the used slots: enable bit L_i (bit 2i), R/W_i (bits 16+4i), LEN_i (bits 18+4i). */
static uint64_t dr7_for(const struct gdb_server *g)
{
	uint64_t dr7 = DR7_FIXED;
	for (int i = 0; i < GDB_HW_SLOTS; i++) {
		const struct gdb_hw *h = &g->hw[i];
		if (!h->used)
			continue;
		unsigned rw = h->type == GDB_BP_HW ? 0 : h->type == GDB_WP_WRITE ? 1 : 3;
		unsigned ln = h->type == GDB_BP_HW ? 0 : h->len == 1 ? 0 : h->len == 2 ? 1 :
							h->len == 8 ? 2 : 3;
		dr7 |= 1ull << (2 * i) | (uint64_t)rw << (16 + 4 * i) | (uint64_t)ln << (18 + 4 * i);
	}
	return dr7;
}

/* Seeking (emulated SVM): remember the watched bytes as gdb resumes the guest. */
static void watch_snapshot(struct gdb_server *g)
{
	for (int i = 0; i < GDB_HW_SLOTS; i++) {
		struct gdb_hw *h = &g->hw[i];
		if (h->used && h->type == GDB_WP_WRITE)
			h->old_valid = mem_access(g->vm, h->addr, h->old, h->len, false) == 0;
	}
}

/* A stepi is about to execute `int n` whose handler runs at CPL 0: the I/O trap on the
 * handler's first two bytes (the opening comment), so the step stops there and not after the
 * handler's iret. Not an `int n`, or no trap possible: the stepi is plain TF. */
static void catch_int_handler(struct gdb_server *g)
{
	struct step_int how;
	uint64_t la = step_int_handler(g->vm, &how);
	if (la && how.ring0 && step_trap_plant(g->vm, &g->handler, la) == 0)
		g->frame_slot = how.slot;
}

/*
 * The CPU stands at the handler's first instruction, its frame on the stack: ip, cs, flags,
 * one slot each from the stack pointer up. The flags it pushed hold TF, which KVM had set
 * for the stepi. The handler's iret will load them again, and the #DB that TF then raises
 * would go to the guest, which has no handler for it (the mini OS kills the task), once gdb
 * no longer intercepts #DB: after a continue or a detach. So hv takes TF out of the pushed
 * copy: the guest returns as if it had never been stepped. (The guests here never set TF
 * themselves; a guest that did would lose its own TF on this one return.)
 */
static void frame_clear_tf(struct gdb_server *g)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	unsigned slot = g->frame_slot;
	uint64_t fl = 0;
	if (regs_get(g->vm, &r) < 0 || sregs_get(g->vm, &s) < 0)
		return;
	uint64_t sp = s.ss.base + (slot == 2 ? (r.rsp & 0xFFFF) : slot == 4 ? (uint32_t)r.rsp : r.rsp);
	if (mem_access(g->vm, sp + 2 * slot, (uint8_t *)&fl, slot, false) == 0 && (fl & 0x100)) {
		fl &= ~(uint64_t)0x100; /* RFLAGS.TF */
		mem_access(g->vm, sp + 2 * slot, (uint8_t *)&fl, slot, true);
	}
}

/* Hand KVM the debug state: what to intercept (#BP, #DB), DR0-3 and DR7, the trap flag. */
static void apply_debug(struct gdb_server *g)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof dbg);
	if (!g->detached) {
		bool any_sw = false, any_hw = false;
		for (int i = 0; i < GDB_SW_MAX; i++)
			any_sw |= g->sw[i].used;
		for (int i = 0; i < GDB_HW_SLOTS; i++) {
			any_hw |= g->hw[i].used;
			dbg.arch.debugreg[i] = g->hw[i].used ? g->hw[i].addr : 0;
		}
		dbg.arch.debugreg[7] = dr7_for(g);
		dbg.control = KVM_GUESTDBG_ENABLE | (any_sw ? KVM_GUESTDBG_USE_SW_BP : 0) |
			      (any_hw ? KVM_GUESTDBG_USE_HW_BP : 0) |
			      (g->stepping ? KVM_GUESTDBG_SINGLESTEP : 0);
		if (g->emulated) {
			/* The lab VM: no DR and no INT3 (neither would reach hv), only TF: for a
			 * stepi, and for every instruction of a continue while something is set. */
			memset(dbg.arch.debugreg, 0, sizeof dbg.arch.debugreg);
			dbg.arch.debugreg[7] = DR7_FIXED;
			g->seeking = !g->stepping && (any_sw || any_hw);
			if (g->seeking && !g->said_seek && !g->vm->quiet) {
				g->said_seek = true;
				fprintf(stderr, "hv: --gdb: QEMU's emulated SVM stops at no breakpoint; "
					"while one is set, continue single-steps the guest (slow: a VM "
					"exit per instruction)\n");
			}
			dbg.control = KVM_GUESTDBG_ENABLE |
				      (g->stepping || g->seeking ? KVM_GUESTDBG_SINGLESTEP : 0);
		} else if (g->pvm) {
			/* PVM: the debug registers stop the CPU at an execution breakpoint, but a
			 * data watchpoint never fires (a ring-0 guest runs in KVM's instruction
			 * emulator, which checks DR7's execution breakpoints only). So while a write
			 * watch is set, a continue seeks, as in the lab VM; execution breakpoints stay
			 * in the debug registers and are also compared after each step. */
			bool any_watch = false;
			for (int i = 0; i < GDB_HW_SLOTS; i++)
				any_watch |= g->hw[i].used && g->hw[i].type == GDB_WP_WRITE;
			g->seeking = !g->stepping && any_watch;
			if (g->seeking && !g->said_seek && !g->vm->quiet) {
				g->said_seek = true;
				fprintf(stderr, "hv: --gdb: data watchpoints do not fire on PVM; while one is "
					"set, continue single-steps the guest (slow: a VM exit per "
					"instruction)\n");
			}
			if (g->seeking)
				dbg.control |= KVM_GUESTDBG_SINGLESTEP;
		}
	}
	if (ioctl(g->vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
		char why[160];
		snprintf(why, sizeof why, "--gdb: KVM_SET_GUEST_DEBUG failed: %s", strerror(errno));
		vm_stop_with(g->vm, HV_EXIT_HOST, why);
	}
	g->dirty = false;
}

/* ---- monitor commands ---- */

static void mon_exits(struct gdb_server *g, const char *arg, char *out, size_t cap)
{
	unsigned long n = *arg ? strtoul(arg, NULL, 0) : 10;
	if (n > GDB_RING)
		n = GDB_RING;
	if (n > g->nexits)
		n = g->nexits;
	size_t used = (size_t)snprintf(out, cap, "last %lu of %llu exits:\n", n,
				       (unsigned long long)g->nexits);
	for (uint64_t i = g->nexits - n; i < g->nexits && used < cap; i++) {
		const struct gdb_exit *e = &g->ring[i % GDB_RING];
		int w = snprintf(out + used, cap - used, "#%llu %s%s addr=0x%llx size=%u data=0x%llx "
				 "rip=0x%llx\n", (unsigned long long)e->n, hvt_reason_name(e->reason),
				 e->reason == HVT_R_IO || e->reason == HVT_R_MMIO
					 ? (e->flags & HVT_F_WRITE ? " write" : " read") : "",
				 (unsigned long long)e->addr, e->size, (unsigned long long)e->data,
				 (unsigned long long)e->rip);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static void mon_mode(struct gdb_server *g, char *out, size_t cap)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	if (sregs_get(g->vm, &s) < 0 || regs_get(g->vm, &r) < 0) {
		snprintf(out, cap, "registers unavailable\n");
		return;
	}
	snprintf(out, cap, "mode %s, CPL %u, paging %s (CR0=0x%llx CR4=0x%llx EFER=0x%llx), "
		 "cs=0x%x rip=0x%llx; gdb's register layout: %s\n",
		 hvt_mode_name(cpu_mode(&s)), cpu_cpl(&s), s.cr0 & CR0_PG ? "on" : "off",
		 (unsigned long long)s.cr0, (unsigned long long)s.cr4, (unsigned long long)s.efer,
		 s.cs.selector, (unsigned long long)r.rip, t_arch(g));
}

static void mon_break_exit(struct gdb_server *g, const char *arg, char *out, size_t cap)
{
	char kind[16] = "", opt[64] = "";
	int n = sscanf(arg, "%15s %63s", kind, opt);
	enum brk_kind k = !strcmp(kind, "io") ? BRK_IO : !strcmp(kind, "mmio") ? BRK_MMIO :
			  !strcmp(kind, "hlt") ? BRK_HLT : !strcmp(kind, "any") ? BRK_ANY : BRK_OFF;
	if (n >= 1 && !strcmp(kind, "off")) {
		g->brk = BRK_OFF;
		snprintf(out, cap, "break-exit off\n");
		return;
	}
	bool has = false;
	uint64_t a = 0;
	if (n == 2) {
		char *end;
		const char *v = !strncmp(opt, "port=", 5) ? opt + 5 : !strncmp(opt, "addr=", 5) ? opt + 5 : NULL;
		a = v ? strtoull(v, &end, 0) : 0;
		if (!v || !*v || *end || (k != BRK_IO && k != BRK_MMIO)) {
			snprintf(out, cap, "break-exit: bad '%s' (port=N for io, addr=N for mmio)\n", opt);
			return;
		}
		has = true;
	}
	if (n < 1 || k == BRK_OFF) {
		snprintf(out, cap, "usage: monitor break-exit io|mmio|hlt|any [port=N|addr=N], "
			 "or break-exit off\n");
		return;
	}
	g->brk = k;
	g->brk_has_addr = has;
	g->brk_addr = a;
	/* Where rip stands at the stop depends on the host's KVM (PVM's emulator has finished the
	 * OUT, VT-x/AMD-V have not): the stop line says which (rip_at_io), so this reply does not. */
	snprintf(out, cap, "the next %s exit%s stops the guest (once); the stop says whether rip is "
		 "still at the instruction or already past it.\n", kind, has ? " there" : "");
}

static void t_monitor(void *ctx, const char *cmd, char *out, size_t cap)
{
	struct gdb_server *g = ctx;
	while (*cmd == ' ')
		cmd++;
	if (!strncmp(cmd, "break-exit", 10) && (!cmd[10] || cmd[10] == ' '))
		mon_break_exit(g, cmd + 10, out, cap);
	else if (!strncmp(cmd, "exits", 5) && (!cmd[5] || cmd[5] == ' '))
		mon_exits(g, cmd + 5, out, cap);
	else if (!strcmp(cmd, "mode"))
		mon_mode(g, out, cap);
	else
		snprintf(out, cap, "hv monitor commands:\n"
			 "  monitor break-exit io|mmio|hlt|any [port=N|addr=N]  stop at the next such "
			 "VM exit (once)\n"
			 "  monitor break-exit off\n"
			 "  monitor exits [N]   the last N VM exits (default 10, at most %d)\n"
			 "  monitor mode        CPU mode, CPL, paging\n"
			 "  monitor help        this text\n", GDB_RING);
}

static const struct gdb_target_ops hv_target_ops = {
	.read_regs = t_read_regs, .write_regs = t_write_regs,
	.read_reg = t_read_reg, .write_reg = t_write_reg,
	.read_mem = t_read_mem, .write_mem = t_write_mem,
	.insert_bp = t_insert_bp, .remove_bp = t_remove_bp,
	.monitor = t_monitor, .arch = t_arch,
};

/* ---- the connection ---- */

static void sock_send(void *io, const char *buf, size_t len)
{
	struct gdb_server *g = io;
	while (len && g->fd >= 0) {
		ssize_t n = send(g->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* gone: the next read sees it */
		buf += n, len -= (size_t)n;
	}
}

/* The stub is done for good: gdb detached, killed, or went away. The guest runs on without
 * debug state. */
static void go_detached(struct gdb_server *g)
{
	clear_all_bps(g);
	g->detached = true;
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	g->listen_fd = -1;
	g->owe_reply = false;
	pthread_mutex_lock(&g->lock);
	g->quit = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* The vCPU thread talks to gdb (true) or lets the guest run (false): the watcher reads this. */
static void set_guest_running(struct gdb_server *g, bool running)
{
	pthread_mutex_lock(&g->lock);
	g->guest_running = running;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* Wait for gdb to connect (the vCPU thread, holding the guest). false: hv is being stopped. */
static bool accept_client(struct gdb_server *g)
{
	if (!g->vm->quiet)
		fprintf(stderr, "hv: waiting for gdb on %s (gdb -ex 'target remote %s')\n", g->where,
			g->where);
	while (g->vm->cpu.kick == KICK_NONE && !g->vm->stop.requested) {
		struct pollfd p = { .fd = g->listen_fd, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept(g->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
		g->fd = fd;
		close(g->listen_fd); /* one client: no one else may connect */
		g->listen_fd = -1;
		gdb_conn_init(&g->conn, &(struct gdb_target){ &hv_target_ops, g }, sock_send, g);
		if (!g->vm->quiet)
			fprintf(stderr, "hv: gdb connected\n");
		return true;
	}
	return false;
}

/* A stop in the trace: a new kind, HVT_GDB (trace.h), so hvviz's timeline shows it. */
static void trace_stop(struct gdb_server *g, int sig)
{
	struct vm *vm = g->vm;
	if (!vm->trace)
		return;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct hvt_record rec = { .time_ns = trace_now(vm->trace), .kind = HVT_GDB,
				  .reason = (uint8_t)g->why, .data = (uint64_t)sig, .count = 1 };
	if (regs_get(vm, &r) == 0 && sregs_get(vm, &s) == 0) {
		rec.rip = rec.addr = r.rip;
		rec.mode = cpu_mode(&s);
		rec.cpl = cpu_cpl(&s);
	}
	trace_emit_now(vm->trace, &rec);
}

/*
 * The guest is stopped: talk to gdb until it resumes, detaches or kills. The vCPU thread is
 * between two KVM_RUNs, so every register and byte of RAM holds still.
 */
static void serve(struct gdb_server *g, int sig)
{
	struct vm *vm = g->vm;
	if (g->fd < 0 && !accept_client(g))
		return;
	if (g->note[0]) {
		gdb_console(&g->conn, g->note);
		g->note[0] = 0;
	}
	if (g->owe_reply)
		gdb_stopped(&g->conn, sig, g->extra); /* the answer to c / s / vCont */
	else
		snprintf(g->conn.stop_reply, sizeof g->conn.stop_reply, "T%02xthread:01;", sig);
	g->owe_reply = false;
	g->extra[0] = 0;
	for (;;) {
		if (g->rpos == g->rlen) {
			ssize_t n = read(g->fd, g->rbuf, sizeof g->rbuf);
			if (n < 0 && errno == EINTR) {
				if (vm->cpu.kick != KICK_NONE)
					return; /* hv is being stopped (Ctrl-C at hv, --timeout) */
				continue;
			}
			if (n <= 0) {
				if (!vm->quiet)
					fprintf(stderr, "hv: gdb disconnected; the guest runs on without it\n");
				go_detached(g);
				return;
			}
			g->rpos = 0;
			g->rlen = (size_t)n;
		}
		enum gdb_action act = gdb_feed(&g->conn, g->rbuf[g->rpos++]);
		switch (act) {
		case GDB_CONTINUE:
		case GDB_STEP:
			g->stepping = act == GDB_STEP;
			if (g->stepping)
				catch_int_handler(g);
			if ((g->emulated || g->pvm) && !g->stepping)
				watch_snapshot(g);
			g->owe_reply = true;
			g->dirty = true;
			return;
		case GDB_DETACH:
			if (!vm->quiet)
				fprintf(stderr, "hv: gdb detached; the guest runs on\n");
			go_detached(g);
			return;
		case GDB_KILL:
			vm_stop_with(vm, HV_EXIT_INTERRUPTED, "killed by gdb (kill)");
			go_detached(g);
			return;
		case GDB_INTERRUPT: /* already stopped: nothing to do */
		case GDB_NONE:
			break;
		}
	}
}

uint64_t gdb_before_run(struct vm *vm)
{
	struct gdb_server *g = vm->gdb;
	if (!g || g->detached)
		return 0;
	if (g->first) {
		g->first = false;
		if (g->hold) {
			g->want_stop = SIGTRAP_GDB;
			g->why = HVT_GDB_HOLD;
		}
	}
	uint64_t paused = 0;
	int sig = g->want_stop;
	if (sig && !(vm->stop.requested && g->fd < 0)) {
		uint64_t t0 = vm_now_ns();
		g->want_stop = 0;
		step_bp_remove(vm, &g->handler); /* a stepi's trap the CPU never reached */
		set_guest_running(g, false);
		trace_stop(g, sig);
		serve(g, sig);
		set_guest_running(g, true);
		paused = vm_now_ns() - t0;
	}
	if (vm->stop.requested && !g->detached) {
		/* The run ends: gdb, if it waits for a stop, hears that the guest exited. */
		if (g->fd >= 0 && g->owe_reply)
			gdb_exited(&g->conn, vm->stop.status);
		go_detached(g);
		return paused;
	}
	if (g->dirty || g->detached)
		apply_debug(g);
	return paused;
}

/* Is the instruction at the guest's rip a port I/O instruction (after prefixes)? */
static bool rip_at_io(struct gdb_server *g)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t b[4];
	if (regs_get(g->vm, &r) < 0 || sregs_get(g->vm, &s) < 0 ||
	    mem_access(g->vm, s.cs.base + r.rip, b, sizeof b, false) < 0)
		return false;
	int i = 0;
	while (i < 3 && (b[i] == 0x66 || b[i] == 0xF3 || b[i] == 0xF2))
		i++;
	return (b[i] >= 0xE4 && b[i] <= 0xE7) || (b[i] >= 0xEC && b[i] <= 0xEF) ||
	       (b[i] >= 0x6C && b[i] <= 0x6F);
}

/*
 * Seeking (emulated SVM), after one stepped instruction: did it change a watched value, or
 * does the CPU now stand on a breakpoint? The watch first, as on the hardware: a data
 * breakpoint fires right after the writing instruction, before the next one could hit an
 * execution breakpoint. pc is the linear address of the next instruction (cs base + rip).
 * true: stop the guest (g->extra says which watch, if one).
 */
static bool seek_hit(struct gdb_server *g, uint64_t pc)
{
	for (int i = 0; i < GDB_HW_SLOTS; i++) {
		struct gdb_hw *h = &g->hw[i];
		uint8_t now[8];
		if (!h->used || h->type != GDB_WP_WRITE ||
		    mem_access(g->vm, h->addr, now, h->len, false) < 0)
			continue;
		bool changed = h->old_valid && memcmp(now, h->old, h->len) != 0;
		memcpy(h->old, now, h->len);
		h->old_valid = true;
		if (changed) {
			snprintf(g->extra, sizeof g->extra, "watch:%llx;", (unsigned long long)h->addr);
			return true;
		}
	}
	for (int i = 0; i < GDB_HW_SLOTS; i++)
		if (g->hw[i].used && g->hw[i].type == GDB_BP_HW && g->hw[i].addr == pc)
			return true;
	for (int i = 0; i < GDB_SW_MAX; i++)
		if (g->sw[i].used && g->sw[i].addr == pc)
			return true;
	return false;
}

bool gdb_handle_debug(struct vm *vm, struct hvt_record *r)
{
	struct gdb_server *g = vm->gdb;
	if (!g || g->detached)
		return false;
	if (step_trap_take(vm, &g->handler)) {
		frame_clear_tf(g);
		/* A stepi over `int n` reached the handler: the exit loop completes the OUT and
		 * puts rip back on the handler's first instruction (step_io_trap_finished), then
		 * gdb hears of the stop. A debug exit in the trace, like the stepi it ends. */
		r->reason = HVT_R_DEBUG;
		g->extra[0] = 0;
		g->why = HVT_GDB_TRAP;
		g->want_stop = SIGTRAP_GDB;
		g->stepping = false;
		g->dirty = true;
		return true;
	}
	if (vm->run->exit_reason != KVM_EXIT_DEBUG)
		return false;
	struct kvm_debug_exit_arch *d = &vm->run->debug.arch;
	r->reason = HVT_R_DEBUG;
	g->extra[0] = 0;
	if (g->seeking) {
		if (!seek_hit(g, d->pc)) {
			/* Not there yet: a silent step, like step.c's seek. No trace record, not
			 * counted (vcpu.c's finish_exit reads step.hide), and TF armed again for the
			 * next entry (an interrupt's delivery clears it). */
			g->seek_steps++;
			vm->step.hide = true;
			g->dirty = true;
			return true;
		}
		g->seeking = false;
		g->dirty = true;
	} else if (d->exception == 3) {
		/* #BP from our INT3. VT-x reports it at the INT3, AMD-V after it: rip goes back onto
		 * the breakpoint's address, where gdb expects the CPU to stand. */
		for (int i = 0; i < GDB_SW_MAX; i++)
			if (g->sw[i].used && d->pc == g->sw[i].addr + 1) {
				struct kvm_regs rr;
				if (regs_get(vm, &rr) == 0 && rr.rip == g->sw[i].addr + 1) {
					rr.rip -= 1;
					regs_set(vm, &rr);
				}
			}
	} else {
		for (int i = 0; i < GDB_HW_SLOTS; i++) {
			const struct gdb_hw *h = &g->hw[i];
			if (!(d->dr6 & (1u << i)) || !h->used || h->type == GDB_BP_HW)
				continue;
			snprintf(g->extra, sizeof g->extra, "%s:%llx;",
				 h->type == GDB_WP_WRITE ? "watch" : h->type == GDB_WP_READ ? "rwatch"
											   : "awatch",
				 (unsigned long long)h->addr);
			break;
		}
	}
	g->why = HVT_GDB_TRAP;
	g->want_stop = SIGTRAP_GDB;
	if (g->stepping) {
		g->stepping = false;
		g->dirty = true;
	}
	return true;
}

void gdb_after_exit(struct vm *vm, const struct hvt_record *r)
{
	struct gdb_server *g = vm->gdb;
	if (!g || g->detached || r->reason == HVT_R_INTR || r->reason == HVT_R_DEBUG)
		return;
	struct kvm_regs buf;
	const struct kvm_regs *rp = regs_at_exit(vm, &buf);
	struct gdb_exit *e = &g->ring[g->nexits % GDB_RING];
	*e = (struct gdb_exit){ .n = vm->exits_seen + 1, .addr = r->addr, .data = r->data,
				.rip = rp ? rp->rip : 0, .reason = r->reason, .size = r->size,
				.flags = r->flags };
	g->nexits++;
	bool match = (g->brk == BRK_ANY) ||
		     (g->brk == BRK_IO && r->reason == HVT_R_IO) ||
		     (g->brk == BRK_MMIO && r->reason == HVT_R_MMIO) ||
		     (g->brk == BRK_HLT && r->reason == HVT_R_HLT);
	if (!match || (g->brk_has_addr && r->addr != g->brk_addr))
		return;
	g->brk = BRK_OFF; /* once: set it again to stop at the next one */
	const char *where = r->reason == HVT_R_IO
		? (rip_at_io(g) ? "rip is still at the I/O instruction: KVM completes it (rip "
				  "moves past it) when the guest resumes"
				: "rip is already past the I/O instruction")
		: r->reason == HVT_R_MMIO ? "rip is at the instruction: KVM completes it when the "
					    "guest resumes"
		: "rip is past the instruction";
	snprintf(g->note, sizeof g->note, "hv: break-exit: stopped after exit #%llu, %s%s "
		 "addr=0x%llx data=0x%llx; %s\n", (unsigned long long)e->n,
		 hvt_reason_name(r->reason), r->flags & HVT_F_WRITE ? " write" : "",
		 (unsigned long long)r->addr, (unsigned long long)r->data, where);
	g->why = HVT_GDB_BREAK_EXIT;
	g->want_stop = SIGTRAP_GDB;
}

/* ---- the watcher thread: input from gdb while the guest runs ---- */

/*
 * While the guest runs, gdb sends only Ctrl-C (0x03), or an ack ('+') of a packet the stub
 * sent before the guest resumed, which can arrive late on a busy host. An ack is taken here
 * and is not a reason to stop the guest: a stop for it would reach gdb as a SIGINT the user
 * never typed. Anything else (0x03, a packet, the end of the connection) stops the guest.
 */
static bool take_late_ack(int fd)
{
	char b;
	if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 1 || b != '+')
		return false;
	return recv(fd, &b, 1, MSG_DONTWAIT) == 1;
}

static void *watcher_main(void *arg)
{
	struct gdb_server *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->quit) {
		if (!g->guest_running) {
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		int fd = g->fd >= 0 ? g->fd : g->listen_fd;
		pthread_mutex_unlock(&g->lock);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = fd >= 0 ? poll(&p, 1, 100) : 0;
		pthread_mutex_lock(&g->lock);
		if (n > 0 && g->fd >= 0 && g->guest_running && !g->quit && take_late_ack(fd))
			continue;
		if (n > 0 && g->guest_running && !g->quit) {
			/* A connect (--gdb-nowait) or a byte from gdb (Ctrl-C, or the end of the
			 * connection): the vCPU thread must stop and read it. */
			g->why = g->fd >= 0 ? HVT_GDB_INTERRUPT : HVT_GDB_HOLD;
			g->want_stop = g->fd >= 0 ? SIGINT_GDB : SIGTRAP_GDB;
			vcpu_kick(g->vm, KICK_NONE);
			while (g->guest_running && !g->quit)
				pthread_cond_wait(&g->cond, &g->lock);
		} else if (fd < 0) {
			pthread_cond_wait(&g->cond, &g->lock);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int gdb_server_start(struct vm *vm, const struct gdb_options *opt)
{
	char host[64], err[160];
	uint16_t port;
	if (gdb_parse_spec(opt->spec, host, sizeof host, &port, err, sizeof err) < 0) {
		fprintf(stderr, "hv: %s\n", err);
		return -1;
	}
	struct gdb_server *g = calloc(1, sizeof *g);
	if (!g) {
		fprintf(stderr, "hv: out of memory\n");
		return -1;
	}
	g->vm = vm;
	g->fd = -1;
	g->first = true;
	g->hold = !opt->nowait;
	g->guest_running = true;
	g->x64 = vm->boot.mode == BOOT_LONG;
	g->emulated = hostinfo_is_emulated_svm(&vm->host);
	g->pvm = vm->host.kind == HVT_HOST_PVM;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	snprintf(g->where, sizeof g->where, "%s:%u", host, port);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, host, &sa.sin_addr);
	int one = 1;
	g->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->listen_fd < 0 ||
	    setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(g->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(g->listen_fd, 1) < 0) {
		fprintf(stderr, "hv: --gdb %s: cannot listen: %s\n", g->where, strerror(errno));
		if (g->listen_fd >= 0)
			close(g->listen_fd);
		free(g);
		return -1;
	}
	gdb_conn_init(&g->conn, &(struct gdb_target){ &hv_target_ops, g }, sock_send, g);
	vm->gdb = g;
	if (vm_start_thread(&g->watcher, watcher_main, g) == 0)
		g->watcher_started = true;
	if (opt->nowait && !vm->quiet)
		fprintf(stderr, "hv: gdb may connect on %s\n", g->where);
	return 0;
}

void gdb_server_stop(struct vm *vm)
{
	struct gdb_server *g = vm->gdb;
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->quit = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	if (g->watcher_started)
		pthread_join(g->watcher, NULL);
	if (g->fd >= 0)
		close(g->fd);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	free(g);
	vm->gdb = NULL;
}
