/*
 * test_sixstep.c - the Path view's classification (viz/sixstep.c): which lanes each record
 * crosses and which of the six steps of a device access it is.
 *
 * The expected lanes and steps come from the table in viz/sixstep.h and hv/vcpu.c's top comment
 * (textbook chapter 3 "Exits", section "The six steps"):
 *   1 syscall: guest ring 3 -> guest ring 0     4 run-return: KVM -> hv
 *   3 exit io/mmio: guest -> KVM                5 vq/disk/irq/guest-error: inside hv
 *   6 run-call: hv -> KVM, entry: KVM -> guest, sysret: guest ring 0 -> guest ring 3
 * Two real traces, checked in under tests/viz/traces (README there says how they were
 * recorded), show the steps in the order the path takes them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "model.h"
#include "pvtrace.h"
#include "sixstep.h"
#include "trace_read.h"

#define VIRTIO_TRACE "tests/viz/traces/diskio-virtio.hvt"
#define OS_TRACE_XZ  "tests/viz/traces/os-ring3.hvt.xz"

static struct path_step classify(const struct hvt_record *r)
{
	struct path_step p;
	sixstep_classify(r, &p);
	return p;
}

static void expect_path(const struct path_step *p, int from, int to, int step)
{
	cr_assert_eq(p->from, from, "from: got %d, want %d (%s)", p->from, from, p->title);
	cr_assert_eq(p->to, to, "to: got %d, want %d (%s)", p->to, to, p->title);
	cr_assert_eq(p->step, step, "step: got %d, want %d (%s)", p->step, step, p->title);
}

/* ---- lanes ---- */

Test(sixstep, lanes_are_named_by_ring_and_vmx_side)
{
	cr_assert_str_eq(lane_name(LANE_GUEST3), "guest ring 3");
	cr_assert_str_eq(lane_name(LANE_GUEST0), "guest ring 0");
	cr_assert_str_eq(lane_name(LANE_KVM), "KVM");
	cr_assert_str_eq(lane_name(LANE_HV), "hv");
	cr_assert_str_eq(lane_where(LANE_GUEST3), "non-root ring 3");
	cr_assert_str_eq(lane_where(LANE_GUEST0), "non-root ring 0");
	cr_assert_str_eq(lane_where(LANE_KVM), "root ring 0");
	cr_assert_str_eq(lane_where(LANE_HV), "root ring 3");
	cr_assert_str_eq(lane_name(LANE_NONE), "-");
	cr_assert_str_eq(lane_where(LANE_COUNT), "-");
}

/* ---- step 3: exits ---- */

/* The textbook's example (chapter 5, "The six steps, all of them", record 1298): the UART
 * driver in guest ring 0 executes `out %al, %dx` with DX = 0x3F8 and AL = 'h'. */
Test(sixstep, uart_out_from_ring0_is_step3_from_guest_kernel_to_kvm)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_IO, .cpl = 0, .size = 1,
				.addr = HV_PORT_UART0, .data = 0x68, .rip = 0x100090, .count = 1,
				.flags = HVT_F_WRITE | HVT_F_TIME_BOUND };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST0, LANE_KVM, 3);
	cr_assert_str_eq(p.title, "VM exit: out 0x3f8 (uart)");
	cr_assert_str_eq(p.explain, "the CPU traps a 1-byte `out` of 0x68 to port 0x3f8 (uart): VM "
				    "exit, non-root -> root; the guest's driver ran it (step 2); "
				    "rip=0x100090 (a write: KVM may be past it)");
}

/* An IN: the data is what hv's device answered (vcpu.c handle_io). 0x3FD is the UART's line
 * status register, 0x60 = THRE | TEMT: "you may send". */
Test(sixstep, uart_in_names_the_answer_hv_gives)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_IO, .size = 1, .addr = 0x3fd,
				.data = 0x60, .rip = 0x100084, .count = 1 };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST0, LANE_KVM, 3);
	cr_assert_str_eq(p.title, "VM exit: in 0x3fd (uart)");
	cr_assert(strstr(p.explain, "`in` (hv answers 0x60) from port 0x3fd (uart)"), "%s", p.explain);
}

/* String I/O: one exit, `count` elements (the ATA data port moves 256 words per sector). */
Test(sixstep, string_io_names_rep_and_count)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_IO, .size = 2, .addr = 0x1f0,
				.count = 256, .flags = HVT_F_STRING | HVT_F_WRITE };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST0, LANE_KVM, 3);
	cr_assert_str_eq(p.title, "VM exit: outs 0x1f0 (ata)");
	cr_assert(strstr(p.explain, "`rep outs` of 256 x 2 bytes to port 0x1f0 (ata)"), "%s", p.explain);
}

