/*
 * hostinfo.c - find out which KVM this host has: VT-x, AMD-V, nested, or PVM.
 *
 * Concept: a program cannot ask "is this real hardware virtualization?" with one call. It
 * collects witnesses, the way an administrator would: the CPU flags the kernel prints in
 * /proc/cpuinfo (vmx = Intel VT-x, svm = AMD-V, hypervisor = "I am myself a virtual machine"),
 * the KVM back-end module the kernel loaded (/sys/module/kvm_intel, kvm_amd or kvm_pvm), and
 * what /dev/kvm answers to KVM_GET_API_VERSION and KVM_CHECK_EXTENSION. Then a small pure
 * function weighs the witnesses. Textbook: chapter 0 "Your host", section "How hv tells them
 * apart".
 *
 * Reading order: hostinfo_classify() (the decision), the string parsers it is fed by, then
 * hostinfo_probe() which gathers the witnesses from the running system.
 */
#include "hostinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* /proc/cpuinfo is about 1.5 KiB per CPU; 16 MiB covers thousands of CPUs and stops a runaway. */
#define HOSTINFO_MAX_FILE (16u << 20)

/* ---- the decision ---- */

/*
 * A pure function of six yes/no witnesses, so the unit tests can try every combination without
 * owning a machine of each kind. The witnesses are evidence, not proof: a hypervisor may hide
 * the hypervisor bit to look like bare metal, and a nested host would then be reported as VMX or
 * SVM.
 */
enum hvt_host_kind hostinfo_classify(int cpu_vmx, int cpu_svm, int cpu_hypervisor,
				     int module_pvm, int module_intel, int module_amd)
{
	/*
	 * PVM first: it runs guests without VT-x/AMD-V, so the CPU flags describe the physical
	 * CPU (or nothing) and say nothing about how KVM works here. The module is the proof.
	 */
	if (module_pvm)
		return HVT_HOST_PVM;

	/*
	 * The CPU flag is the best witness of the vendor's virtualization extension: the kernel
	 * prints it only when CPUID reports it (Intel: CPUID.1:ECX bit 5; AMD:
	 * CPUID.80000001h:ECX bit 2). If neither flag is visible (a trimmed /proc, an unreadable
	 * file), the loaded back-end module is the second witness: kvm_intel refuses to load
	 * without VMX, kvm_amd without SVM.
	 */
	int intel = cpu_vmx, amd = cpu_svm;
	if (!cpu_vmx && !cpu_svm) {
		intel = module_intel;
		amd = module_amd;
	}
	if (intel == amd) /* neither witness, or contradictory ones: do not guess */
		return HVT_HOST_UNKNOWN;

	/*
	 * The hypervisor flag (CPUID.1:ECX bit 31) is set by most hypervisors for their guests: a
	 * convention (real CPUs keep the bit 0), and a hypervisor may hide it. A CPU that offers
	 * VMX/SVM *and* says it is virtual gets them from the hypervisor below: nested
	 * virtualization, where each of our guest's exits first goes to that hypervisor. A
	 * hypervisor that hides the flag makes a nested host look like VMX/SVM here.
	 */
	if (cpu_hypervisor)
		return HVT_HOST_NESTED;
	return intel ? HVT_HOST_VMX : HVT_HOST_SVM;
}

/*
 * The class asks a different question from the kind: not "which machinery?" but "where do the
 * labs run?". A usable KVM of an UNKNOWN kind counts as full: hv tries, and `make test` is the
 * witness (textbook ch00).
 */
enum host_class hostinfo_class(const struct host_info *hi)
{
	char why[256];
	if (hostinfo_problem(hi, why, sizeof why) != 0)
		return HOST_CLASS_NONE;
	return hi->kind == HVT_HOST_PVM ? HOST_CLASS_PVM : HOST_CLASS_FULL;
}

const char *hostinfo_class_name(enum host_class c)
{
	switch (c) {
	case HOST_CLASS_FULL: return "full";
	case HOST_CLASS_PVM: return "pvm";
	default: return "none";
	}
}

/* ---- error lines a person reads ---- */

/*
 * open() on /dev/kvm fails for three different reasons, each with its own fix, and the errno is
 * the only clue: ENOENT (no node: no KVM driver ever registered), EACCES/EPERM (a node the user
 * may not open), ENXIO/ENODEV (a node nobody answers behind).
 */
