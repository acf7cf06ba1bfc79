/*
 * sixstep.c - where one trace record stands on the path of a guest device access: the lanes
 * it crosses, which of the six steps it is, and one line saying what the hardware and the
 * software do at that moment, with the record's own values.
 *
 * Concept: a virtualized machine runs code in four places (viz/sixstep.h): the guest's process
 * (VMX non-root, ring 3), the guest's kernel (non-root, ring 0), KVM (root, ring 0) and hv
 * (root, ring 3). One guest device access travels through all four and back, in six steps
 * (hv/vcpu.c's top comment; textbook chapter 3 "Exits", section "The six steps", and chapter 5
 * "A guest OS", section "The six steps, all of them"):
 *
 *   record            lanes                        step
 *   ring syscall      guest ring 3 -> guest ring 0   1   the process asks its kernel (no exit)
 *   (exit's rip)      guest ring 0                   2   the driver executes IN/OUT/MOV
 *   exit io/mmio      guest -> KVM                   3   the CPU traps it: VM exit
 *   run-return        KVM -> hv                      4   KVM_RUN returns to hv
 *   vq, disk          hv                             5   hv plays the device
 *   irq line (device) hv                             5   the device raises its line
 *   run-call, entry   hv -> KVM -> guest             0   the trace's first: hv starts the guest
 *   run-return, run-call, entry                      0   the round trip of an exit that is no
 *                                                        device access (HLT, a signal, ...)
 *   run-call, entry   hv -> KVM -> guest             6   back into the guest
 *   ring sysret       guest ring 0 -> guest ring 3   6   the system call returns
 *
 * Step 2 has no record of its own: it is the instruction at the exit record's rip, so the exit
 * names it. Exits that are not a device access (HLT, a signal, a single step) cross the same
 * lanes with step 0, and so do asynchronous records (the timer's line, an injection: they run
 * on their own clock, sixstep_is_async). The words follow the host kind of the trace (struct
 * sixstep_ctx): EPT and VMLAUNCH/VMRESUME on Intel, NPT and VMRUN on AMD, KVM's emulator and
 * no root mode on PVM (textbook chapter 6, "Path"). The classification is a pure function of
 * one record and that context: no screen, and the model only in sixstep_ctx_of, so
 * tests/unit/test_sixstep.c checks every kind, reason, CPL and host kind.
 *
 * A record comes from a file, and a file can say anything: every value is printed as a number
 * and every name comes from a table with a range check, so no field can index out of bounds
 * or inject text. Every string is built with snprintf into the fixed buffers of struct
 * path_step; the tests check that nothing had to be cut off.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "pvtrace.h"
#include "sixstep.h"
#include "trace_names.h"

/* ---- lanes ---- */

const char *lane_name(int lane)
{
	static const char *const names[LANE_COUNT] = { "guest ring 3", "guest ring 0", "KVM", "hv" };
	return lane >= 0 && lane < LANE_COUNT ? names[lane] : "-";
}

/*
 * Where each lane runs, in the CPU's terms. VMX root/non-root (AMD: host/guest mode) is the
 * virtualization boundary; the ring is the ordinary privilege level, which exists on both
 * sides: hv is a plain user process (root, ring 3), KVM is kernel code (root, ring 0).
 */
const char *lane_where(int lane)
{
	static const char *const where[LANE_COUNT] = { "non-root ring 3", "non-root ring 0",
						       "root ring 0", "root ring 3" };
	return lane >= 0 && lane < LANE_COUNT ? where[lane] : "-";
}

/*
 * PVM has no root and non-root mode: the guest runs deprivileged, as a special context of the
 * host (chapter 0), and hvlab's guests mostly inside KVM's instruction emulator. So on a PVM
 * trace the lanes say only which side and which ring.
 */
const char *lane_where_on(int lane, unsigned host)
{
	static const char *const pvm[LANE_COUNT] = { "deprivileged", "deprivileged", "host ring 0",
						     "host ring 3" };
	if (host != HVT_HOST_PVM)
		return lane_where(lane);
	return lane >= 0 && lane < LANE_COUNT ? pvm[lane] : "-";
}

/* The guest lane of a CPL. Rings 1 and 2 exist on x86 but no hvlab guest uses them; they are
 * privileged (not ring 3), so they go with the kernel. A hostile file's CPL 200 does too. */
static int lane_of_cpl(unsigned cpl)
{
	return cpl == 3 ? LANE_GUEST3 : LANE_GUEST0;
}

/* Fill the lanes and step; the text is filled by the caller. */
static void set_path(struct path_step *out, int from, int to, int step)
{
	out->from = from;
	out->to = to;
	out->step = step;
}

/* ---- names ---- */

/* The device behind a port or address (viz/model.c knows the machine's map, hv/layout.h). */
static const char *device_word(const struct hvt_record *r)
{
	struct hvt_record e = *r;
	e.kind = HVT_EXIT; /* guest-error records carry the port the same way an exit does */
	return viz_device_name(viz_device_of(&e));
}

/* The x86 exceptions a student meets first (Intel SDM vol. 3A, "Exception and Interrupt
 * Reference"); the others print as their vector number only. */
static const char *exception_name(uint64_t vector)
{
	switch (vector) {
	case 0: return "#DE divide error";
	case 1: return "#DB debug";
	case 3: return "#BP breakpoint";
	case 6: return "#UD invalid opcode";
	case 8: return "#DF double fault";
	case 13: return "#GP general protection";
	case 14: return "#PF page fault";
	default: return "exception";
	}
}

/* The cache modes of hv/disk.h (enum disk_cache), as --cache spells them. */
static const char *cache_name(uint64_t mode)
{
	static const char *const names[] = { "writeback", "writethrough", "none", "unsafe" };
	return mode < sizeof names / sizeof names[0] ? names[mode] : "?";
}

/* ---- the host's words: what the CPU does differs between Intel, AMD and PVM ---- */

