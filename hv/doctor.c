/*
 * doctor.c - `hv doctor`: tell the student, in plain words, what this host's KVM can do.
 *
 * Concept: the same /dev/kvm API hides four kinds of machinery (Intel VT-x, AMD-V, nested
 * virtualization inside a cloud VM, and para-virtualized PVM). A lab that fails because the host
 * cannot do something is a confusing lesson, so hv says up front which kind this is, which
 * witnesses told it so, and which labs will run here, at what speed. hostinfo.c gathers the
 * facts; this file only explains them.
 * Textbook: chapter 0 "Your host", sections "Four kinds of KVM" and "What works where, and what
 * to do on PVM".
 *
 * Output: a report on stdout (or one JSON object with --json, or the host class alone with
 * --class), ending with what to do; if KVM is not usable, the one-line fix also on stderr and
 * exit status HV_EXIT_HOST (layout.h).
 */
#include "hostinfo.h"
#include "layout.h"
#include "trace_names.h"

#include <errno.h>
#include <string.h>

#define DOCTOR_USAGE "usage: hv doctor [--json|--class]"

/*
 * What works on each kind of KVM. The PVM numbers were measured on a PVM host (textbook ch 0,
 * "What works where, and what to do on PVM"): every mode runs, but through KVM's
 * instruction emulator, and the emulator cannot deliver interrupts through an IDT or `iret`
 * to ring 3 (the run ends with KVM_EXIT_INTERNAL_ERROR or a shutdown).
 * Each answer comes twice: a sentence for people and one word for --json, so scripts never
 * parse prose.
 */
struct works {
	const char *real, *real_json;   /* real-mode guests */
	const char *prot, *prot_json;   /* protected- and long-mode guests, ring 0 */
	const char *ring3, *ring3_json; /* user mode (ring 3) and interrupts through an IDT */
	const char *exits;              /* what a VM exit costs here */
};

/*
 * VT-x or AMD-V on bare metal: the CPU runs guest code natively and an exit is a hardware world
 * switch (guest state saved to the VMCS/VMCB, host state loaded) followed by KVM's handler; only
 * exits cost.
 */
/* VMX and SVM get the same answers: their control structures (VMCS, VMCB) and exit codes
 * differ, but KVM hides both behind the same ioctls, and no lab here can tell them apart. */
static const struct works works_hw = {
	"yes, at hardware speed", "yes",
	"yes, at hardware speed", "yes",
	"yes", "yes",
	"hardware VM exits (measure them with 'make bench'); every lab runs here",
};

/*
 * Nested: our KVM (L1) runs inside a VM of the cloud's hypervisor (L0). L1's VT-x is itself
 * emulated by L0, so an exit of our guest (L2) first traps to L0, which reflects it into L1's
 * KVM, and L1's VMRESUME is one more exit to L0. Guest code still runs natively between exits.
 */
static const struct works works_nested = {
	"yes, at hardware speed between exits", "yes",
	"yes, at hardware speed between exits", "yes",
	"yes", "yes",
	"each exit goes to the hypervisor below first, so exits cost several times more than "
	"on bare metal ('make bench' measures it); every lab runs here",
};

/*
 * PVM: no VMX/SVM at all. It is built for guest kernels that know they run on PVM; hv's tiny
 * guests do not, so KVM's instruction emulator executes them one instruction at a time, which is
 * why an "exit" costs microseconds here: mostly emulated guest code (textbook ch 3, "What an
 * exit costs").
 */
static const struct works works_pvm = {
	"yes, fully (I/O, MMIO, INT n, injected interrupts), but emulated (~2 M instr/s)",
	"emulated",
	"yes in ring 0, but emulated instruction by instruction (~2 M instr/s)", "emulated",
	"no: the mini OS's ring-3 tasks run in the lab VM\n"
	"                            ('make labvm' for a shell, 'make labvm-run CMD=...' for one command)", "no",
	"~7-8 us per exit (KVM's emulator runs every guest instruction; measured with\n"
	"                            the insn_emulation counter in 'hv trace stats')",
};