const char *hostinfo_open_advice(int err)
{
	/* Per thread, so two threads opening KVM at once cannot overwrite each other's line. */
	static _Thread_local char other[160];

	switch (err) {
	case ENOENT:
		/* No device node: the kvm module is not loaded, usually because the firmware
		   has virtualization switched off or the machine (a VM) does not offer it. */
		return "/dev/kvm does not exist (enable virtualization in the BIOS/firmware and load "
		       "kvm_intel or kvm_amd, or use a machine that has it)";
	case EACCES:
	case EPERM:
		/* The node is usually root:kvm mode 0660; membership takes effect at next login. */
		return "/dev/kvm: permission denied (add yourself to group 'kvm' with "
		       "'sudo usermod -aG kvm $USER' and log in again, or run as root)";
	case ENXIO:
	case ENODEV:
		/* A node exists but no driver answers behind it (module unloaded after boot). */
		return "/dev/kvm: no KVM driver behind the device (load kvm_intel or kvm_amd with "
		       "modprobe, after enabling virtualization in the BIOS/firmware)";
	default:
		snprintf(other, sizeof other, "/dev/kvm: cannot open: %s", strerror(err));
		return other;
	}
}

int hostinfo_problem(const struct host_info *hi, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	if (!hi->kvm_fd_ok) {
		snprintf(buf, len, "%s", hostinfo_open_advice(hi->open_errno));
		return -1;
	}
	/* Version 12 has been frozen since Linux 2.6.22; anything else is not the KVM hv knows. */
	if (hi->api_version != HOSTINFO_KVM_API) {
		snprintf(buf, len,
			 "/dev/kvm: KVM API version %d, hv needs %d (this kernel's KVM is not the "
			 "standard one; use a stock Linux kernel)",
			 hi->api_version, HOSTINFO_KVM_API);
		return -1;
	}
	return 0;
}

/* ---- parsers for /proc/cpuinfo and /sys/module text ---- */

/*
 * Find the line of text that starts at line and split "key<tabs>: value". Returns the key length
 * (trailing blanks dropped) and sets *value to just past ": ", or returns 0 if there is no colon.
 */
/* cpuinfo pads keys with tabs so the colons line up ("flags\t\t: fpu vme ..."), hence the blanks
 * dropped before the colon. */
static size_t cpuinfo_split(const char *line, const char *end, const char **value)
{
	const char *colon = memchr(line, ':', (size_t)(end - line));
	if (!colon)
		return 0;
	const char *k = colon;
	while (k > line && (k[-1] == ' ' || k[-1] == '\t'))
		k--;
	*value = colon + 1;
	return (size_t)(k - line);
}

/* Is word one of the blank-separated words in [s, end)? Whole words only: "vmx" != "vmxon". */
static int words_contain(const char *s, const char *end, const char *word, size_t wlen)
{
	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		const char *w = s;
		while (s < end && *s != ' ' && *s != '\t')
			s++;
		if ((size_t)(s - w) == wlen && memcmp(w, word, wlen) == 0)
			return 1;
	}
	return 0;
}

int hostinfo_cpuinfo_has_flag(const char *text, const char *flag)
{
	if (!text || !flag || !*flag)
		return 0;
	/*
	 * The flags are the kernel's names for CPUID feature bits, and the kernel may clear a
	 * flag it cannot use: since Linux 5.6 "vmx" disappears when the firmware locked VT-x off
	 * (IA32_FEATURE_CONTROL). So the flag means "usable here", not only "built into the
	 * chip". Every logical CPU has its own "flags" line; the first match is enough.
	 */
	size_t flen = strlen(flag);
	/*
	 * x86 cpuinfo has one "flags" line per processor. Newer kernels add lines such as
	 * "vmx flags" (VMX sub-features) and "bugs": only the key exactly "flags" counts.
	 */
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		const char *value;
		size_t klen = cpuinfo_split(line, end, &value);
		if (klen == 5 && memcmp(line, "flags", 5) == 0 &&
		    words_contain(value, end, flag, flen))
			return 1;
		line = *end ? end + 1 : end;
	}
	return 0;
}

void hostinfo_cpuinfo_model(const char *text, char *buf, size_t len)
{
	if (!len)
		return;
	snprintf(buf, len, "unknown");
	for (const char *line = text ? text : ""; *line;) {
		const char *end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		const char *value;
		size_t klen = cpuinfo_split(line, end, &value);
		if (klen == 10 && memcmp(line, "model name", 10) == 0) {
			while (value < end && (*value == ' ' || *value == '\t'))
				value++;
			if (value < end) {
				snprintf(buf, len, "%.*s", (int)(end - value), value);
				return;
			}
		}
		line = *end ? end + 1 : end;
	}
}