static unsigned ctx_host(const struct sixstep_ctx *ctx)
{
	return ctx && ctx->host <= HVT_HOST_MAX ? ctx->host : HVT_HOST_UNKNOWN;
}

/*
 * Why an MMIO access exits. Guest-physical addresses are translated by a second set of page
 * tables the guest cannot see: the EPT on Intel (SDM vol. 3C, "EPT Violations"), the nested
 * page tables (NPT) on AMD (APM vol. 2, "Nested Paging"). An address with no RAM has no entry
 * there, so the access faults to KVM. PVM uses no hardware virtualization: KVM keeps shadow page
 * tables for the guest (textbook chapter 2), and the access faults in those instead. A nested
 * host is VT-x or AMD-V offered by the hypervisor below; the trace does not say which.
 */
static const char *mmio_fault(unsigned host)
{
	switch (host) {
	case HVT_HOST_VMX: return "an EPT violation, a VM exit; KVM decodes it";
	case HVT_HOST_SVM: return "an NPT fault (AMD), a VM exit; KVM decodes it";
	case HVT_HOST_PVM: return "KVM's emulator (PVM runs the guest in it) hands it to hv";
	case HVT_HOST_NESTED: return "an EPT (Intel) or NPT (AMD) fault, a VM exit; KVM decodes it";
	default: return "a second-level page fault, a VM exit; KVM decodes it";
	}
}

/* "root" and "non-root" are VT-x's words (AMD: host and guest mode); PVM has neither, and its
 * host side is just the host kernel (ring 0) and hv (ring 3). */
static const char *root_word(unsigned host)
{
	return host == HVT_HOST_PVM ? "host" : "root";
}

/*
 * The instruction that enters the guest. Intel starts a guest with VMLAUNCH and goes back
 * with VMRESUME (SDM vol. 3C, "VM Entries"); AMD uses VMRUN for both (APM vol. 2, "VMRUN
 * Instruction"). PVM has neither: KVM switches from the host's context to the guest's, as an
 * operating system switches to a process.
 */
static const char *entry_how(unsigned host, int first)
{
	switch (host) {
	case HVT_HOST_VMX:
		return first ? "VMLAUNCH: the CPU loads the guest state, root -> non-root" :
			       "VMRESUME: the CPU loads the guest state, root -> non-root";
	case HVT_HOST_SVM: return "VMRUN: the CPU loads the guest state, host -> guest mode";
	case HVT_HOST_PVM: return "PVM has no VMX/SVM instruction: KVM switches to the guest's "
				  "context, which runs deprivileged";
	default: return first ? "VMLAUNCH on Intel, VMRUN on AMD: the CPU loads the guest state" :
				"VMRESUME on Intel, VMRUN on AMD: the CPU loads the guest state";
	}
}

/* ---- HVT_EXIT: step 3, or an exit that is no device access ---- */

/*
 * Port I/O. On VT-x, IN/OUT/INS/OUTS exit because KVM set "unconditional I/O exiting" or the
 * port's bit in the I/O bitmaps; the exit qualification gives port, size and direction
 * (textbook chapter 3, "The six steps", step 3). For an IN, the record's data is the value hv's
 * device returned, which the guest finds in AL/AX/EAX after the next entry.
 */
/*
 * Where the instruction was. A write needs nothing back from hv, so KVM may finish it before
 * returning to hv and the recorded rip is then the next instruction; a read cannot finish
 * before hv answers, so rip is still on it (textbook chapter 3, "Port I/O exits": which one
 * happens is up to KVM's version and back end).
 */
static const char *past_it(int write)
{
	return write ? " (a write: KVM may be past it)" : "";
}

static void exit_io(const struct hvt_record *r, unsigned host, struct path_step *out)
{
	int wr = (r->flags & HVT_F_WRITE) != 0, str = (r->flags & HVT_F_STRING) != 0;
	const char *insn = str ? (wr ? "outs" : "ins") : (wr ? "out" : "in");
	const char *dev = device_word(r);
	char what[64];
	if (str)
		snprintf(what, sizeof what, "`rep %s` of %" PRIu32 " x %u bytes", insn, r->count, r->size);
	else if (wr)
		snprintf(what, sizeof what, "a %u-byte `out` of 0x%" PRIx64, r->size, r->data);
	else
		snprintf(what, sizeof what, "a %u-byte `in` (hv answers 0x%" PRIx64 ")", r->size, r->data);
	snprintf(out->title, sizeof out->title, "VM exit: %s 0x%" PRIx64 " (%s)", insn, r->addr, dev);
	/* On PVM no CPU trap happens: KVM's emulator, which runs these guests there, meets the
	 * instruction and gives it to hv (chapter 3: io_exits stays 0 on PVM). */
	if (host == HVT_HOST_PVM)
		snprintf(out->explain, sizeof out->explain,
			 "on PVM, KVM's emulator meets %s %s port 0x%" PRIx64 " (%s) and exits to hv; "
			 "%s ran it (step 2); rip=0x%" PRIx64 "%s",
			 what, wr ? "to" : "from", r->addr, dev,
			 r->cpl == 3 ? "guest ring-3 code" : "the guest's driver", r->rip, past_it(wr));
	else
		snprintf(out->explain, sizeof out->explain,
			 "the CPU traps %s %s port 0x%" PRIx64 " (%s): VM exit, non-root -> root; %s "
			 "ran it (step 2); rip=0x%" PRIx64 "%s",
			 what, wr ? "to" : "from", r->addr, dev,
			 r->cpl == 3 ? "guest ring-3 code" : "the guest's driver", r->rip, past_it(wr));
}

/*
 * MMIO. The address has no RAM behind it, so the guest's load or store faults in the second
 * level page tables (an EPT violation on Intel, a nested page fault on AMD): a VM exit. KVM
 * decodes the instruction to learn size, direction and data before it hands it to hv. On PVM
 * hvlab's guests run in KVM's instruction emulator (chapter 0, chapter 3 "Exits hv never
 * sees"), which finds no memory slot at the address and hands the access to hv itself.
 */