/* Ring-3 code can touch a device itself (an MMIO page mapped to the process, or IOPL 3): the
 * exit then leaves from lane 0, not lane 1. */
Test(sixstep, mmio_exit_from_ring3_leaves_the_process_lane)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_MMIO, .cpl = 3, .size = 4,
				.addr = HV_MMIO_VIRTIO_BLK + 0x50, .data = 0, .rip = 0x400100,
				.flags = HVT_F_WRITE };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST3, LANE_KVM, 3);
	cr_assert_str_eq(p.title, "VM exit: write 0xd0001050 (virtio-blk)");
	cr_assert(strstr(p.explain, "guest ring-3 code ran it (step 2); rip=0x400100"), "%s", p.explain);
}

Test(sixstep, unclaimed_port_is_still_a_device_access)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_IO, .size = 1, .addr = 0x60,
				.flags = HVT_F_UNCLAIMED };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST0, LANE_KVM, 3);
	cr_assert_str_eq(p.title, "VM exit: in 0x60 (unclaimed)");
}

Test(sixstep, hlt_exit_crosses_the_lanes_but_is_no_step)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_HLT, .rip = 0x1234 };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST0, LANE_KVM, 0);
	cr_assert_str_eq(p.title, "VM exit: hlt");
	cr_assert(strncmp(p.explain, "HLT: the guest has nothing to do; KVM returns to hv because ",
			  60) == 0, "%s", p.explain);
}

/* Every reason but io, mmio (step 3) and fail-entry (stays in KVM) leaves the guest with step 0. */
Test(sixstep, every_other_exit_reason_is_step0_from_the_guest)
{
	for (unsigned reason = 0; reason <= 255; reason++) {
		if (reason == HVT_R_IO || reason == HVT_R_MMIO || reason == HVT_R_FAIL_ENTRY)
			continue;
		for (unsigned cpl = 0; cpl <= 3; cpl++) {
			struct hvt_record r = { .kind = HVT_EXIT, .reason = (uint8_t)reason,
						.cpl = (uint8_t)cpl };
			struct path_step p = classify(&r);
			expect_path(&p, cpl == 3 ? LANE_GUEST3 : LANE_GUEST0, LANE_KVM, 0);
		}
	}
}

/* A failed VM entry never reached the guest (SDM vol. 3C, "VM-Entry Failures"). */
Test(sixstep, failed_entry_stays_in_kvm)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_FAIL_ENTRY, .cpl = 3 };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_KVM, LANE_KVM, 0);
}

Test(sixstep, stepped_debug_exit_names_the_step_number)
{
	struct hvt_record r = { .kind = HVT_EXIT, .reason = HVT_R_DEBUG, .cpl = 3, .data = 7,
				.rip = 0x400198, .flags = HVT_F_STEPPED };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST3, LANE_KVM, 0);
	cr_assert_str_eq(p.title, "VM exit: single step 7");
}

/* ---- steps 4 and 6 ---- */

Test(sixstep, run_return_is_step4_from_kvm_to_hv)
{
	struct hvt_record r = { .kind = HVT_RUN_RETURN, .cpl = 3 };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_KVM, LANE_HV, 4);
	cr_assert(strncmp(p.explain, "KVM could not finish this exit in the kernel: it fills kvm_run",
			  62) == 0, "%s", p.explain);
}

Test(sixstep, run_call_is_step6_from_hv_to_kvm)
{
	struct hvt_record r = { .kind = HVT_RUN_CALL };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_HV, LANE_KVM, 6);
}

/* The entry goes back to where the guest stopped: its CPL at the last exit (vcpu.c emit). */
Test(sixstep, entry_is_step6_into_the_lane_of_the_guest_cpl)
{
	struct hvt_record r0 = { .kind = HVT_ENTRY, .cpl = 0 }, r3 = { .kind = HVT_ENTRY, .cpl = 3 };
	struct path_step p0 = classify(&r0), p3 = classify(&r3);
	expect_path(&p0, LANE_KVM, LANE_GUEST0, 6);
	expect_path(&p3, LANE_KVM, LANE_GUEST3, 6);
}

/* ---- step 5: hv plays the device ---- */