/* UNKNOWN: hv still tries; then `make test` is the witness of what works. */
static const struct works works_unknown = {
	"unknown", "unknown",
	"unknown", "unknown",
	"unknown", "unknown",
	"unknown: hv will try; 'make test' shows what works here",
};

/* An unknown kind gets "unknown", never a guess from the nearest kind. */
static const struct works *works_for(enum hvt_host_kind kind)
{
	switch (kind) {
	case HVT_HOST_VMX:
	case HVT_HOST_SVM: return &works_hw;
	case HVT_HOST_NESTED: return &works_nested;
	case HVT_HOST_PVM: return &works_pvm;
	default: return &works_unknown;
	}
}

/* ---- what to do: advice that fits the facts ---- */

/* Where the labs go when this host cannot run them (tests/labvm/, textbook ch00 "The lab VM"):
 * QEMU emulates a CPU with SVM there, so the lab VM needs no KVM of its own. */
#define LABVM_FOR_NONE "everything that needs KVM runs in the lab VM: 'make labvm' for a shell, " \
	"make labvm-run CMD='build/hv run build/guest/hello16.bin' for one command; " \
	"'make demo', 'make test' and 'make bench' do it by themselves"
#define LABVM_FOR_PVM "ring-3 work runs in the lab VM: 'make labvm' for a shell, " \
	"make labvm-run CMD='...' for one command; 'make test' does it by itself"

/* The loaded KVM module that best names the back end, or NULL if none is loaded. */
/* In the order hostinfo_classify trusts the modules: kvm_pvm is proof of PVM whatever else is
 * loaded; kvm alone is the common core, which names no back end. */
static const char *loaded_module(const struct host_info *hi)
{
	return hi->module_pvm ? "kvm_pvm" : hi->module_intel ? "kvm_intel"
	       : hi->module_amd ? "kvm_amd" : hi->module_kvm ? "kvm" : NULL;
}

/*
 * No device and no module. Which fix fits depends on where we are: the CPU flag says the
 * extension is there (load the module); no flag but the hypervisor flag says we are a VM whose
 * hypervisor offers no nested virtualization (the BIOS is not ours to change); neither says bare
 * metal with VT-x/AMD-V off or absent (since Linux 5.6 the kernel hides vmx when the firmware
 * locked it off), the one case where the BIOS is the answer.
 */
static void fix_no_module(const struct host_info *hi, const char *what, char *buf, size_t len)
{
	if (hi->cpu_vmx || hi->cpu_svm)
		snprintf(buf, len, "%s and no KVM module is loaded; the CPU has %s: load it with "
			 "'sudo modprobe %s'", what, hi->cpu_vmx ? "VT-x (vmx flag)" : "AMD-V (svm flag)",
			 hi->cpu_vmx ? "kvm_intel" : "kvm_amd");
	else if (hi->cpu_hypervisor)
		snprintf(buf, len, "%s: this machine is a VM (hypervisor CPU flag) without nested "
			 "virtualization (no vmx/svm flag): enable nested virtualization in the outer "
			 "hypervisor, or use the lab VM", what);
	else
		snprintf(buf, len, "%s: the CPU reports neither vmx nor svm: enable VT-x/AMD-V in the "
			 "BIOS/firmware, then 'sudo modprobe kvm_intel' (or kvm_amd), or use the lab VM",
			 what);
}

