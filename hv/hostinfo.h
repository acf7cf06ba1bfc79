/*
 * hostinfo.h - what kind of KVM this host has, and what it can do (`hv doctor`).
 *
 * Concept: "KVM" is one API over very different machinery. On a PC with Intel VT-x (VMX) or
 * AMD-V (SVM) the CPU itself runs the guest and traps to KVM on each exit. Inside a cloud VM
 * the same instructions may be offered by the hypervisor below (nested virtualization), so
 * every exit takes a detour through it. And some clouds offer PVM, a para-virtualized KVM that
 * runs guests with no hardware virtualization at all. The API (/dev/kvm, KVM_RUN, exits) looks
 * identical on all of them, but what works and how fast differs, so hv first finds out which
 * one it is on, and says so in plain words before a student wonders why a guest fails.
 * Textbook: chapter 0 "Your host" (textbook/ch00-your-host.md).
 *
 * Split for testing: hostinfo_probe() touches the system (/proc, /sys, /dev/kvm); everything
 * else here is pure logic over strings and numbers, so unit tests run without KVM.
 */
#ifndef HV_HOSTINFO_H
#define HV_HOSTINFO_H

#include <stddef.h>
#include <stdio.h>

#include "trace.h" /* enum hvt_host_kind: the trace header records which KVM made it */

/* The KVM API version every kernel since 2.6.22 reports; hv is written against it. */
#define HOSTINFO_KVM_API 12

/* Everything hv doctor finds out. Fields the probe could not learn keep the value noted. */
struct host_info {
	enum hvt_host_kind kind;    /* from hostinfo_classify() */
	int kvm_fd_ok;              /* /dev/kvm opened */
	int open_errno;             /* errno of a failed open, else 0 */
	int api_version;            /* KVM_GET_API_VERSION, -1 if not opened */
	int cpu_vmx, cpu_svm, cpu_hypervisor;     /* /proc/cpuinfo flags */
	int module_pvm, module_intel, module_amd; /* /sys/module/kvm_pvm, kvm_intel, kvm_amd */
	int module_kvm;   /* /sys/module/kvm: the common part, loaded with (or before) a back end */
	int misc_kvm;     /* /sys/class/misc/kvm: the kernel registered the KVM device (10:232) */
	int nested_param; /* /sys/module/kvm_{intel,amd}/parameters/nested: 1/Y, 0/N, -1 absent */
	/* capabilities via KVM_CHECK_EXTENSION (value returned, 0 = absent): */
	int cap_user_memory, cap_set_tss_addr, cap_sync_regs, cap_binary_stats_fd, cap_ioeventfd,
		cap_irqchip, cap_immediate_exit, cap_set_guest_debug, cap_nr_vcpus, cap_max_vcpus,
		cap_nr_memslots;
	char cpu_model[128]; /* "model name" from /proc/cpuinfo, "unknown" if absent */
};

/*
 * Fill hi with everything that can be learned about this host. Never fails hard: a file that
 * cannot be read leaves its fields at "absent". Returns 0 if KVM is usable (/dev/kvm opened and
 * reports API version 12), else -1; hostinfo_problem() then says why.
 */
int hostinfo_probe(struct host_info *hi);

/*
 * Is this KVM's "hardware" QEMU's TCG emulating SVM (the lab VM: a NESTED kind whose CPU model
 * is QEMU's)? Two of its deviations from real AMD CPUs matter to hv, and hv works around each
 * only there: it stops at no breakpoint (step.c, --step-seek), and it may open an interrupt
 * window inside an STI shadow (irq.c). Textbook chapter 5, "The lab VM".
 */
int hostinfo_is_emulated_svm(const struct host_info *hi);

/*
 * The path hv opens as the KVM device: $HVLAB_KVM_DEVICE if set and not empty, else /dev/kvm.
 * A testing and teaching knob: a path that does not exist makes hv behave exactly as on a host
 * without KVM (messages still say /dev/kvm, as they would there).
 */
const char *hostinfo_kvm_device(void);