Test(sixstep, every_device_step_is_step5_inside_hv)
{
	static const struct { uint8_t kind; unsigned max; } kinds[] = {
		{ HVT_VQ, HVT_VQ_OP_MAX }, { HVT_DISK, HVT_DISK_OP_MAX },
		{ HVT_GUEST_ERROR, HVT_REASON_MAX },
	};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		for (unsigned op = 0; op <= kinds[k].max; op++) {
			struct hvt_record r = { .kind = kinds[k].kind, .reason = (uint8_t)op, .cpl = 3 };
			struct path_step p = classify(&r);
			expect_path(&p, LANE_HV, LANE_HV, 5);
		}
}

/* --ioeventfd (textbook chapter 4, "ioeventfd: a doorbell that stays in the kernel"): the
 * doorbell is handled by KVM in the kernel, so the explanation must say no exit reached hv. */
Test(sixstep, ioeventfd_doorbell_says_no_exit_reached_hv)
{
	struct hvt_record io = { .kind = HVT_VQ, .reason = HVT_VQ_NOTIFY, .vcpu = HVT_VCPU_IOTHREAD,
				 .addr = HV_MMIO_VIRTIO_BLK + 0x50, .flags = HVT_F_EVENTFD };
	struct path_step p = classify(&io);
	expect_path(&p, LANE_HV, LANE_HV, 5);
	cr_assert(strstr(p.explain, "signalled the ioeventfd in the kernel"), "%s", p.explain);
	cr_assert(strstr(p.explain, "no exit reached hv"), "%s", p.explain);

	/* The same doorbell through an MMIO exit: hv did see the exit. */
	struct hvt_record ex = io;
	ex.vcpu = 0;
	ex.flags = 0;
	p = classify(&ex);
	cr_assert_null(strstr(p.explain, "ioeventfd"), "%s", p.explain);
	cr_assert(strstr(p.explain, "doorbell (wrote 0 to 0xd0001050)"), "%s", p.explain);
}

Test(sixstep, iothread_device_steps_say_no_exit_reached_hv)
{
	struct hvt_record d = { .kind = HVT_DISK, .reason = HVT_DISK_WRITE, .size = HVT_DISK_VIRTIO,
				.vcpu = HVT_VCPU_IOTHREAD, .addr = 4096, .data = 4096 };
	struct path_step p = classify(&d);
	expect_path(&p, LANE_HV, LANE_HV, 5);
	cr_assert(strstr(p.explain, "pwrite of 4096 bytes at offset 4096"), "%s", p.explain);
	cr_assert(strstr(p.explain, "no exit reached hv (ioeventfd)"), "%s", p.explain);
	d.vcpu = 0;
	p = classify(&d);
	cr_assert_null(strstr(p.explain, "ioeventfd"), "%s", p.explain);
}

Test(sixstep, disk_flush_names_the_system_call_and_cache_mode)
{
	/* arg 3 = DISK_UNSAFE (hv/disk.h); data 0: fdatasync was skipped (trace.h, HVT_DISK_FLUSH) */
	struct hvt_record d = { .kind = HVT_DISK, .reason = HVT_DISK_FLUSH, .size = HVT_DISK_ATA,
				.arg = 3, .data = 0 };
	struct path_step p = classify(&d);
	cr_assert_str_eq(p.title, "disk: fdatasync (legacy ATA)");
	cr_assert(strstr(p.explain, "hv skips fdatasync (cache=unsafe)"), "%s", p.explain);
}

/* ---- label rules that depend on more than the record (issue 17) ---- */

/* The trace's first KVM_RUN and entry start the guest: no exit came before, so they are no step
 * 6 ("back"), and the first entry is a launch. A later one is step 6 and a resume. */
Test(sixstep, first_entry_is_a_start_not_step6)
{
	struct hvt_record call = { .kind = HVT_RUN_CALL }, ent = { .kind = HVT_ENTRY, .rip = 0x100000 };
	struct sixstep_ctx first = { .host = HVT_HOST_VMX, .first = 1 };
	struct sixstep_ctx later = { .host = HVT_HOST_VMX, .first = 0 };
	struct path_step p;
	sixstep_classify_in(&call, &first, &p);
	expect_path(&p, LANE_HV, LANE_KVM, 0);
	cr_assert(strstr(p.explain, "no exit came before"), "%s", p.explain);
	cr_assert_null(strstr(p.explain, "done with the exit"), "%s", p.explain);
	sixstep_classify_in(&ent, &first, &p);
	expect_path(&p, LANE_KVM, LANE_GUEST0, 0);
	cr_assert(strstr(p.explain, "VMLAUNCH"), "%s", p.explain);
	cr_assert_null(strstr(p.explain, "where it stopped"), "%s", p.explain);
	sixstep_classify_in(&call, &later, &p);
	expect_path(&p, LANE_HV, LANE_KVM, 6);
	sixstep_classify_in(&ent, &later, &p);
	expect_path(&p, LANE_KVM, LANE_GUEST0, 6);
	cr_assert(strstr(p.explain, "VMRESUME"), "%s", p.explain);
	cr_assert_null(strstr(p.explain, "VMLAUNCH"), "%s", p.explain);
	cr_assert(strstr(p.explain, "where it stopped"), "%s", p.explain);
}