/* No device node, or no driver behind it: the modules and /sys/class/misc/kvm tell why. */
static void fix_no_device(const struct host_info *hi, char *buf, size_t len)
{
	/*
	 * ENOENT: no node in /dev. ENXIO or ENODEV: the node exists, but no driver answers for its
	 * device number (KVM is misc device 10:232). /sys/class/misc/kvm is the kernel's own
	 * witness, independent of udev: it exists once kvm.ko registered the device.
	 */
	const char *what = hi->open_errno == ENOENT ? "/dev/kvm does not exist"
						     : "/dev/kvm has no KVM driver behind it";
	const char *mod = loaded_module(hi);
	if (!mod)
		fix_no_module(hi, what, buf, len);
	else if (!hi->misc_kvm)
		/* kvm.ko registers the device only once a back end initialised. */
		snprintf(buf, len, "the kvm module is loaded (%s) but no /dev/kvm device exists: its "
			 "back end did not start ('sudo dmesg | grep -i kvm' says why; 'sudo modprobe %s' "
			 "tries again), or use the lab VM", mod,
			 !strcmp(mod, "kvm") ? (hi->cpu_svm ? "kvm_amd" : "kvm_intel") : mod);
	else
		/* The kernel has the device (misc 10:232); only the node in /dev is missing. */
		snprintf(buf, len, "%s although module %s registered the KVM device: udev did not make "
			 "the node; 'sudo mknod /dev/kvm c 10 232 && sudo chgrp kvm /dev/kvm && "
			 "sudo chmod 660 /dev/kvm'", what, mod);
}

int doctor_fix(const struct host_info *hi, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	switch (hostinfo_class(hi)) {
	case HOST_CLASS_FULL:
		return 0;
	case HOST_CLASS_PVM:
		snprintf(buf, len, "%s", LABVM_FOR_PVM);
		return 0;
	default:
		break;
	}
	/*
	 * From the most specific witness to the least: a device that opened has only the API left
	 * to blame. EACCES is the file's mode and group. EPERM usually comes from a container's
	 * device cgroup or a security module, which no chmod changes; running as root is then
	 * the remaining advice.
	 */
	if (hi->kvm_fd_ok) /* a device that opens but speaks another API version */
		hostinfo_problem(hi, buf, len);
	else if (hi->open_errno == EACCES || hi->open_errno == EPERM)
		/* Usually root:kvm 0660 from udev's rule; group membership counts from next login. */
		snprintf(buf, len, "/dev/kvm: permission denied: add yourself to group 'kvm' with "
			 "'sudo usermod -aG kvm $USER' and log in again (if /dev/kvm is not group kvm: "
			 "'sudo chgrp kvm /dev/kvm && sudo chmod 660 /dev/kvm'), or run as root");
	else if (hi->open_errno == ENOENT || hi->open_errno == ENXIO || hi->open_errno == ENODEV)
		fix_no_device(hi, buf, len);
	else
		hostinfo_problem(hi, buf, len);
	return -1;
}

/* The end of the plain report: what to do, the last lines a reader of `hv doctor | less` sees. */
static void report_fix(FILE *out, const struct host_info *hi)
{
	char fix[512];
	enum host_class c = hostinfo_class(hi);
	if (c == HOST_CLASS_FULL)
		return;
	doctor_fix(hi, fix, sizeof fix);
	fprintf(out, "What to do:\n  %s\n", fix);
	if (c == HOST_CLASS_NONE)
		fprintf(out, "  %s\n", LABVM_FOR_NONE);
}

/* "PVM (para-virtualized KVM" ... the kind in words; the witnesses follow in kind_evidence. */
static const char *kind_meaning(enum hvt_host_kind kind)
{
	switch (kind) {
	case HVT_HOST_VMX: return "VMX (Intel VT-x";
	case HVT_HOST_SVM: return "SVM (AMD-V";
	case HVT_HOST_NESTED: return "NESTED (VT-x/AMD-V offered by the hypervisor below us";
	case HVT_HOST_PVM: return "PVM (para-virtualized KVM";
	default: return "UNKNOWN (hv could not tell";
	}
}

/* The witnesses hostinfo_classify() weighed, e.g. "module kvm_pvm, no vmx/svm CPU flag". */
/*
 * The witnesses are printed, not only the verdict, because they are evidence and not proof (a
 * hypervisor can hide its CPUID bit): a student can check each one by hand, with
 * grep -w -e vmx -e svm -e hypervisor /proc/cpuinfo and lsmod. hostinfo.c says why each is
 * trusted as far as it is.
 */