static void exit_mmio(const struct hvt_record *r, unsigned host, struct path_step *out)
{
	int wr = (r->flags & HVT_F_WRITE) != 0;
	const char *dev = device_word(r);
	char what[48];
	if (wr)
		snprintf(what, sizeof what, "a %u-byte store of 0x%" PRIx64, r->size, r->data);
	else
		snprintf(what, sizeof what, "a %u-byte load (hv answers 0x%" PRIx64 ")", r->size, r->data);
	snprintf(out->title, sizeof out->title, "VM exit: %s 0x%" PRIx64 " (%s)",
		 wr ? "write" : "read", r->addr, dev);
	snprintf(out->explain, sizeof out->explain,
		 "%s at 0x%" PRIx64 " (%s) finds no RAM: %s; %s ran it (step 2); rip=0x%"
		 PRIx64 "%s",
		 what, r->addr, dev, mmio_fault(host), r->cpl == 3 ? "guest ring-3 code" : "the driver",
		 r->rip, past_it(wr));
}

/* Single step or breakpoint (hv run --step, hv/step.c): KVM_SET_GUEST_DEBUG turns the guest's
 * #DB into an exit to hv instead of delivering it through the guest's IDT. */
static void exit_debug(const struct hvt_record *r, struct path_step *out)
{
	if (r->flags & HVT_F_STEPPED) {
		snprintf(out->title, sizeof out->title, "VM exit: single step %" PRIu64, r->data);
		snprintf(out->explain, sizeof out->explain,
			 "hv run --step: the trap flag raised #DB after one instruction (step %" PRIu64
			 "); KVM_SET_GUEST_DEBUG makes it an exit to hv: cpl%u rip=0x%" PRIx64,
			 r->data, r->cpl, r->rip);
		return;
	}
	snprintf(out->title, sizeof out->title, "VM exit: debug");
	snprintf(out->explain, sizeof out->explain,
		 "a breakpoint or single step (#DB) at rip=0x%" PRIx64 ": KVM_SET_GUEST_DEBUG makes "
		 "it an exit to hv instead of an exception in the guest", r->rip);
}

/* Exits that end the run or are the host's doing: no device access, step 0. */
static void exit_other(const struct hvt_record *r, struct path_step *out)
{
	snprintf(out->title, sizeof out->title, "VM exit: %s", hvt_reason_name(r->reason));
	switch (r->reason) {
	/* "HLT exiting" is a VMCS control KVM sets; without an in-kernel irqchip (hv/irq.c keeps
	 * the PIC in user space) KVM cannot know what would wake the CPU, so it asks hv. */
	case HVT_R_HLT:
		snprintf(out->explain, sizeof out->explain,
			 "HLT: the guest has nothing to do; KVM returns to hv because hv keeps the "
			 "interrupt controller itself: IF=0 ends the run, IF=1 waits for an interrupt "
			 "(rip=0x%" PRIx64 ")", r->rip);
		break;
	case HVT_R_SHUTDOWN:
		snprintf(out->explain, sizeof out->explain,
			 "triple fault: an exception while delivering a double fault; real hardware "
			 "would reset, KVM reports a shutdown and hv stops the VM (rip=0x%" PRIx64 ")",
			 r->rip);
		break;
	case HVT_R_INTERNAL:
		snprintf(out->explain, sizeof out->explain,
			 "KVM's internal error: its instruction emulator gave up at rip=0x%" PRIx64
			 "; hv cannot go on and stops the VM with a diagnostic", r->rip);
		break;
	/* KVM_RUN checks for pending signals (and immediate_exit) before every entry and returns
	 * -EINTR: this is how one thread stops another thread's vCPU. */
	case HVT_R_INTR:
		snprintf(out->explain, sizeof out->explain,
			 "a signal to hv's vCPU thread (timeout, Ctrl-C or an interrupt kick) made "
			 "KVM_RUN return early: the host stopped the guest, not its own instruction");
		break;
	case HVT_R_SYSTEM_EVENT:
		snprintf(out->explain, sizeof out->explain,
			 "the guest asked the platform for a reset or power-off; KVM reports a system "
			 "event and hv ends the run");
		break;
	/* The "interrupt-window exiting" control: the CPU exits as soon as RFLAGS.IF = 1 and no
	 * MOV SS/STI shadow blocks interrupts, which is exactly when an injection can succeed. */
	case HVT_R_IRQ_WINDOW:
		snprintf(out->explain, sizeof out->explain,
			 "the guest can take an interrupt now (IF=1, no interrupt shadow): KVM exits "
			 "because hv set request_interrupt_window; hv injects before the next entry");
		break;
	case HVT_R_OTHER:
		snprintf(out->explain, sizeof out->explain,
			 "KVM exit reason %" PRIu64 ", which hv does not handle: fail-closed, hv stops "
			 "the VM with a diagnostic instead of guessing", r->data);
		break;
	default:
		snprintf(out->explain, sizeof out->explain,
			 "an exit with reason %u (%s): the guest stopped at rip=0x%" PRIx64
			 "; not a device access", r->reason, hvt_reason_name(r->reason), r->rip);
		break;
	}
}

static void classify_exit(const struct hvt_record *r, unsigned host, struct path_step *out)
{
	int guest = lane_of_cpl(r->cpl);
	/* A failed entry never reached the guest: the CPU refused the state KVM loaded (SDM vol.
	 * 3C, "VM-Entry Failures"), so the event stays in KVM. */
	if (r->reason == HVT_R_FAIL_ENTRY) {
		set_path(out, LANE_KVM, LANE_KVM, 0);
		snprintf(out->title, sizeof out->title, "VM entry failed");
		snprintf(out->explain, sizeof out->explain,
			 "VM entry failed: the CPU checked the guest state KVM loaded and refused it, "
			 "so the guest never ran; hv stops and explains (rip=0x%" PRIx64 ")", r->rip);
		return;
	}
	if (r->reason == HVT_R_IO || r->reason == HVT_R_MMIO) {
		set_path(out, guest, LANE_KVM, 3);
		if (r->reason == HVT_R_IO)
			exit_io(r, host, out);
		else
			exit_mmio(r, host, out);
		return;
	}
	set_path(out, guest, LANE_KVM, 0);
	if (r->reason == HVT_R_DEBUG)
		exit_debug(r, out);
	else
		exit_other(r, out);
}

