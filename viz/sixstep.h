/*
 * sixstep.h - where an event stands on the path of a guest device access: which of the four
 * lanes it leaves and enters, which of the six steps it is, and what happens there.
 *
 * Concept: the path of one device access (hv/vcpu.c, textbook chapter 3 "The six
 * steps"), drawn across the four places code runs on a virtualized machine:
 *
 *   lane 0  guest ring 3   (VMX non-root / SVM guest mode, user)      the guest's process
 *   lane 1  guest ring 0   (non-root, kernel)                          the guest's kernel/driver
 *   lane 2  KVM            (VMX root / host mode, ring 0)              the host kernel
 *   lane 3  hv             (root, ring 3)                              the VMM, a user process
 *
 *   1. guest process asks its kernel (system call)            lane 0 -> lane 1  (HVT_RING)
 *   2. the kernel's driver executes the device access           lane 1 (the exit record's rip)
 *   3. VM exit: the CPU leaves the guest                        lane 1 -> lane 2  (HVT_EXIT)
 *   4. KVM_RUN returns to hv                                    lane 2 -> lane 3  (RUN_RETURN)
 *   5. hv plays the device                                      lane 3  (VQ, DISK records, a
 *                                                               device's IRQ line)
 *   6. back: KVM_RUN again, VM entry, the guest goes on         lane 3 -> 2 -> 1 (RUN_CALL,
 *                                                               ENTRY; a sysret/iret to lane 0)
 *
 * Guest code in ring 3 can also exit directly (lane 0 -> lane 2). An exit that is not a device
 * access (HLT, a debug step, a signal, an interrupt window) moves across the same lanes but is
 * not one of the six steps: step = 0, and so is its round trip (the RUN_RETURN, RUN_CALL and
 * ENTRY after it). So are the trace's first KVM_RUN and VM entry (they start the guest and
 * come back from nothing) and the asynchronous interrupt records (the timer, an injection).
 * Pure functions of one record and its context (struct sixstep_ctx): unit-tested in
 * tests/unit/test_sixstep.c.
 */
#ifndef VIZ_SIXSTEP_H
#define VIZ_SIXSTEP_H

#include <stddef.h>

#include "trace.h"

enum lane { LANE_GUEST3 = 0, LANE_GUEST0 = 1, LANE_KVM = 2, LANE_HV = 3, LANE_COUNT = 4,
	    LANE_NONE = -1 };

struct path_step {
	int from, to;   /* lanes (enum lane); from == to: work inside one lane; LANE_NONE: none */
	int step;       /* 1..6 on the device-access path, 0: not one of the six steps */
	char title[48]; /* short: "VM exit", "KVM_RUN returns", "hv emulates the device", ... */
	char explain[240]; /* one line: what the hardware and the software do at this event,
			      with this record's values (port, reason, vector, ...) */
};

/*
 * What one record alone cannot say, but a label must get right (textbook chapter 6, "Path"):
 *   host   enum hvt_host_kind from the trace header: an MMIO access faults in the EPT on
 *          Intel, in the NPT on AMD, in KVM's shadow page tables on PVM; the first entry is
 *          VMLAUNCH on Intel, later ones VMRESUME, VMRUN both on AMD, a switch of context on PVM.
 *   first  1: this RUN_CALL or ENTRY is the trace's first one. It starts the guest; it comes
 *          back from no exit, so it is not step 6.
 *   other  1: this RUN_RETURN, RUN_CALL or ENTRY is the round trip of an exit that is no device
 *          access (HLT, a signal, an interrupt window, a debug step): it crosses the same lanes
 *          but is not step 4 or 6 of one. 0: a device access's, or not known.
 */
struct sixstep_ctx {
	unsigned host;
	int first;
	int other;
};

/* Classify with what the record says and ctx (NULL: host unknown, not the first entry). */
void sixstep_classify_in(const struct hvt_record *r, const struct sixstep_ctx *ctx,
			 struct path_step *out);
struct model;
/* The context of record r of model m: its host kind and whether r is the first entry. */
struct sixstep_ctx sixstep_ctx_of(const struct model *m, const struct hvt_record *r);
/* sixstep_classify_in(r, NULL, out). */
void sixstep_classify(const struct hvt_record *r, struct path_step *out);
/* Whether a record happens on its own clock, not because of the access in progress: the PIT's
 * tick thread, timer line 0 and the delivery of interrupts (inject, window, wake-up). The Path
 * view numbers it as no step of the current access (step 0). */
int sixstep_is_async(const struct hvt_record *r);
const char *lane_name(int lane); /* "guest ring 3", "guest ring 0", "KVM", "hv" */
const char *lane_where(int lane); /* "non-root ring 3", "non-root ring 0", "root ring 0", "root ring 3" */
/* The same on a trace of host kind `host`: on PVM, which has no root mode, "deprivileged" for
 * the guest's lanes and "host ring 0", "host ring 3" for KVM and hv. */
const char *lane_where_on(int lane, unsigned host);

#endif