static void kind_evidence(const struct host_info *hi, char *buf, size_t len)
{
	const char *mod = hi->module_pvm ? "module kvm_pvm"
			  : hi->module_intel ? "module kvm_intel"
			  : hi->module_amd ? "module kvm_amd"
					   : "no kvm_intel/kvm_amd/kvm_pvm module";
	const char *vendor = hi->cpu_vmx ? "vmx" : hi->cpu_svm ? "svm" : NULL;
	if (!vendor)
		snprintf(buf, len, "%s, no vmx/svm CPU flag%s", mod,
			 hi->cpu_hypervisor ? ", hypervisor CPU flag" : "");
	else
		snprintf(buf, len, "%s, %s%s CPU flag%s", mod, vendor,
			 hi->cpu_hypervisor ? " and hypervisor" : "", hi->cpu_hypervisor ? "s" : "");
}

/* KVM_CHECK_EXTENSION returns counts for some capabilities: any positive value means "yes". */
static const char *yes_no(int v)
{
	return v > 0 ? "yes" : "no";
}

/*
 * The capabilities block: only meaningful once /dev/kvm answered. These are the
 * KVM_CHECK_EXTENSION answers hv cares about; what each one buys is explained where hostinfo.c
 * asks for it. A "no" here does not stop hv: it falls back (e.g. two register-reading ioctls per
 * traced exit without sync regs, no HVT_COUNTER records without binary stats).
 */
static void report_caps(FILE *out, const struct host_info *hi)
{
	fprintf(out, "  capabilities    user memory %s, set TSS addr %s, sync regs %s, "
		"binary stats fd %s,\n", yes_no(hi->cap_user_memory),
		yes_no(hi->cap_set_tss_addr), yes_no(hi->cap_sync_regs),
		yes_no(hi->cap_binary_stats_fd));
	fprintf(out, "                  ioeventfd %s, irqchip %s, immediate exit %s, "
		"guest debug %s\n", yes_no(hi->cap_ioeventfd), yes_no(hi->cap_irqchip),
		yes_no(hi->cap_immediate_exit), yes_no(hi->cap_set_guest_debug));
	/*
	 * KVM_CAP_NR_VCPUS is the recommended number of vCPUs per VM (about the host's CPU
	 * count), KVM_CAP_MAX_VCPUS the hard maximum, KVM_CAP_NR_MEMSLOTS how many memory slots
	 * one VM may have (hv uses one: vm.c step 3).
	 */
	fprintf(out, "  limits          %d vCPUs recommended, %d max, %d memory slots\n",
		hi->cap_nr_vcpus, hi->cap_max_vcpus, hi->cap_nr_memslots);
}

/*
 * The facts: what hv found and how. The API version has been 12 since Linux 2.6.22: KVM froze it
 * and added KVM_CHECK_EXTENSION instead, so a VMM discovers features one by one and never
 * reasons from a version number. Anything but 12 is not the KVM hv was written for.
 */
static void report_facts(FILE *out, const struct host_info *hi)
{
	char ev[160];
	/* The one word `hv doctor --class` prints, first: where the labs run. */
	fprintf(out, "  host class      %s\n", hostinfo_class_name(hostinfo_class(hi)));
	if (hi->kvm_fd_ok)
		fprintf(out, "  /dev/kvm        %s (API version %d)\n",
			hi->api_version == HOSTINFO_KVM_API ? "ok" : "WRONG VERSION",
			hi->api_version);
	else
		fprintf(out, "  /dev/kvm        cannot open: %s\n", strerror(hi->open_errno));
	kind_evidence(hi, ev, sizeof ev);
	fprintf(out, "  KVM kind        %s: %s)\n", kind_meaning(hi->kind), ev);
	/* The model makes a `make bench` result comparable: exit costs differ a lot between
	 * CPUs. */
	fprintf(out, "  CPU             %s\n", hi->cpu_model);
	/* "nested" is about the level above: would *this* KVM give VT-x/AMD-V to its guests? */
	if (hi->nested_param >= 0)
		fprintf(out, "  nested param    %s (whether this KVM offers VMX/SVM to its own "
			"guests)\n", hi->nested_param ? "Y" : "N");
	if (hi->kvm_fd_ok)
		report_caps(out, hi);
}