/* ---- steps 4 and 6: the host-side transitions around every exit ---- */

static void classify_run_return(const struct hvt_record *r, unsigned host, int other,
				struct path_step *out)
{
	(void)r;
	set_path(out, LANE_KVM, LANE_HV, other ? 0 : 4);
	snprintf(out->title, sizeof out->title, "KVM_RUN returns to hv");
	snprintf(out->explain, sizeof out->explain,
		 "KVM could not finish this exit in the kernel: it fills kvm_run (exit_reason, port "
		 "or address, data) and KVM_RUN returns to hv, %s ring 0 -> %s ring 3",
		 root_word(host), root_word(host));
}

/*
 * The first KVM_RUN starts the guest: no exit came before it, so it is no step of a path (0),
 * and there is no answer to hand back.
 */
static void classify_run_call(const struct hvt_record *r, unsigned host, int first, int other,
			      struct path_step *out)
{
	(void)r;
	if (first) {
		set_path(out, LANE_HV, LANE_KVM, 0);
		snprintf(out->title, sizeof out->title, "hv starts the guest: KVM_RUN");
		snprintf(out->explain, sizeof out->explain,
			 "hv has loaded the guest and set its registers; its first ioctl(KVM_RUN) "
			 "starts it, %s ring 3 -> %s ring 0; no exit came before this one",
			 root_word(host), root_word(host));
		return;
	}
	set_path(out, LANE_HV, LANE_KVM, other ? 0 : 6);
	snprintf(out->title, sizeof out->title, "hv calls KVM_RUN");
	snprintf(out->explain, sizeof out->explain,
		 "hv is done with the exit and calls ioctl(KVM_RUN) again, %s ring 3 -> %s ring "
		 "0; for an IN or an MMIO load KVM first puts hv's answer into the guest's register",
		 root_word(host), root_word(host));
}

static void classify_entry(const struct hvt_record *r, unsigned host, int first, int other,
			   struct path_step *out)
{
	if (first) {
		set_path(out, LANE_KVM, lane_of_cpl(r->cpl), 0);
		snprintf(out->title, sizeof out->title, "VM entry: the guest starts");
		snprintf(out->explain, sizeof out->explain,
			 "the first VM entry, a launch, not a return: %s; the guest runs its first "
			 "instruction in ring %u at rip=0x%" PRIx64, entry_how(host, 1), r->cpl, r->rip);
		return;
	}
	set_path(out, LANE_KVM, lane_of_cpl(r->cpl), other ? 0 : 6);
	snprintf(out->title, sizeof out->title, "VM entry: back to the guest");
	snprintf(out->explain, sizeof out->explain,
		 "VM entry, %s; the guest goes on in ring %u where it stopped (rip=0x%" PRIx64
		 "), unaware it left", entry_how(host, 0), r->cpl, r->rip);
}

/* ---- step 5: hv plays the device ---- */

/*
 * A device step done by hv's I/O thread (--ioeventfd, hv/iothread.c), not by the vCPU thread:
 * the doorbell store exited to KVM, which matched it to an ioeventfd, signalled it in the kernel
 * and resumed the guest at once. No exit reached hv; the guest runs while this happens.
 */
static int by_iothread(const struct hvt_record *r)
{
	return r->vcpu == HVT_VCPU_IOTHREAD;
}

/* Append "; <what>" to out->explain, within the buffer. */
static void explain_append(struct path_step *out, const char *what)
{
	size_t n = strlen(out->explain);
	snprintf(out->explain + n, sizeof out->explain - n, "; %s", what);
}

/* The virtio status bits (virtio 1.x, 2.1) a driver sets one at a time while it starts. */
static const char *status_step(uint64_t now, uint64_t was)
{
	uint64_t added = now & ~was;
	if (now == 0)
		return "reset: the device forgets its queues";
	if (added & 0x80)
		return "FAILED: the driver gave up";
	if (added & 0x40)
		return "NEEDS_RESET: the device stopped the queue";
	if (added & 0x04)
		return "DRIVER_OK: the device is live";
	if (added & 0x08)
		return "FEATURES_OK: features agreed";
	if (added & 0x02)
		return "DRIVER: a driver knows this device";
	if (added & 0x01)
		return "ACKNOWLEDGE: the driver saw the device";
	return "no new bit";
}

/* virtio-blk request types (virtio 1.x, 5.2.6), and what hv does for each (virtio_blk.c). */
static const char *blk_type_name(uint64_t type)
{
	switch (type) {
	case 0: return "IN (read)";
	case 1: return "OUT (write)";
	case 4: return "FLUSH";
	case 8: return "GET_ID";
	default: return "an unknown type";
	}
}

static const char *blk_type_work(uint64_t type)
{
	switch (type) {
	case 0: return "hv preads the image into the guest's buffers";
	case 1: return "hv pwrites the guest's buffers to the image";
	case 4: return "hv makes earlier writes durable (fdatasync)";
	case 8: return "hv copies the disk's serial number";
	default: return "hv answers UNSUPP";
	}
}