int hostinfo_parse_bool_param(const char *text)
{
	/* Boolean module parameters print as Y/N; kvm_amd's "nested" is an int and prints 1/0. */
	if (!text)
		return -1;
	if ((text[0] == 'Y' || text[0] == '1') && (text[1] == '\0' || text[1] == '\n'))
		return 1;
	if ((text[0] == 'N' || text[0] == '0') && (text[1] == '\0' || text[1] == '\n'))
		return 0;
	return -1;
}

/* ---- gathering the witnesses from the running system ---- */

/*
 * Read a whole text file into a NUL-terminated malloc()ed buffer, or NULL. /proc files report
 * size 0 to stat(), so this reads until end of file instead of trusting the size.
 */
static char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (used + 1 == cap) {
			char *bigger = cap < HOSTINFO_MAX_FILE ? realloc(buf, cap * 2) : NULL;
			if (!bigger)
				break; /* too big or out of memory: keep what we have */
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + used, cap - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	if (buf)
		buf[used] = '\0';
	close(fd);
	return buf;
}

/* access(F_OK) asks only whether the name exists: no read permission is needed. */
static int path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* CPU flags and model from /proc/cpuinfo; all stay 0 / "unknown" if it cannot be read. */
static void probe_cpuinfo(struct host_info *hi)
{
	char *text = read_text("/proc/cpuinfo");
	hi->cpu_vmx = hostinfo_cpuinfo_has_flag(text, "vmx");
	hi->cpu_svm = hostinfo_cpuinfo_has_flag(text, "svm");
	hi->cpu_hypervisor = hostinfo_cpuinfo_has_flag(text, "hypervisor");
	hostinfo_cpuinfo_model(text, hi->cpu_model, sizeof hi->cpu_model);
	free(text);
}

/*
 * Which KVM back end the kernel loaded. A module appears as a directory in /sys/module while
 * it is loaded (or built in with parameters). "nested" says whether *this* KVM would offer
 * VMX/SVM to hv's guests in turn; hv does not need it, doctor only reports it.
 */
static void probe_modules(struct host_info *hi)
{
	/*
	 * kvm.ko is the common, vendor-neutral part (the /dev/kvm API, memory slots, the exit
	 * loop in the kernel); kvm_intel, kvm_amd or kvm_pvm is the back end that actually runs
	 * guests.
	 */
	hi->module_pvm = path_exists("/sys/module/kvm_pvm");
	hi->module_intel = path_exists("/sys/module/kvm_intel");
	hi->module_amd = path_exists("/sys/module/kvm_amd");
	/* The device: kvm.ko registers misc device "kvm" (major 10, minor 232) once a back end
	 * works; udev then makes /dev/kvm from /sys/class/misc/kvm. A module without this entry
	 * loaded, but its back end did not start. */
	hi->module_kvm = path_exists("/sys/module/kvm");
	hi->misc_kvm = path_exists("/sys/class/misc/kvm");
	/* HVLAB_KVM_DEVICE pretending there is no device: then the kernel has none either. */
	if (strcmp(hostinfo_kvm_device(), "/dev/kvm") != 0 && !path_exists(hostinfo_kvm_device()))
		hi->misc_kvm = 0;
	hi->nested_param = -1;
	const char *param = hi->module_intel ? "/sys/module/kvm_intel/parameters/nested"
			    : hi->module_amd ? "/sys/module/kvm_amd/parameters/nested"
					     : NULL;
	/* nested=Y on kvm_intel (1 on kvm_amd) would let hv's guests run a hypervisor of their
	 * own: they would see the vmx or svm flag in CPUID. */
	if (param) {
		char *text = read_text(param);
		hi->nested_param = hostinfo_parse_bool_param(text);
		free(text);
	}
}

/*
 * KVM_CHECK_EXTENSION returns 0 for "absent", a positive value (often a count) if present. Asked
 * on the system fd it answers for this kernel in general; some capabilities can also be asked
 * per VM on a VM fd. A failed ioctl counts as "absent".
 */