/*
 * Open /dev/kvm (hostinfo_kvm_device) for the VMM (O_RDWR | O_CLOEXEC) and check its API version. Returns the fd, or
 * -1 with a one-line reason and fix in err (no "hv: " prefix: the caller adds its name).
 */
int hostinfo_open_kvm(char *err, size_t errlen);

/* ---- pure logic: no system calls, unit-tested ---- */

/*
 * Which KVM is this? Rules, first match wins (textbook ch00, "How hv tells them apart"):
 *   module kvm_pvm loaded              -> PVM (whatever the CPU flags say)
 *   vmx flag (or, with neither vmx nor svm flag visible, kvm_intel loaded) -> Intel family,
 *   svm flag (or, with neither flag visible, kvm_amd loaded)               -> AMD family;
 *   Intel/AMD family + hypervisor flag -> NESTED, else VMX / SVM
 *   anything else                      -> UNKNOWN
 */
enum hvt_host_kind hostinfo_classify(int cpu_vmx, int cpu_svm, int cpu_hypervisor,
				     int module_pvm, int module_intel, int module_amd);

/*
 * The host class, for scripts and the Makefile (`hv doctor --class`): three answers to "where do
 * the labs run?". FULL: VT-x/AMD-V on bare metal, or nested, or a usable KVM hv could not name:
 * every lab runs here. PVM: KVM without hardware virtualization; ring 3 and interrupts through
 * an IDT do not work, so those labs run in the lab VM. NONE: no usable KVM at all (no device,
 * no permission, a module without a device, a wrong API): everything that needs KVM runs in the
 * lab VM (QEMU emulates the CPU there, it needs no KVM).
 */
enum host_class { HOST_CLASS_NONE = 0, HOST_CLASS_PVM = 1, HOST_CLASS_FULL = 2 };

enum host_class hostinfo_class(const struct host_info *hi);
const char *hostinfo_class_name(enum host_class c); /* "none", "pvm", "full" */

/*
 * The one-line reason and fix for a failed open of /dev/kvm with errno err, without the
 * "hv: " prefix, e.g. "/dev/kvm: permission denied (add yourself to group 'kvm' ...)".
 * The returned string stays valid until the next call from the same thread.
 */
const char *hostinfo_open_advice(int err);

/*
 * Why KVM is not usable on the host hi describes, as one line without "hv: " (open advice,
 * or a wrong API version) in buf. Returns 0 and leaves buf empty when KVM is usable.
 */
int hostinfo_problem(const struct host_info *hi, char *buf, size_t len);

/* 1 if any "flags" line of /proc/cpuinfo text lists flag as a whole word, else 0. */
int hostinfo_cpuinfo_has_flag(const char *cpuinfo_text, const char *flag);

/* Copy the first "model name" value of cpuinfo text to buf ("unknown" if there is none). */
void hostinfo_cpuinfo_model(const char *cpuinfo_text, char *buf, size_t len);

/* A module parameter file's text ("Y\n", "N\n", "1\n", "0\n") as 1 or 0; NULL or other: -1. */
int hostinfo_parse_bool_param(const char *text);

/* ---- hv doctor (doctor.c) ---- */

/*
 * What to do on the host hi describes, as one line without "hv: ", fitted to the facts (textbook
 * ch00, "When /dev/kvm does not open"): the BIOS only on bare metal without vmx/svm, nested
 * virtualization in a VM without it, modprobe where the CPU has the flag, the group where
 * permission is denied, a loaded module without a device named as such. On PVM, where ring-3
 * work goes. Returns 0 and leaves buf empty when nothing needs doing (class full).
 */
int doctor_fix(const struct host_info *hi, char *buf, size_t len);

/* Print the report for hi: plain words, or (json != 0) one JSON object on one line. */
void doctor_report(FILE *out, const struct host_info *hi, int json);

/* `hv doctor [--json|--class]`; argv[0] is "doctor". Returns 0, HV_EXIT_HOST or HV_EXIT_USAGE
 * (--class: always 0 after printing the class). */
int doctor_main(int argc, char **argv);

#endif