/* The verdict: what the labs can expect here. */
static void report_works(FILE *out, const struct host_info *hi)
{
	char why[256];
	fprintf(out, "What works here:\n");
	if (hostinfo_problem(hi, why, sizeof why) != 0) {
		fprintf(out, "  nothing yet: hv cannot use KVM (what to do is printed last)\n");
		return;
	}
	const struct works *w = works_for(hi->kind);
	fprintf(out, "  real mode guests          %s\n", w->real);
	fprintf(out, "  protected/long mode       %s\n", w->prot);
	/* Ring 3 and IDT delivery are what an operating system needs: system calls, timer and
	 * device interrupts, exceptions; the mini OS of a later chapter needs both. */
	fprintf(out, "  ring 3 and IDT interrupts %s\n", w->ring3);
	fprintf(out, "  port I/O and MMIO exits   yes, in every mode\n");
	/*
	 * True on every kind: with an in-kernel irqchip (KVM_CREATE_IRQCHIP) KVM emulates the
	 * local APIC, so a HLT just blocks the vCPU in the kernel until an interrupt arrives.
	 * hv creates none (it emulates the PIC itself, irq.c), so its guests' HLTs do reach it.
	 */
	fprintf(out, "  HLT exits to hv           only without an in-kernel irqchip (with one, "
		"KVM waits in the kernel)\n");
	/*
	 * ioeventfd: KVM matches a guest write to a registered port or address in the kernel,
	 * signals an eventfd and resumes the guest without returning from KVM_RUN: the
	 * "doorbell" virtio devices use. hv uses it only when asked (--ioeventfd, iothread.c):
	 * by default it wants to see every exit. It is reported because it is the standard way
	 * to make an exit cheaper (textbook ch04 "ioeventfd: a doorbell that stays in the
	 * kernel").
	 */
	fprintf(out, "  ioeventfd                 %s\n",
		hi->cap_ioeventfd ? "yes (doorbell writes can skip hv)" : "no");
	fprintf(out, "  cost of an exit           %s\n", w->exits);
}

/*
 * A JSON string: quotes, backslashes and control characters escaped (RFC 8259 section 7). \u00XX
 * covers every control character; bytes from 0x80 up pass through unchanged, which is valid JSON
 * as long as the text is UTF-8 (/proc/cpuinfo is ASCII in practice).
 */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static const char *json_bool(int v)
{
	return v > 0 ? "true" : "false";
}

/*
 * The same facts for scripts and the grading tools: one object on one line. Booleans are
 * JSON booleans, capabilities keep KVM's numbers, an unknown nested parameter is null, and
 * "problem" carries the one-line fix (null when KVM is usable). "works" uses one-word
 * answers: "yes", "emulated", "no", "unknown".
 */