/* The half of a VQ record's explanation that depends on the op (field table in trace.h). */
static void vq_text(const struct hvt_record *r, struct path_step *out)
{
	char *e = out->explain;
	size_t n = sizeof out->explain;
	unsigned q = r->size;
	switch (r->reason) {
	/* QueueNotify (virtio-mmio offset 0x50, virtio 1.x 4.2.2): the one register write that
	 * says "go"; everything the device needs is already in guest RAM. */
	case HVT_VQ_NOTIFY:
		snprintf(e, n, "the driver rang queue %u's doorbell (wrote %" PRIu64 " to 0x%" PRIx64
			 "): hv now reads the avail ring in guest RAM and does every request on it",
			 q, r->data, r->addr);
		break;
	/* QueueReady = 1 after QueueDescLow/High etc. (virtio 1.x 4.2.3.2): from now on the three
	 * rings are shared memory that both sides read and write without exits. */
	case HVT_VQ_READY:
		snprintf(e, n, "the driver set up queue %u in its RAM: %" PRIu32 " descriptors at 0x%"
			 PRIx64 ", avail ring 0x%" PRIx64 ", used ring 0x%" PRIx64, q, r->count,
			 r->addr, r->data, r->arg);
		break;
	case HVT_VQ_STATUS:
		snprintf(e, n, "the driver wrote device status 0x%" PRIx64 " (was 0x%" PRIx64 "): %s",
			 r->data, r->arg, status_step(r->data, r->arg));
		break;
	/* The split ring (virtio 1.x 2.7): the driver only ever writes the avail ring and the
	 * descriptors, the device only the used ring; free-running 16-bit indices say how far each
	 * side got, so avail.idx - last_avail is the number of new requests. */
	case HVT_VQ_AVAIL_IDX:
		snprintf(e, n, "hv reads avail.idx = %" PRIu64 " at 0x%" PRIx64 "; it has taken %"
			 PRIu32 ": the difference is how many new requests the driver queued",
			 r->data, r->addr, r->count);
		break;
	case HVT_VQ_AVAIL_ENTRY:
		snprintf(e, n, "avail.ring[%" PRIu32 "] at 0x%" PRIx64 " names descriptor %" PRIu64
			 ": the head of one request's chain", r->count, r->addr, r->data);
		break;
	/* Flag bit 1 is VIRTQ_DESC_F_WRITE: the device may write this buffer (a read's data, the
	 * status byte); without it the device only reads (a write's data, the request header). */
	case HVT_VQ_DESC: {
		char next[40] = "the chain ends here";
		if (r->arg & 1) /* VIRTQ_DESC_F_NEXT: the chain goes on at `next` (arg bits 16-31) */
			snprintf(next, sizeof next, "the chain goes on at %" PRIu64,
				 (r->arg >> 16) & 0xFFFFu);
		snprintf(e, n, "descriptor %" PRIu32 ": %" PRIu64 " byte%s at 0x%" PRIx64 ", %s; %s. hv "
			 "reads or writes that buffer in guest RAM directly, no exit per byte",
			 r->count, r->data, r->data == 1 ? "" : "s", r->addr,
			 (r->arg & 2) ? "device-writable" : "device-readable", next);
		break;
	}
	case HVT_VQ_REQUEST:
		snprintf(e, n, "a virtio-blk request (head %" PRIu32 "): %s, sector %" PRIu64 ", %"
			 PRIu64 " bytes; %s", r->count, blk_type_name(r->arg), r->addr, r->data,
			 blk_type_work(r->arg));
		break;
	/* The element is written before used.idx moves: a driver polling the index must never see
	 * an element that is not there yet (virtio 1.x 2.7.8; hv/dev/virtq.c orders the stores). */
	case HVT_VQ_USED_ELEM:
		snprintf(e, n, "hv puts id %" PRIu64 " (%" PRIu64 " bytes written) into used.ring[%"
			 PRIu32 "] at 0x%" PRIx64 ": that request is done", r->arg, r->data, r->count,
			 r->addr);
		break;
	case HVT_VQ_USED_IDX:
		snprintf(e, n, "hv publishes used.idx = %" PRIu64 " at 0x%" PRIx64 ", after the "
			 "elements: now the driver may see the completions", r->data, r->addr);
		break;
	/* InterruptStatus bit 0 = "used buffer notification" (virtio 1.x 4.2.2); the line goes
	 * through hv's PIC (hv/irq.c) and is injected at a later VM entry. */
	case HVT_VQ_IRQ_RAISE:
		snprintf(e, n, "hv sets InterruptStatus 0x%" PRIx64 " and raises the device's "
			 "interrupt line: the driver learns of the completions without polling", r->data);
		break;
	case HVT_VQ_IRQ_SUPPRESS:
		snprintf(e, n, "no interrupt: %s",
			 r->data == HVT_IRQ_NO_INTERRUPT_FLAG ?
				 "the driver set VIRTQ_AVAIL_F_NO_INTERRUPT, it polls the used ring" :
			 r->data == HVT_IRQ_NO_LINE ? "no interrupt line is wired, the driver polls" :
						       "reason unknown");
		break;
	/* The guest owns the rings and can write anything there: each error names the row of the
	 * textbook appendix C that the check defends. */
	case HVT_VQ_ERROR:
		snprintf(e, n, "hv refuses what the driver put in queue %u: %s (textbook appendix C)"
			 " at 0x%" PRIx64 ", index %" PRIu32, q,
			 r->data <= HVT_VQE_MAX ? hvt_vq_error_name((unsigned)r->data) : "?", r->addr,
			 r->count);
		break;
	case HVT_VQ_RESET:
		snprintf(e, n, "the driver wrote status 0: hv resets the device, forgetting its "
			 "queues, features and status");
		break;
	default:
		snprintf(e, n, "virtqueue step %u on queue %u", r->reason, q);
		break;
	}
}