/* Each host kind gets its own words for the MMIO fault and the entry instruction: EPT and
 * VMLAUNCH/VMRESUME only on Intel, NPT and VMRUN only on AMD, neither on PVM. */
Test(sixstep, mmio_fault_and_entry_follow_the_host_kind)
{
	static const struct { unsigned host; const char *fault, *entry, *never[3]; } want[] = {
		{ HVT_HOST_VMX, "an EPT violation", "VMRESUME", { "NPT", "VMRUN", "shadow" } },
		{ HVT_HOST_SVM, "an NPT fault", "VMRUN", { "EPT", "VMRESUME", "shadow" } },
		{ HVT_HOST_PVM, "KVM's emulator (PVM runs the guest in it) hands it to hv",
		  "KVM switches to the guest's context", { "EPT violation", "VMRESUME", "VMRUN" } },
		{ HVT_HOST_NESTED, "an EPT (Intel) or NPT (AMD) fault", "VMRESUME on Intel, VMRUN on AMD",
		  { "shadow", NULL, NULL } },
	};
	struct hvt_record mmio = { .kind = HVT_EXIT, .reason = HVT_R_MMIO, .addr = HV_MMIO_VIRTIO_BLK,
				   .size = 4 };
	struct hvt_record ent = { .kind = HVT_ENTRY };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct sixstep_ctx c = { .host = want[i].host };
		struct path_step pm, pe;
		sixstep_classify_in(&mmio, &c, &pm);
		sixstep_classify_in(&ent, &c, &pe);
		expect_path(&pm, LANE_GUEST0, LANE_KVM, 3);
		cr_assert(strstr(pm.explain, want[i].fault), "host %u: %s", want[i].host, pm.explain);
		cr_assert(strstr(pe.explain, want[i].entry), "host %u: %s", want[i].host, pe.explain);
		for (size_t k = 0; k < 3 && want[i].never[k]; k++) {
			cr_assert_null(strstr(pm.explain, want[i].never[k]), "host %u: %s", want[i].host,
				       pm.explain);
			cr_assert_null(strstr(pe.explain, want[i].never[k]), "host %u: %s", want[i].host,
				       pe.explain);
		}
	}
}

/* PVM has no root/non-root mode and runs hvlab's guests in KVM's emulator: its port I/O is no
 * CPU trap, its lanes and KVM_RUN transitions are named without root. Other hosts keep them. */
Test(sixstep, pvm_has_no_root_mode)
{
	struct hvt_record io = { .kind = HVT_EXIT, .reason = HVT_R_IO, .addr = 0x3f8, .size = 1,
				 .flags = HVT_F_WRITE }, ret = { .kind = HVT_RUN_RETURN };
	struct sixstep_ctx pvm = { .host = HVT_HOST_PVM }, vmx = { .host = HVT_HOST_VMX };
	struct path_step p;
	sixstep_classify_in(&io, &pvm, &p);
	expect_path(&p, LANE_GUEST0, LANE_KVM, 3);
	cr_assert(strstr(p.explain, "KVM's emulator meets"), "%s", p.explain);
	cr_assert_null(strstr(p.explain, "root"), "%s", p.explain);
	sixstep_classify_in(&ret, &pvm, &p);
	cr_assert(strstr(p.explain, "host ring 0 -> host ring 3"), "%s", p.explain);
	sixstep_classify_in(&io, &vmx, &p);
	cr_assert(strstr(p.explain, "the CPU traps"), "%s", p.explain);
	cr_assert(strstr(p.explain, "non-root -> root"), "%s", p.explain);
	sixstep_classify_in(&ret, &vmx, &p);
	cr_assert(strstr(p.explain, "root ring 0 -> root ring 3"), "%s", p.explain);
	for (int lane = 0; lane < LANE_COUNT; lane++) {
		cr_assert_null(strstr(lane_where_on(lane, HVT_HOST_PVM), "root"));
		cr_assert_str_eq(lane_where_on(lane, HVT_HOST_SVM), lane_where(lane));
	}
}