static void report_json(FILE *out, const struct host_info *hi)
{
	char why[256];
	int usable = hostinfo_problem(hi, why, sizeof why) == 0;
	/* A kind is no promise when KVM cannot be opened: "works" is then "unknown" throughout,
	 * the kind and its witnesses are still reported below. */
	const struct works *w = usable ? works_for(hi->kind) : &works_unknown;

	/* open_errno is the raw number (13 = EACCES) so a script can branch on it without
	 * parsing the advice text. */
	fprintf(out, "{\"kvm_usable\":%s,\"dev_kvm_opened\":%s,\"open_errno\":%d,"
		"\"api_version\":%d,\"problem\":", json_bool(usable), json_bool(hi->kvm_fd_ok),
		hi->open_errno, hi->api_version);
	if (usable)
		fputs("null", out);
	else
		json_string(out, why);
	/* The same short names the trace header uses ("pvm", "vmx", ...): trace_names.c. */
	fprintf(out, ",\"kind\":\"%s\",\"class\":\"%s\",\"cpu_model\":", hvt_host_name(hi->kind),
		hostinfo_class_name(hostinfo_class(hi)));
	json_string(out, hi->cpu_model);
	fprintf(out, ",\"cpu_flags\":{\"vmx\":%s,\"svm\":%s,\"hypervisor\":%s}",
		json_bool(hi->cpu_vmx), json_bool(hi->cpu_svm), json_bool(hi->cpu_hypervisor));
	fprintf(out, ",\"modules\":{\"kvm_pvm\":%s,\"kvm_intel\":%s,\"kvm_amd\":%s}",
		json_bool(hi->module_pvm), json_bool(hi->module_intel), json_bool(hi->module_amd));
	fprintf(out, ",\"nested_param\":%s", hi->nested_param < 0 ? "null"
					     : json_bool(hi->nested_param));
	fprintf(out, ",\"caps\":{\"user_memory\":%d,\"set_tss_addr\":%d,\"sync_regs\":%d,"
		"\"binary_stats_fd\":%d,\"ioeventfd\":%d,\"irqchip\":%d,\"immediate_exit\":%d,"
		"\"set_guest_debug\":%d,\"nr_vcpus\":%d,\"max_vcpus\":%d,\"nr_memslots\":%d}",
		hi->cap_user_memory, hi->cap_set_tss_addr, hi->cap_sync_regs,
		hi->cap_binary_stats_fd, hi->cap_ioeventfd, hi->cap_irqchip,
		hi->cap_immediate_exit, hi->cap_set_guest_debug, hi->cap_nr_vcpus,
		hi->cap_max_vcpus, hi->cap_nr_memslots);
	fprintf(out, ",\"works\":{\"real_mode\":\"%s\",\"protected_long_mode\":\"%s\","
		"\"ring3_idt_interrupts\":\"%s\"}}\n", w->real_json, w->prot_json, w->ring3_json);
}

/* doctor never creates a VM: it reads /proc and /sys and asks /dev/kvm questions (version,
 * capabilities), so it is safe on any host and needs no guest. */
void doctor_report(FILE *out, const struct host_info *hi, int json)
{
	if (json) {
		report_json(out, hi);
		return;
	}
	fprintf(out, "hv doctor: what this host's KVM can do\n");
	report_facts(out, hi);
	report_works(out, hi);
	report_fix(out, hi);
}

int doctor_main(int argc, char **argv)
{
	int json = 0, class_only = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--class") == 0) {
			class_only = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n", DOCTOR_USAGE);
			return HV_EXIT_OK;
		} else {
			fprintf(stderr, "hv doctor: %s '%s' (%s)\n",
				argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i],
				DOCTOR_USAGE);
			return HV_EXIT_USAGE;
		}
	}

	/*
	 * Status 0 means "KVM is usable", even when the kind is UNKNOWN: whether hv can run and
	 * whether it understands the host are different questions. Status HV_EXIT_HOST (4) means
	 * /dev/kvm is missing, forbidden or not the standard API.
	 */
	struct host_info hi;
	int usable = hostinfo_probe(&hi) == 0;
	/* --class answers a question that has an answer on every host, "none" included: a script
	 * reads the word, never the status. */
	if (class_only) {
		printf("%s\n", hostinfo_class_name(hostinfo_class(&hi)));
		return HV_EXIT_OK;
	}
	doctor_report(stdout, &hi, json);
	if (usable)
		return HV_EXIT_OK;
	/* The report went to stdout; the one thing to do also goes to stderr, where scripts look. */
	char fix[512];
	doctor_fix(&hi, fix, sizeof fix);
	/* stdout is fully buffered when it goes to a file or pipe, stderr is not: without the
	 * flush, `hv doctor >out 2>&1` would put the fix line before the report. */
	fflush(stdout);
	fprintf(stderr, "hv: %s\n", fix);
	return HV_EXIT_HOST;
}