static void classify_vq(const struct hvt_record *r, struct path_step *out)
{
	set_path(out, LANE_HV, LANE_HV, 5);
	snprintf(out->title, sizeof out->title, "virtio-blk: %s q%u", hvt_vq_op_name(r->reason),
		 r->size);
	/* The doorbell through an ioeventfd (textbook chapter 4, "ioeventfd: a doorbell that
	 * stays in the kernel") gets its own sentence: steps 4 and 5 of the exit path are gone. */
	if (r->reason == HVT_VQ_NOTIFY && ((r->flags & HVT_F_EVENTFD) || by_iothread(r))) {
		snprintf(out->explain, sizeof out->explain,
			 "doorbell of queue %u: the store exited to KVM, which signalled the ioeventfd "
			 "in the kernel and resumed the guest; no exit reached hv, its I/O thread woke "
			 "up and reads the avail ring", r->size);
		return;
	}
	vq_text(r, out);
	if (by_iothread(r))
		explain_append(out, "I/O thread: no exit reached hv (ioeventfd)");
}

/* The backend: both controllers end in pread, pwrite, fdatasync on the image (hv/disk.c). */
static void classify_disk(const struct hvt_record *r, struct path_step *out)
{
	static const char *const calls[] = { [HVT_DISK_READ] = "pread", [HVT_DISK_WRITE] = "pwrite",
					     [HVT_DISK_FLUSH] = "fdatasync" };
	const char *call = r->reason >= HVT_DISK_READ && r->reason <= HVT_DISK_FLUSH ?
				   calls[r->reason] : "?";
	const char *dev = r->size == HVT_DISK_ATA ? "legacy ATA" :
			  r->size == HVT_DISK_VIRTIO ? "virtio-blk" : "?";
	char *e = out->explain;
	size_t n = sizeof out->explain;
	set_path(out, LANE_HV, LANE_HV, 5);
	snprintf(out->title, sizeof out->title, "disk: %s (%s)", call, dev);
	/* A failed host system call is the guest's I/O error, never hv's crash: ATA sets ERR in its
	 * status register, virtio-blk answers VIRTIO_BLK_S_IOERR. */
	if (r->flags & HVT_F_ERROR)
		snprintf(e, n, "hv's %s on the image failed with errno %" PRIu64 ": the %s controller "
			 "reports an I/O error to the guest's driver", call, r->data, dev);
	/* FLUSH CACHE / VIRTIO_BLK_T_FLUSH: what the guest was told is on disk must survive a
	 * host crash, which in the page cache only fdatasync guarantees (textbook ch. 4 "Cache
	 * modes"). */
	else if (r->reason == HVT_DISK_FLUSH)
		snprintf(e, n, "the guest asked for a flush: hv %s (cache=%s), so what the guest wrote "
			 "survives a host crash; took %.1f us", r->data ? "calls fdatasync on the image" :
			 "skips fdatasync", cache_name(r->arg), (double)r->duration_ns / 1000.0);
	else
		snprintf(e, n, "the %s device does the real I/O: %s of %" PRIu64 " bytes at offset %"
			 PRIu64 " in the image file (cache=%s), %.1f us in the host kernel", dev, call,
			 r->data, r->addr, cache_name(r->arg), (double)r->duration_ns / 1000.0);
	if (by_iothread(r))
		explain_append(out, "I/O thread: no exit reached hv (ioeventfd)");
}

/*
 * Asynchronous records. The PIT's tick thread raises line 0 on its own clock, in the middle of
 * whatever the guest does; an injection, an interrupt window and a wake-up from HLT deliver an
 * interrupt that was raised earlier, perhaps by another request. Only a device raising its own
 * line as part of the access (an ATA or virtio completion) belongs to the access: step 5.
 */
int sixstep_is_async(const struct hvt_record *r)
{
	if (r->kind != HVT_IRQ)
		return 0;
	if (r->reason != HVT_IRQ_LINE)
		return 1;
	return r->vcpu == HVT_VCPU_TIMER || r->addr == 0; /* IRQ 0 is the PIT's (hv/irq.c) */
}

/* Interrupts: hv keeps the PIC in user space (hv/irq.c, textbook chapter 4, "Interrupts and
 * polling"), so every step of an interrupt's delivery is visible. */
static void classify_irq(const struct hvt_record *r, struct path_step *out)
{
	char *e = out->explain;
	size_t n = sizeof out->explain;
	/* A device raising its line as it finishes a request is step 5 of that request; the
	 * timer and the delivery of an interrupt keep their own clock (sixstep_is_async). */
	set_path(out, LANE_HV, LANE_HV, sixstep_is_async(r) ? 0 : 5);
	switch (r->reason) {
	case HVT_IRQ_LINE:
		snprintf(out->title, sizeof out->title, "irq: line %" PRIu64 " %s%s", r->addr,
			 r->data ? "raised" : "lowered", sixstep_is_async(r) ? " (timer)" : "");
		if (r->data)
			snprintf(e, n, "%s raises interrupt line %" PRIu64 ": hv's PIC latches it and "
				 "hv injects its vector before a VM entry, when the guest can take it%s",
				 r->vcpu == HVT_VCPU_TIMER ? "the PIT's tick thread" : "a device",
				 r->addr, sixstep_is_async(r) ? "; the timer's own clock, no step of "
				 "the access in progress" : "");
		else
			snprintf(e, n, "%s lowers interrupt line %" PRIu64 ": nothing new to inject; an "
				 "edge-triggered PIC line must go low before its next tick can raise it%s",
				 r->vcpu == HVT_VCPU_TIMER ? "the PIT's tick thread" : "a device",
				 r->addr, sixstep_is_async(r) ? "; the timer's own clock, no step of "
				 "the access in progress" : "");
		break;
	/* KVM_INTERRUPT queues the vector; KVM writes it into the VM-entry interruption field, so
	 * the CPU delivers it through the guest's IDT as part of the entry itself. */
	case HVT_IRQ_INJECT:
		snprintf(out->title, sizeof out->title, "irq: inject vector 0x%" PRIx32, r->count);
		snprintf(e, n, "hv injects vector 0x%" PRIx32 " (IRQ %" PRId64 ") with KVM_INTERRUPT: "
			 "the CPU delivers it through the guest's IDT at the next VM entry", r->count,
			 (int64_t)r->addr);
		break;
	case HVT_IRQ_WINDOW:
		snprintf(out->title, sizeof out->title, "irq: wait for a window");
		snprintf(e, n, "an interrupt is pending but the guest cannot take it yet (IF=0 or an "
			 "interrupt shadow): hv sets request_interrupt_window, KVM exits when it can");
		break;
	case HVT_IRQ_WAKE:
		snprintf(out->title, sizeof out->title, "irq: HLT wakes up");
		snprintf(e, n, "the guest's HLT ends: an interrupt line rose after %.1f us asleep; hv "
			 "injects it and the guest goes on in its handler", (double)r->data / 1000.0);
		break;
	default:
		snprintf(out->title, sizeof out->title, "irq: step %u", r->reason);
		snprintf(e, n, "an interrupt step hv does not name (%u)", r->reason);
		break;
	}
}