/* The timer ticks on its own clock, and an injection delivers an interrupt raised earlier:
 * neither is step 5 of the access in progress. A device raising its line as it finishes a
 * request is. A lowered line injects nothing. */
Test(sixstep, timer_and_interrupt_delivery_are_no_step_of_the_access)
{
	struct hvt_record tick = { .kind = HVT_IRQ, .reason = HVT_IRQ_LINE, .vcpu = HVT_VCPU_TIMER,
				   .addr = 0, .data = 1 };
	struct path_step p = classify(&tick);
	expect_path(&p, LANE_HV, LANE_HV, 0);
	cr_assert(sixstep_is_async(&tick));
	cr_assert_str_eq(p.title, "irq: line 0 raised (timer)");
	tick.data = 0;
	p = classify(&tick);
	expect_path(&p, LANE_HV, LANE_HV, 0);
	cr_assert_null(strstr(p.explain, "injects"), "%s", p.explain);
	cr_assert(strstr(p.explain, "nothing new to inject"), "%s", p.explain);
	for (unsigned op = HVT_IRQ_INJECT; op <= HVT_IRQ_OP_MAX; op++) {
		struct hvt_record r = { .kind = HVT_IRQ, .reason = (uint8_t)op, .addr = 14 };
		p = classify(&r);
		expect_path(&p, LANE_HV, LANE_HV, 0);
	}
	/* IRQ 14, the ATA controller finishing a command on the vCPU thread: step 5 */
	struct hvt_record ata = { .kind = HVT_IRQ, .reason = HVT_IRQ_LINE, .addr = 14, .data = 1 };
	p = classify(&ata);
	expect_path(&p, LANE_HV, LANE_HV, 5);
	cr_assert(!sixstep_is_async(&ata));
}

/* The real os trace (AMD-V in the lab VM, recorded as nested): record 0 is no step 6, record 1
 * no resume, the timer rows in the middle of the UART output no step 5, and the round trip of
 * an exit that is no device access (HLT, a signal, an interrupt window) no step 4 or 6. */
Test(sixstep, os_trace_labels_start_and_timer_rows)
{
	char path[] = "/tmp/sixstep-os-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "xz -dc %s > %s", OS_TRACE_XZ, path);
	cr_assert_eq(system(cmd), 0, "cannot unpack %s (is xz installed?)", OS_TRACE_XZ);
	struct model m;
	char err[256];
	int rc = model_open(&m, path, 0, err, sizeof err);
	unlink(path);
	close(fd);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(m.header.host_kind, HVT_HOST_NESTED);
	int timer_rows = 0, other_trips = 0;
	unsigned last_exit = HVT_R_IO; /* the reason of the last exit seen, walking forwards */
	for (uint64_t i = 0; i < m.count; i++) {
		struct hvt_record r;
		struct path_step p;
		model_get(&m, i, &r);
		struct sixstep_ctx c = sixstep_ctx_of(&m, &r);
		sixstep_classify_in(&r, &c, &p);
		int device = last_exit == HVT_R_IO || last_exit == HVT_R_MMIO;
		if (r.kind == HVT_EXIT)
			last_exit = r.reason;
		if (i < 2) {
			cr_assert_eq(p.step, 0, "record %llu: %s", (unsigned long long)i, p.title);
			cr_assert(c.first);
		} else if (r.kind == HVT_ENTRY || r.kind == HVT_RUN_CALL || r.kind == HVT_RUN_RETURN) {
			int want = !device ? 0 : r.kind == HVT_RUN_RETURN ? 4 : 6;
			cr_assert_eq(c.other, !device, "record %llu", (unsigned long long)i);
			cr_assert_eq(p.step, want, "record %llu: %s", (unsigned long long)i, p.title);
			other_trips += !device && r.kind == HVT_RUN_RETURN;
		}
		if (r.kind == HVT_EXIT && r.reason == HVT_R_MMIO)
			cr_assert_null(strstr(p.explain, "EPT violation"), "%s", p.explain);
		if (r.kind == HVT_IRQ && r.vcpu == HVT_VCPU_TIMER) {
			cr_assert_eq(p.step, 0, "record %llu: %s", (unsigned long long)i, p.title);
			timer_rows++;
		}
	}
	cr_assert_gt(timer_rows, 0);
	/* hv trace stats of this file: 7 intr + 6 irq-window exits and the final hlt */
	cr_assert_eq(other_trips, 7 + 6 + 1);
	model_close(&m);
}

/* With the context of an exit that is no device access, the three transitions of its round
 * trip keep their lanes and words but lose their step number. */