static int kvm_cap(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

const char *hostinfo_kvm_device(void)
{
	/* Pretending is enough to test every "no KVM" path on a host that has one: open(2)
	 * then fails with ENOENT, as on a machine whose kernel registered no KVM device. */
	const char *dev = getenv("HVLAB_KVM_DEVICE");
	return dev && *dev ? dev : "/dev/kvm";
}

/* Ask /dev/kvm itself: the API version and the capabilities hv relies on or reports. */
static void probe_kvm(struct host_info *hi)
{
	/* A descriptor of its own, closed again at the end: doctor must work even where creating
	 * a VM would fail, and vm.c opens its own with hostinfo_open_kvm. */
	int fd = open(hostinfo_kvm_device(), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		hi->open_errno = errno;
		return;
	}
	hi->kvm_fd_ok = 1;
	/* The first ioctl any VMM makes: is this the KVM ABI we were written against? */
	hi->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
	/* Guest RAM is ordinary host memory handed to KVM (textbook ch 2). */
	hi->cap_user_memory = kvm_cap(fd, KVM_CAP_USER_MEMORY);
	/* Intel without "unrestricted guest" needs 3 pages to fake real mode in vm86. */
	hi->cap_set_tss_addr = kvm_cap(fd, KVM_CAP_SET_TSS_ADDR);
	/* Registers shared in the kvm_run page: no register-reading ioctl per exit (regs.c).
	   The value is a bit mask of the register sets offered (regs, sregs, events = 7). */
	hi->cap_sync_regs = kvm_cap(fd, KVM_CAP_SYNC_REGS);
	/* KVM's own exit counters, read from a file descriptor: the trace's HVT_COUNTERs. */
	hi->cap_binary_stats_fd = kvm_cap(fd, KVM_CAP_BINARY_STATS_FD);
	/* A guest write to a chosen address only signals an eventfd: no return to hv. */
	hi->cap_ioeventfd = kvm_cap(fd, KVM_CAP_IOEVENTFD);
	/* Interrupt controllers emulated inside the kernel (and HLT handled there too). */
	hi->cap_irqchip = kvm_cap(fd, KVM_CAP_IRQCHIP);
	/* kvm_run.immediate_exit: a signal can stop KVM_RUN without a race (--timeout). */
	hi->cap_immediate_exit = kvm_cap(fd, KVM_CAP_IMMEDIATE_EXIT);
	/* Single-stepping and breakpoints for the debugger. */
	hi->cap_set_guest_debug = kvm_cap(fd, KVM_CAP_SET_GUEST_DEBUG);
	/* Sizes: recommended and absolute vCPU limits, and how many RAM slots a VM may have. */
	hi->cap_nr_vcpus = kvm_cap(fd, KVM_CAP_NR_VCPUS);
	hi->cap_max_vcpus = kvm_cap(fd, KVM_CAP_MAX_VCPUS);
	hi->cap_nr_memslots = kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
	close(fd);
}

int hostinfo_is_emulated_svm(const struct host_info *hi)
{
	return hi->kind == HVT_HOST_NESTED && hi->cpu_svm && strstr(hi->cpu_model, "QEMU") != NULL;
}

int hostinfo_probe(struct host_info *hi)
{
	/*
	 * Facts that need no permission first (/proc, /sys), /dev/kvm last: a student who may
	 * not open /dev/kvm still learns what kind of host this is, and what to do about the
	 * permission.
	 */
	memset(hi, 0, sizeof *hi);
	hi->api_version = -1;
	probe_cpuinfo(hi);
	probe_modules(hi);
	probe_kvm(hi);
	hi->kind = hostinfo_classify(hi->cpu_vmx, hi->cpu_svm, hi->cpu_hypervisor, hi->module_pvm,
				     hi->module_intel, hi->module_amd);
	char why[256];
	return hostinfo_problem(hi, why, sizeof why);
}

/*
 * hv run without KVM: the fix that fits this host, as `hv doctor` words it (the BIOS only on
 * bare metal, nested virtualization in a VM, the module or the group where those are missing;
 * doctor.c), and the way to run the same command anyway: the lab VM (textbook chapter 0, "What
 * runs where"). The witnesses are gathered only now, on the error path.
 */
static void open_failed(char *err, size_t errlen)
{
	struct host_info hi;
	char fix[512];
	hostinfo_probe(&hi);
	if (doctor_fix(&hi, fix, sizeof fix) == 0 || !fix[0]) /* it opened this time after all */
		snprintf(fix, sizeof fix, "%s", hostinfo_open_advice(hi.open_errno));
	snprintf(err, errlen, "%s; the lab VM runs it anyway: make labvm-run CMD='build/hv run ...' "
		 "('hv doctor' explains)", fix);
}

/*
 * Only the API version is a hard requirement. Capabilities are checked where each feature is
 * used (vm.c: cap_set_tss_addr, cap_sync_regs), so a missing optional feature makes hv slower or
 * quieter, never unusable.
 */
int hostinfo_open_kvm(char *err, size_t errlen)
{
	/* O_CLOEXEC: a guest's child processes (none today) must never inherit the VMM's KVM. */
	int fd = open(hostinfo_kvm_device(), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		open_failed(err, errlen);
		return -1;
	}
	struct host_info hi = { .kvm_fd_ok = 1, .api_version = ioctl(fd, KVM_GET_API_VERSION, 0) };
	if (hostinfo_problem(&hi, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}