/* A guest mistake a device refused (hv/dev/ata.c, hv/tracepage.c): traced, counted, survived. */
static void classify_guest_error(const struct hvt_record *r, struct path_step *out)
{
	const char *dev = device_word(r);
	set_path(out, LANE_HV, LANE_HV, 5);
	snprintf(out->title, sizeof out->title, "guest error at %s", dev);
	snprintf(out->explain, sizeof out->explain,
		 "the %s device refused what the guest did at port 0x%" PRIx64 " (error %" PRIu64
		 ", detail 0x%" PRIx64 "): hv records and counts it, and the guest goes on",
		 dev, r->addr, r->data, r->arg);
}

/* ---- HVT_GDB: hv run --gdb stopped the guest for gdb (hv/gdbhv.c) ---- */

static void classify_gdb(const struct hvt_record *r, struct path_step *out)
{
	static const char *const why[] = {
		[HVT_GDB_HOLD] = "held before its first instruction (or when gdb connected)",
		[HVT_GDB_TRAP] = "at a breakpoint, a watchpoint or after a stepi",
		[HVT_GDB_INTERRUPT] = "by Ctrl-C in gdb",
		[HVT_GDB_BREAK_EXIT] = "by monitor break-exit, after the exit just before",
	};
	const char *w = r->reason < sizeof why / sizeof why[0] && why[r->reason] ? why[r->reason] : "?";
	set_path(out, LANE_HV, LANE_HV, 5);
	snprintf(out->title, sizeof out->title, "gdb stop: %s at rip 0x%" PRIx64,
		 hvt_gdb_why_name(r->reason), r->rip);
	snprintf(out->explain, sizeof out->explain,
		 "the guest stands still %s: hv talks to gdb between two KVM_RUNs until gdb "
		 "resumes it (signal %" PRIu64 "); the time until the next KVM_RUN is the user's",
		 w, r->data);
}

/* ---- HVT_RING: ring changes inside the guest (the para-virtual trace page) ---- */

/*
 * Field use (trace.h): reason = kind, cpl = CPL before, size = CPL after, addr = vector,
 * data = nr (low 32 bits) and argument (high 32), rip, count = task. The CPU changes ring
 * through the guest's own IDT and TSS, in non-root mode: KVM is not involved, no exit happens,
 * and hv knows only because the guest kernel wrote it down (hv/pvtrace.h).
 */
static void classify_ring(const struct hvt_record *r, struct path_step *out)
{
	uint32_t nr = (uint32_t)r->data, arg = (uint32_t)(r->data >> 32);
	char *e = out->explain, *t = out->title;
	size_t n = sizeof out->explain, tn = sizeof out->title;
	set_path(out, lane_of_cpl(r->cpl), lane_of_cpl(r->size), 0);
	switch (r->reason) {
	/* int 0x80 goes through IDT gate 0x80 (DPL 3, so ring 3 may use it) and the TSS's ring-0
	 * stack: a privilege change the CPU does on its own inside non-root mode. */
	case HV_PVT_SYSCALL:
		out->step = 1;
		snprintf(t, tn, "system call %" PRIu32 " (%s)", nr, hvt_syscall_name(nr));
		snprintf(e, n, "the process asks its kernel: int 0x%" PRIx64 " nr=%" PRIu32 " (%s) from "
			 "rip=0x%" PRIx64 "; the CPU enters ring 0 through the guest's IDT, no VM exit",
			 r->addr, nr, hvt_syscall_name(nr), r->rip);
		break;
	/* The return of the call that started the path: step 6 ends where step 1 began. */
	case HV_PVT_SYSRET:
		out->step = 6;
		snprintf(t, tn, "system call %" PRIu32 " returns", nr);
		snprintf(e, n, "the kernel returns from %s to the process with 0x%" PRIx32 ": back in "
			 "ring 3 at rip=0x%" PRIx64 ", where the path began", hvt_syscall_name(nr), arg,
			 r->rip);
		break;
	case HV_PVT_EXCEPTION:
		snprintf(t, tn, "exception %" PRIu64, r->addr);
		snprintf(e, n, "a CPU exception, %s (vector %" PRIu64 ", error 0x%" PRIx32 ", CR2 0x%"
			 PRIx32 ") at rip=0x%" PRIx64 ": ring %u -> %u through the guest's IDT, no VM exit",
			 exception_name(r->addr), r->addr, nr, arg, r->rip, r->cpl, r->size);
		break;
	/* hv injected it (hv/irq.c); the guest sees an ordinary hardware interrupt. */
	case HV_PVT_INTERRUPT:
		snprintf(t, tn, "interrupt 0x%" PRIx64, r->addr);
		snprintf(e, n, "interrupt vector 0x%" PRIx64 ", injected by hv at the last VM entry, "
			 "stops ring %u at rip=0x%" PRIx64 ": the CPU enters the guest kernel through its "
			 "IDT", r->addr, r->cpl, r->rip);
		break;
	case HV_PVT_IRET:
		snprintf(t, tn, "iret from 0x%" PRIx64, r->addr);
		snprintf(e, n, "the kernel's handler for vector 0x%" PRIx64 " is done: `iret` goes back "
			 "to ring %u at rip=0x%" PRIx64, r->addr, r->size, r->rip);
		break;
	case HV_PVT_TASK_START:
		snprintf(t, tn, "task %" PRIu32 " starts", r->count);
		snprintf(e, n, "the kernel starts task %" PRIu32 ": its first `iret` drops to ring %u "
			 "at the program's entry, rip=0x%" PRIx64, r->count, r->size, r->rip);
		break;
	case HV_PVT_TASK_EXIT:
		snprintf(t, tn, "task %" PRIu32 " exits", r->count);
		snprintf(e, n, "task %" PRIu32 " called exit(%" PRId32 "): the kernel ends it and runs "
			 "the next one", r->count, (int32_t)nr);
		break;
	case HV_PVT_TASK_KILL:
		snprintf(t, tn, "task %" PRIu32 " killed", r->count);
		snprintf(e, n, "the kernel kills task %" PRIu32 " after %s (vector %" PRIu64 ") at rip=0x"
			 "%" PRIx64 ": a ring-3 fault ends the task, never the kernel", r->count,
			 exception_name(r->addr), r->addr, r->rip);
		break;
	default:
		snprintf(t, tn, "ring change %u", r->reason);
		snprintf(e, n, "a ring change of unknown kind %u: ring %u -> %u at rip=0x%" PRIx64,
			 r->reason, r->cpl, r->size, r->rip);
		break;
	}
}