Test(sixstep, round_trip_of_a_hlt_is_no_step)
{
	struct sixstep_ctx dev = { .host = HVT_HOST_VMX }, other = { .host = HVT_HOST_VMX, .other = 1 };
	struct hvt_record r = { .kind = HVT_RUN_RETURN };
	struct path_step p;
	sixstep_classify_in(&r, &dev, &p);
	expect_path(&p, LANE_KVM, LANE_HV, 4);
	sixstep_classify_in(&r, &other, &p);
	expect_path(&p, LANE_KVM, LANE_HV, 0);
	cr_assert_str_eq(p.title, "KVM_RUN returns to hv");
	r.kind = HVT_RUN_CALL;
	sixstep_classify_in(&r, &other, &p);
	expect_path(&p, LANE_HV, LANE_KVM, 0);
	r.kind = HVT_ENTRY;
	sixstep_classify_in(&r, &other, &p);
	expect_path(&p, LANE_KVM, LANE_GUEST0, 0);
	cr_assert_str_eq(p.title, "VM entry: back to the guest");
}

Test(sixstep, irq_inject_names_vector_and_line)
{
	/* IRQ 5 through the master PIC at base 0x20: vector 0x25 (hv/irq.c) */
	struct hvt_record r = { .kind = HVT_IRQ, .reason = HVT_IRQ_INJECT, .addr = 5, .count = 0x25 };
	struct path_step p = classify(&r);
	cr_assert_str_eq(p.title, "irq: inject vector 0x25");
	cr_assert(strstr(p.explain, "vector 0x25 (IRQ 5) with KVM_INTERRUPT"), "%s", p.explain);
}

/* ---- HVT_RING: inside the guest ---- */

/* Record 1293 of the textbook's os trace: `ring syscall 3->0 vector=0x80 nr=4(write)`. */
Test(sixstep, syscall_is_step1_from_process_to_kernel)
{
	struct hvt_record r = { .kind = HVT_RING, .reason = HV_PVT_SYSCALL, .cpl = 3, .size = 0,
				.addr = 0x80, .data = 4 | (1ull << 32), .rip = 0x400033, .count = 1 };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST3, LANE_GUEST0, 1);
	cr_assert_str_eq(p.title, "system call 4 (write)");
	cr_assert(strncmp(p.explain, "the process asks its kernel: int 0x80 nr=4 (write)", 50) == 0,
		  "%s", p.explain);
}

Test(sixstep, sysret_is_step6_back_to_the_process)
{
	/* arg = 0x12: 18 bytes written ("The six steps, all of them") */
	struct hvt_record r = { .kind = HVT_RING, .reason = HV_PVT_SYSRET, .cpl = 0, .size = 3,
				.addr = 0x80, .data = 4 | (0x12ull << 32), .count = 1 };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_GUEST0, LANE_GUEST3, 6);
	cr_assert(strstr(p.explain, "returns from write to the process with 0x12"), "%s", p.explain);
}

/* The other ring changes are real but belong to no device access: step 0, lanes from the CPLs
 * the guest reported (cpl = before, size = after; guest/os/trap.c and task.c). */
Test(sixstep, other_ring_changes_are_step0_between_their_cpls)
{
	static const struct { uint8_t kind, from, to; int lfrom, lto; } cases[] = {
		{ HV_PVT_EXCEPTION, 3, 0, LANE_GUEST3, LANE_GUEST0 },
		{ HV_PVT_EXCEPTION, 0, 0, LANE_GUEST0, LANE_GUEST0 },  /* a kernel fault */
		{ HV_PVT_INTERRUPT, 3, 0, LANE_GUEST3, LANE_GUEST0 },
		{ HV_PVT_IRET, 0, 3, LANE_GUEST0, LANE_GUEST3 },
		{ HV_PVT_TASK_START, 0, 3, LANE_GUEST0, LANE_GUEST3 }, /* first entry to ring 3 */
		{ HV_PVT_TASK_EXIT, 0, 0, LANE_GUEST0, LANE_GUEST0 },
		{ HV_PVT_TASK_KILL, 0, 0, LANE_GUEST0, LANE_GUEST0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hvt_record r = { .kind = HVT_RING, .reason = cases[i].kind, .cpl = cases[i].from,
					.size = cases[i].to };
		struct path_step p = classify(&r);
		expect_path(&p, cases[i].lfrom, cases[i].lto, 0);
	}
}

Test(sixstep, counter_is_a_statistic_in_no_lane)
{
	struct hvt_record r = { .kind = HVT_COUNTER, .addr = HVT_C_EXITS, .data = 877 };
	struct path_step p = classify(&r);
	expect_path(&p, LANE_NONE, LANE_NONE, 0);
	cr_assert_str_eq(p.title, "KVM exits=877");
	cr_assert(strstr(p.explain, "KVM counted exits = 877"), "%s", p.explain);
}

/* ---- every string fits ---- */

/*
 * For every kind (and one beyond), every reason byte, CPL 0-4, with fields at 0 and at their
 * largest: the text is printable ASCII on one line, not empty, and was not cut by snprintf
 * (a cut string fills its buffer to exactly size - 1 bytes, so the longest allowed is size - 2).
 * The lanes are both LANE_NONE or both real lanes, the step 0-6.
 */
Test(sixstep, every_classification_fits_on_one_line)
{
	static const uint16_t vcpus[] = { 0, HVT_VCPU_IOTHREAD, HVT_VCPU_TIMER };
	for (unsigned kind = 0; kind <= HVT_KIND_MAX + 1; kind++)
		for (unsigned reason = 0; reason <= 255; reason++)
			for (unsigned cpl = 0; cpl <= 4; cpl++)
				for (int big = 0; big <= 1; big++)
					for (size_t v = 0; v < 3; v++) {
		uint64_t x = big ? UINT64_MAX : 0;
		struct hvt_record r = {
			.seq = x, .time_ns = x, .vcpu = vcpus[v], .kind = (uint8_t)kind,
			.reason = (uint8_t)reason, .size = big ? 255 : 0, .cpl = (uint8_t)cpl,
			.mode = big ? 255 : 0, .addr = x, .data = x, .rip = x,
			.count = big ? UINT32_MAX : 0, .flags = big ? UINT32_MAX : 0,
			.duration_ns = x,
		};
		/* the host kind and the first entry change the words of exits and entries only */
		int ctx_matters = kind == HVT_EXIT || kind == HVT_ENTRY || kind == HVT_RUN_CALL;
		for (unsigned host = 0; host <= (ctx_matters ? HVT_HOST_MAX + 1 : 0); host++)
		for (int first = 0; first <= ctx_matters; first++) {
		struct sixstep_ctx c = { .host = host, .first = first };
		struct path_step p;
		sixstep_classify_in(&r, &c, &p);
		size_t tl = strlen(p.title), el = strlen(p.explain);
		cr_assert(tl > 0 && tl <= sizeof p.title - 2, "kind %u reason %u: title %zu bytes: %s",
			  kind, reason, tl, p.title);
		cr_assert(el > 0 && el <= sizeof p.explain - 2,
			  "kind %u reason %u: explain %zu bytes: %s", kind, reason, el, p.explain);
		for (size_t i = 0; i < el; i++)
			cr_assert(p.explain[i] >= 0x20 && p.explain[i] < 0x7f,
				  "kind %u reason %u: byte %zu is 0x%02x", kind, reason, i,
				  (unsigned char)p.explain[i]);
		for (size_t i = 0; i < tl; i++)
			cr_assert(p.title[i] >= 0x20 && p.title[i] < 0x7f);
		cr_assert((p.from == LANE_NONE) == (p.to == LANE_NONE));
		cr_assert(p.from >= LANE_NONE && p.from < LANE_COUNT && p.to >= LANE_NONE &&
			  p.to < LANE_COUNT);
		cr_assert(p.step >= 0 && p.step <= 6);
		}
	}
}

/* ---- real traces ---- */

/*
 * From a step-3 record at index i: the records of that exit must be 4, then any number of 5s
 * (what the device did), then 6, 6 (run-call, entry). Returns how many 5s there were; fails
 * the test otherwise.
 */
static int expect_exit_path(const struct trace_file *tf, uint64_t i)
{
	struct path_step p = classify(&tf->records[i]);
	cr_assert_eq(p.step, 3, "record %lu", (unsigned long)i);
	cr_assert_lt(i + 3, tf->count);
	p = classify(&tf->records[++i]);
	cr_assert_eq(p.step, 4, "record %lu after an exit: step %d", (unsigned long)i, p.step);
	int fives = 0;
	for (i++; i < tf->count; i++, fives++) {
		p = classify(&tf->records[i]);
		if (p.step != 5)
			break;
	}
	cr_assert_lt(i + 1, tf->count);
	p = classify(&tf->records[i]);
	cr_assert_eq(p.step, 6, "record %lu: step %d, want 6 (run-call)", (unsigned long)i, p.step);
	expect_path(&p, LANE_HV, LANE_KVM, 6);
	p = classify(&tf->records[i + 1]);
	expect_path(&p, LANE_KVM, LANE_GUEST0, 6);
	return fives;
}

static uint64_t first_exit_at(const struct trace_file *tf, uint8_t reason, uint64_t addr)
{
	for (uint64_t i = 0; i < tf->count; i++) {
		const struct hvt_record *r = &tf->records[i];
		if (r->kind == HVT_EXIT && r->reason == reason && (addr == UINT64_MAX || r->addr == addr))
			return i;
	}
	return UINT64_MAX;
}

/*
 * The diskio guest through virtio-blk. Its first MMIO exit is the driver reading the
 * MagicValue register at offset 0 ("virt", 0x74726976, virtio 1.x 4.2.2): record 30 of this
 * recording. Reading a register is done inside hv's exit handling with no device record, so
 * that exit is 3, 4, 6, 6. The first doorbell (QueueNotify, offset 0x50) does the whole GET_ID
 * request while the vCPU waits: notify, avail-idx, avail-entry, 3 descriptors (header, 20-byte
 * id, status), request, used-elem, used-idx, irq-suppress = 10 step-5 records.
 * Every other io/mmio exit of the trace follows the same 3, 4, 5*, 6, 6 order.
 */
Test(sixstep, virtio_trace_shows_steps_3_to_6_in_order)
{
	struct trace_file tf;
	char err[256];
	cr_assert_eq(trace_load(VIRTIO_TRACE, &tf, err, sizeof err), 0, "%s", err);

	uint64_t first = first_exit_at(&tf, HVT_R_MMIO, UINT64_MAX);
	cr_assert_eq(first, 30);
	cr_assert_eq(tf.records[first].addr, HV_MMIO_VIRTIO_BLK);
	cr_assert_eq(expect_exit_path(&tf, first), 0);

	uint64_t bell = first_exit_at(&tf, HVT_R_MMIO, HV_MMIO_VIRTIO_BLK + 0x50);
	cr_assert_eq(bell, 168);
	cr_assert_eq(expect_exit_path(&tf, bell), 10);

	int exits = 0;
	for (uint64_t i = 0; i < tf.count; i++)
		if (classify(&tf.records[i]).step == 3) {
			expect_exit_path(&tf, i);
			exits++;
		}
	/* hv trace stats of this file: 205 io + 37 mmio exits (the hlt is step 0) */
	cr_assert_eq(exits, 205 + 37);
	trace_free(&tf);
}

/*
 * The mini OS in ring 3 (recorded in the lab VM). The hello task's first write(1, buf, 18):
 * record 1449 is the syscall (step 1); the kernel's UART driver then makes two exits per byte
 * (an IN from the line status 0x3FD, an OUT to 0x3F8), 18 bytes = 36 exits, each 3, 4, 6, 6;
 * and record 1594 is the sysret (step 6 back to ring 3). Nothing else happens in between.
 */
Test(sixstep, ring3_write_shows_all_six_steps_in_order)
{
	char path[] = "/tmp/sixstep-os-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "xz -dc %s > %s", OS_TRACE_XZ, path);
	cr_assert_eq(system(cmd), 0, "cannot unpack %s (is xz installed?)", OS_TRACE_XZ);
	struct trace_file tf;
	char err[256];
	int rc = trace_load(path, &tf, err, sizeof err);
	unlink(path);
	close(fd);
	cr_assert_eq(rc, 0, "%s", err);

	uint64_t i = 0;
	while (i < tf.count && !(tf.records[i].kind == HVT_RING &&
				 tf.records[i].reason == HV_PVT_SYSCALL &&
				 (uint32_t)tf.records[i].data == HV_SYS_WRITE))
		i++;
	cr_assert_eq(i, 1449);
	struct path_step p = classify(&tf.records[i]);
	expect_path(&p, LANE_GUEST3, LANE_GUEST0, 1);
	int exits = 0;
	for (i++; classify(&tf.records[i]).step == 3; exits++) {
		cr_assert_eq(tf.records[i].addr, exits % 2 ? HV_PORT_UART0 : HV_PORT_UART0 + 5);
		cr_assert_eq(expect_exit_path(&tf, i), 0);
		i += 4;
	}
	cr_assert_eq(exits, 36);
	cr_assert_eq(i, 1594);
	p = classify(&tf.records[i]);
	expect_path(&p, LANE_GUEST0, LANE_GUEST3, 6);
	cr_assert_eq(tf.records[i].reason, HV_PVT_SYSRET);
	trace_free(&tf);
}