/* ---- HVT_COUNTER ---- */

/* KVM's name of a statistic; ids a newer hv may add are not checked by the reader (trace.h). */
static const char *counter_name(uint64_t id)
{
	return id >= 1 && id <= HVT_C_MAX ? hvt_counter_name((unsigned)id) : "?";
}

/* ---- the one entry point ---- */

/*
 * Whether the round trip that record r (RUN_RETURN, RUN_CALL or ENTRY) belongs to began with an
 * exit that is no device access. That exit is the nearest EXIT before r on r's vCPU: between
 * them lie only hv's device work (vq, disk: a batch of 16 requests is about 130 records) and
 * other threads' records (the timer), so a bounded look back finds it. Not found: 0, the
 * device access's label, as with no context.
 */
#define ROUND_TRIP_LOOKBACK 4096

static int after_other_exit(const struct model *m, const struct hvt_record *r)
{
	uint64_t stop = r->seq > ROUND_TRIP_LOOKBACK ? r->seq - ROUND_TRIP_LOOKBACK : 0;
	for (uint64_t i = r->seq; i > stop && i - 1 < m->count; i--) {
		struct hvt_record e;
		model_get(m, i - 1, &e);
		if (e.vcpu != r->vcpu)
			continue;
		if (e.kind == HVT_EXIT)
			return e.reason != HVT_R_IO && e.reason != HVT_R_MMIO;
		if (e.kind == HVT_ENTRY)
			return 0; /* an entry with no exit after it: not this round trip's */
	}
	return 0;
}

struct sixstep_ctx sixstep_ctx_of(const struct model *m, const struct hvt_record *r)
{
	const struct model_stats *s = &m->stats;
	struct sixstep_ctx c = { .host = m->header.host_kind, .first = 0, .other = 0 };
	if (r->kind == HVT_RUN_CALL)
		c.first = s->seen_run_call && r->seq == s->first_run_call;
	else if (r->kind == HVT_ENTRY)
		c.first = s->seen_entry && r->seq == s->first_entry;
	if (!c.first && (r->kind == HVT_RUN_RETURN || r->kind == HVT_RUN_CALL ||
			 r->kind == HVT_ENTRY))
		c.other = after_other_exit(m, r);
	return c;
}

void sixstep_classify(const struct hvt_record *r, struct path_step *out)
{
	sixstep_classify_in(r, NULL, out);
}

void sixstep_classify_in(const struct hvt_record *r, const struct sixstep_ctx *ctx,
			 struct path_step *out)
{
	unsigned host = ctx_host(ctx);
	int first = ctx && ctx->first, other = ctx && ctx->other;
	memset(out, 0, sizeof *out);
	switch (r->kind) {
	case HVT_EXIT: classify_exit(r, host, out); break;
	case HVT_RUN_RETURN: classify_run_return(r, host, other, out); break;
	case HVT_RUN_CALL: classify_run_call(r, host, first, other, out); break;
	case HVT_ENTRY: classify_entry(r, host, first, other, out); break;
	case HVT_VQ: classify_vq(r, out); break;
	case HVT_DISK: classify_disk(r, out); break;
	case HVT_IRQ: classify_irq(r, out); break;
	case HVT_GUEST_ERROR: classify_guest_error(r, out); break;
	case HVT_RING: classify_ring(r, out); break;
	case HVT_GDB: classify_gdb(r, out); break;
	case HVT_COUNTER:
		/* A total over the whole run, read from KVM's statistics at the end: not an event,
		 * so it sits in no lane. It counts exits KVM handled without hv seeing them. */
		set_path(out, LANE_NONE, LANE_NONE, 0);
		snprintf(out->title, sizeof out->title, "KVM %s=%" PRIu64, counter_name(r->addr),
			 r->data);
		snprintf(out->explain, sizeof out->explain,
			 "KVM counted %s = %" PRIu64 " over the whole run: a total, not an event; exits "
			 "KVM handled in the kernel never reach hv and show only here",
			 counter_name(r->addr), r->data);
		break;
	default:
		set_path(out, LANE_NONE, LANE_NONE, 0);
		snprintf(out->title, sizeof out->title, "unknown record kind %u", r->kind);
		snprintf(out->explain, sizeof out->explain,
			 "a record of kind %u, which this hvviz does not know", r->kind);
		break;
	}
}
