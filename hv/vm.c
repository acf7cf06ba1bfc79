/*
 * vm.c - build a virtual machine with KVM, step by step, in the order the textbook tells it.
 *
 * Concept: KVM gives a VMM only two things, a CPU that can run guest code (the vCPU) and a
 * way to say "this host memory is the guest's RAM". The rest of the machine is hv's work.
 * vm_create() reads as a recipe, in two parts. First vm_prepare, which needs no KVM at all:
 *
 *   0. read and check the guest, resolve --step, open    (the user's files: a mistake in them
 *      the disk and the trace file                        is reported as such on every host)
 *
 * then vm_build, the machine itself:
 *
 *   1. open /dev/kvm and check the API version          (talk to the hypervisor in the kernel)
 *   2. KVM_CREATE_VM                                     (an empty machine: no RAM, no CPU)
 *   3. mmap guest RAM, KVM_SET_USER_MEMORY_REGION        (guest-physical 0.. = our buffer)
 *   4. KVM_CREATE_VCPU, mmap its kvm_run page, CPUID     (a CPU, and the page exits arrive in)
 *   5. the board: devices on the I/O bus (dev/board.c)   (what the guest can talk to)
 *   6. load the guest, set the CPU mode                  (firmware and boot loader's job)
 *   7. connect the trace                                 (so we can watch)
 *
 * Textbook: chapter 2 "A VM from the inside".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "dev/ata.h"
#include "dev/board.h"
#include "dev/pit.h"
#include "dev/virtio_blk.h"
#include "iothread.h"
#include "irq.h"
#include "kvmstats.h"
#include "layout.h"
#include "linuxboot.h"
#include "regs.h"
#include "step.h"
#include "summary.h"
#include "vcpu.h"
#include "vizlink.h"
#include "vm.h"

/* One-line error, then the exit status that goes with it. */
__attribute__((format(printf, 2, 3)))
static int fail(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hv: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return status;
}

/*
 * A request, not an action (stop.h): the exit loop checks it before calling KVM_RUN again, so
 * the guest is never stopped halfway through an exit; it is simply not entered again. The
 * device that asks (the exit port) holds only the struct vm_stop, never the VM: it calls this
 * directly. No lock: almost every request comes from the vCPU thread (its exits, its hooks);
 * the one exception, the I/O thread giving up on its eventfd, can only race with another stop,
 * and then either reason is a true one.
 */
void vm_stop_request(struct vm_stop *stop, int status, const char *why)
{
	if (stop->requested)
		return;
	stop->status = status;
	stop->why = why;
	stop->requested = true;
}

/* hv's own reasons are often formatted on the caller's stack: kept in vm->why, which vm_run
 * prints at the end (and vizlink.c hands to hvviz). */
void vm_stop_with(struct vm *vm, int status, const char *why)
{
	if (vm->stop.requested)
		return;
	snprintf(vm->why, sizeof(vm->why), "%s", why ? why : "");
	vm_stop_request(&vm->stop, status, vm->why);
}

/*
 * Steps 1-2. All of KVM is ioctls on three kinds of descriptor: the system fd (/dev/kvm), one VM
 * fd per machine, one vCPU fd per virtual CPU. So `strace -e trace=ioctl` shows a VMM's whole
 * conversation with the hypervisor (textbook ch 2, "Building a machine in seven steps").
 */
static int open_kvm(struct vm *vm)
{
	char err[1024];
	vm->kvm_fd = hostinfo_open_kvm(err, sizeof(err));
	if (vm->kvm_fd < 0)
		return fail(HV_EXIT_HOST, "%s", err);
	/*
	 * KVM_CREATE_VM allocates a `struct kvm` (memory slots, MMU state, later the vCPUs) and
	 * returns it as a descriptor: an empty machine of the default x86 type (0). It belongs
	 * to this process's address space. Depending on the kernel, this call or the module load
	 * is where KVM turns VMX/SVM on in every host CPU, and fails if another hypervisor holds
	 * VT-x.
	 */
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return fail(HV_EXIT_HOST, "KVM_CREATE_VM failed: %s (is another hypervisor holding "
			    "VT-x/AMD-V? try 'hv doctor')", strerror(errno));
	/*
	 * KVM_SET_TSS_ADDR: an Intel quirk that shows through the API. Without the VT-x feature
	 * "unrestricted guest" (before Westmere, 2010, or a nested host hiding it) VMX non-root
	 * mode requires CR0.PE and CR0.PG, so KVM runs real-mode code in virtual-8086 mode,
	 * whose interrupt-redirection and I/O bitmaps live in a task-state segment: 104 + 32 +
	 * 8192 bytes, three pages. They must lie in *guest*-physical space below 4 GiB, off RAM
	 * and MMIO, and only the VMM knows where that is: HV_TSS_ADDR (layout.h). KVM's identity
	 * page table for paging-off protected mode defaults to the page just below, 0xFFFBC000.
	 * Other hosts never touch these pages.
	 */
	if (vm->host.cap_set_tss_addr)
		(void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)HV_TSS_ADDR);
	return 0;
}

/*
 * Step 3: guest RAM (textbook: chapter 2, section "Guest RAM is host memory"). Anonymous memory
 * is demand-paged: a page gets a physical frame only when first touched, so a 3 GiB guest that
 * prints one line costs almost nothing. MAP_NORESERVE adds: reserve no swap (no overcommit
 * "commit charge") for the whole size up front, so a large --mem is not refused just because the
 * guest *could* fill it (ignored under vm.overcommit_memory = 2).
 */
static int add_ram(struct vm *vm, uint32_t mib)
{
	/* LAB 1 BEGIN add_ram: mmap the guest RAM and register it with KVM as memory slot 0 */
	uint64_t size = (uint64_t)mib << 20;
	void *host = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (host == MAP_FAILED)
		return fail(HV_EXIT_HOST, "cannot allocate guest RAM: %s (use a smaller --mem)",
			    strerror(errno));
	/* hv's own slot table: gm_ptr checks each guest address *hv* follows against it. */
	vm->mem.slots[0] = (struct gm_slot){ .gpa = 0, .size = size, .host = host };
	vm->mem.nslots = 1;
	/*
	 * KVM_SET_USER_MEMORY_REGION creates slot 0: "guest-physical [0, size) is host virtual
	 * [host, host + size)". KVM copies and allocates nothing; it records the mapping. When
	 * the guest first touches a page, EPT (Intel) or NPT (AMD) has no entry, the access
	 * exits to KVM (an exit hv never sees), KVM faults the host page in as any access by
	 * this process would, and installs the translation. hv's pointer and the guest's
	 * physical address then reach the same frame, which is why the loader can "put the guest
	 * in RAM" with a memcpy. An address no slot covers is where MMIO exits come from
	 * (chapter 3, "MMIO exits").
	 */
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail(HV_EXIT_HOST, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
	return 0;
	/* LAB 1 STUB
	(void)mib;
	// TODO(lab 1): mmap `mib` MiB of anonymous memory (MAP_NORESERVE), note it in hv's own slot
	// table (vm->mem.slots[0], vm->mem.nslots) and hand it to KVM as slot 0 at guest-physical 0
	// with KVM_SET_USER_MEMORY_REGION on vm->vm_fd (textbook ch02 "Guest RAM is host memory").
	// On failure: return fail(HV_EXIT_HOST, "...") with strerror(errno).
	(void)vm;
	return fail(HV_EXIT_HOST, "lab 1: add_ram (hv/vm.c) is not written yet");
	LAB 1 END */
}

/* CPUID leaf 1, ECX bit 31: "a hypervisor is present" (always 0 on real hardware). */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
/* Leaf 0x40000001 (KVM_CPUID_FEATURES), EAX: the para-virtual features hv lets the guest see.
 * Bits 0 and 3: kvmclock (KVM keeps the clock page itself, in the kernel); bit 1: port 0x80
 * delays are not needed; bit 24: the clock is stable. */
#define KVM_PV_FEATURES_KEPT ((1u << 0) | (1u << 1) | (1u << 3) | (1u << 24))

/*
 * Say "you run on KVM", as QEMU does: KVM's table has its own leaves 0x40000000 ("KVMKVMKVM")
 * and 0x40000001 (features), but a guest looks there only when leaf 1 sets the hypervisor bit,
 * which KVM leaves to the VMM. Linux then uses kvmclock, which tells it the TSC's rate, instead
 * of measuring the TSC against PIT counter 2 with thousands of exits (textbook chapter 11
 * "Booting Linux", section "The PC pieces Linux asks for"). Only the clock features are kept:
 * the others (asynchronous page faults, PV EOI, PV IPIs) need a local APIC in the kernel,
 * which hv does not create, and Linux would warn when their MSRs are refused.
 */
static void cpuid_show_hypervisor(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1)
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (e->function == 0x40000001u)
			e->eax &= KVM_PV_FEATURES_KEPT;
	}
}

/*
 * The guest asks "what CPU am I?" with CPUID. KVM answers from a table hv must set; we copy
 * what KVM supports. Long mode needs it: KVM refuses EFER.LME unless CPUID says "LM".
 */
static int set_cpuid(struct vm *vm)
{
	enum { N = 128 };
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + N * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return fail(HV_EXIT_HOST, "out of memory");
	/*
	 * KVM_GET_SUPPORTED_CPUID: every leaf this KVM can present (the CPU's features, minus
	 * what it cannot virtualize, plus what it emulates). KVM sets nent to the count (75 in
	 * the textbook's strace); E2BIG would mean 128 are too few.
	 */
	c->nent = N;
	int rc = ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
	if (rc == 0)
		cpuid_show_hypervisor(c);
	if (rc == 0)
		/*
		 * KVM_SET_CPUID2 (per vCPU) is what the guest's CPUID will return. CPUID always
		 * exits on VT-x (KVM intercepts it on AMD-V) and KVM answers it in the kernel,
		 * so hv never sees one. Recent kernels refuse to change it after the first
		 * KVM_RUN.
		 */
		rc = ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c);
	free(c);
	if (rc < 0)
		return fail(HV_EXIT_HOST, "setting the guest CPUID failed: %s", strerror(errno));
	return 0;
}

/*
 * Step 4. KVM_CREATE_VCPU (argument: the vCPU id, on x86 also its APIC ID) allocates a
 * `struct kvm_vcpu` and the block that holds a guest CPU's state while it is not running: the
 * VMCS on Intel, the VMCB on AMD. It starts in the state of a real CPU after RESET.
 */
static int add_vcpu(struct vm *vm)
{
	/* LAB 1 BEGIN add_vcpu: create the vCPU and map its kvm_run page */
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return fail(HV_EXIT_HOST, "KVM_CREATE_VCPU failed: %s", strerror(errno));
	/*
	 * kvm_run is the mailbox between KVM and hv: after KVM_RUN returns, exit_reason and the
	 * union after it say why (port, address, data); before the next KVM_RUN hv leaves its
	 * answers there (the value an IN reads, immediate_exit). The size must be asked: on x86
	 * page 0 is struct kvm_run, page 1 port I/O data (io.data_offset points there), page 2
	 * the coalesced-MMIO ring, 12288 bytes in the textbook's strace.
	 */
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return fail(HV_EXIT_HOST, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
	vm->run_size = (size_t)size;
	/* MAP_SHARED on the vCPU fd: these are the kernel's own pages, not a copy. */
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		vm->run = NULL;
		return fail(HV_EXIT_HOST, "cannot map kvm_run: %s", strerror(errno));
	}
	/* -1 before Linux 5.14: the trace then simply has no counter records. */
	vm->stats_fd = kvmstats_open(vm->vcpu_fd);
	return set_cpuid(vm);
	/* LAB 1 STUB
	// TODO(lab 1): KVM_CREATE_VCPU (id 0) on vm->vm_fd gives vm->vcpu_fd; ask /dev/kvm
	// (vm->kvm_fd) for KVM_GET_VCPU_MMAP_SIZE, keep it in vm->run_size and mmap that many bytes
	// of the vCPU fd, MAP_SHARED, as vm->run (set it back to NULL if the mmap fails). Then
	// vm->stats_fd = kvmstats_open(vm->vcpu_fd) and return set_cpuid(vm) (textbook ch02
	// "Building a machine in seven steps"). On failure: return fail(HV_EXIT_HOST, "...").
	(void)set_cpuid;
	(void)vm;
	return fail(HV_EXIT_HOST, "lab 1: add_vcpu (hv/vm.c) is not written yet");
	LAB 1 END */
}

/*
 * Step 5: the machine's devices. The board (dev/board.c) creates each one, claims its ports or
 * addresses on the bus and wires its interrupt line; with a disk (textbook chapter 4 "Two I/O
 * paths") it adds one of two controllers for the image vm_prepare opened: the legacy ATA one,
 * which the guest drives register by register (every access an exit), or virtio-blk, where the
 * guest describes whole requests in memory and rings one doorbell. Same file, same backend
 * calls (disk.c), very different exit counts.
 */
static int add_devices(struct vm *vm, const struct vm_options *opt)
{
	char err[512];
	/*
	 * No ioctl for the devices themselves: KVM has no idea what a serial port is. A device
	 * exists for the guest only because its accesses leave the guest: KVM intercepts port
	 * I/O it does not handle itself, and the MMIO window has no memory slot. hv routes those
	 * exits on its own bus.
	 */
	if (board_create(vm, vm->have_disk ? opt->disk_path : DISK_PATH_NONE, err, sizeof(err)) < 0)
		return fail(HV_EXIT_HOST, "%s", err);
	/* The TSC's rate, to place the trace page's records in time (tracepage.c "The clock"). */
	int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	vm->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	/* --ioeventfd: KVM takes virtio's doorbell in the kernel (iothread.c). */
	if (vm->have_disk && opt->ioeventfd && iothread_setup(vm, err, sizeof(err)) < 0)
		return fail(HV_EXIT_HOST, "%s", err);
	return 0;
}

/* Does the command line hold a word that starts with `prefix` (e.g. "pci=")? */
static bool cmdline_has_word(const char *line, const char *prefix)
{
	size_t len = strlen(prefix);
	for (const char *p = line; (p = strstr(p, prefix)) != NULL; p += len)
		if (p == line || p[-1] == ' ')
			return true;
	return false;
}

/*
 * The command line the guest gets: the user's words, then what hv must tell the guest about its
 * machine. A guest cannot discover an MMIO device by probing (there is no bus to enumerate, as
 * PCI would have), so hv announces it the way Linux expects on such machines, and says which
 * disk path the workload should use.
 */
int vm_build_cmdline(char *line, size_t cap, const struct vm_options *opt)
{
	int n = snprintf(line, cap, "%s", opt->cmdline ? opt->cmdline : "");
	if (n >= 0 && (size_t)n < cap && opt->disk_path == DISK_PATH_VIRTIO)
		n += snprintf(line + n, cap - (size_t)n, "%svirtio_mmio.device=%u@0x%x:%u hvlab.disk=virtio",
			      n ? " " : "", HV_VIRTIO_MMIO_LEN, HV_MMIO_VIRTIO_BLK, HV_IRQ_VIRTIO_BLK);
	else if (n >= 0 && (size_t)n < cap && opt->disk_path == DISK_PATH_LEGACY)
		n += snprintf(line + n, cap - (size_t)n, "%shvlab.disk=legacy", n ? " " : "");
	/*
	 * A Linux kernel (--kernel) also hears that the machine has no PCI bus. Without `pci=off`,
	 * a kernel that believes it runs on an old AMD CPU (family 0xF or 0x10, as the lab VM's
	 * qemu64 is) looks for an AGP bridge twice at boot (early_gart_iommu_check and
	 * gart_iommu_hole_init in Linux's arch/x86/kernel/aperture_64.c): every slot of every bus,
	 * 256 x 32 reads of PCI configuration space, two exits each. An empty port answers all
	 * ones, "no device in this slot", which ends the slot but not the scan, so no device hv
	 * could put at 0xCF8 would make it shorter. `pci=off` is Linux's documented word for "do not
	 * probe for the PCI bus" (Firecracker passes it too); a user's own `pci=` word wins.
	 * Textbook: chapter 11, section "The PCI scan that was four exits in five".
	 */
	if (n >= 0 && (size_t)n < cap && opt->linux_kernel && !cmdline_has_word(line, "pci="))
		n += snprintf(line + n, cap - (size_t)n, "%spci=off", n ? " " : "");
	/* Where a guest kernel registers its trace page (pvtrace.h): any guest may, few do. */
	if (n >= 0 && (size_t)n < cap)
		n += snprintf(line + n, cap - (size_t)n, "%shvlab.pvtrace=0x%x", n ? " " : "",
			      HV_PORT_PVTRACE);
	return n;
}

static int build_cmdline(struct vm_inputs *in, const struct vm_options *opt)
{
	size_t cap = sizeof(in->cmdline);
	int n = vm_build_cmdline(in->cmdline, cap, opt);
	if (n < 0 || (size_t)n >= cap)
		return fail(HV_EXIT_USAGE, "the guest command line would be %d bytes; at most %zu fit "
			    "(shorten --cmdline)", n, cap - 1);
	return 0;
}

/*
 * --step SYMBOL: an address (0x...) or a name in the ELF's symbol table (step.c). Resolved in
 * vm_prepare, from the file alone: a misspelt name is the user's mistake on every host.
 */
static int resolve_step(struct vm_inputs *in, const struct vm_options *opt)
{
	char *end;
	errno = 0;
	uint64_t addr = strtoull(opt->step_at, &end, 0);
	bool numeric = opt->step_at[0] >= '0' && opt->step_at[0] <= '9' && *end == '\0' && !errno;
	if (!numeric && loader_find_symbol(in->img, in->len, opt->step_at, &addr) < 0)
		return fail(HV_EXIT_USAGE, "--step %s: no such symbol in %s (give the guest's .elf, which "
			    "has a symbol table, or an address such as 0x400000)", opt->step_at,
			    opt->guest_path);
	/* The INT3 goes where the loader will put the byte (step.c); raw guests: at the address. */
	uint64_t gpa = addr;
	loader_load_address(in->img, in->len, addr, &gpa);
	/* A breakpoint is planted in guest RAM (step_arm): it must be there. Not needed where
	 * none is planted: at the entry point, or with --step-seek. */
	struct guest_mem plan = { .slots = { { .size = (uint64_t)opt->mem_mib << 20 } }, .nslots = 1 };
	if (!opt->step_seek && addr != in->boot.entry && !gm_holds(&plan, gpa, 1))
		return fail(HV_EXIT_USAGE, "--step %s: 0x%llx (loaded at guest-physical 0x%llx) is not in "
			    "guest RAM (give an address inside the guest)", opt->step_at,
			    (unsigned long long)addr, (unsigned long long)gpa);
	in->step_addr = addr;
	in->step_gpa = gpa;
	return 0;
}

/* --step, once the guest is in RAM: plant the breakpoint (step.c). */
static int arm_step(struct vm *vm, const struct vm_options *opt, const struct vm_inputs *in)
{
	/*
	 * QEMU's emulated SVM (the lab VM) intercepts neither kind of breakpoint (step.c), so
	 * there hv finds the window with the trap flag alone. The CPU model tells TCG apart.
	 */
	bool seek = opt->step_seek;
	if (!seek && hostinfo_is_emulated_svm(&vm->host)) {
		seek = true;
		if (!opt->quiet)
			fprintf(stderr, "hv: --step: QEMU's emulated SVM cannot stop at a breakpoint; "
				"reaching %s by single-stepping from the start (--step-seek)\n", opt->step_at);
	}
	if (step_arm(vm, in->step_addr, in->step_gpa, opt->step_count, seek) < 0)
		return fail(HV_EXIT_USAGE, "--step %s: 0x%llx (loaded at guest-physical 0x%llx) is not in "
			    "guest RAM (give an address inside the guest)", opt->step_at,
			    (unsigned long long)in->step_addr, (unsigned long long)in->step_gpa);
	return 0;
}

/* Step 6: the VMM as firmware and boot loader (no BIOS runs; the guest's first instruction is
 * its own). vm_prepare has read the file and checked it against this RAM size (loader_check),
 * so loading cannot fail for the file's sake now. */
static int load_guest(struct vm *vm, const struct vm_options *opt, const struct vm_inputs *in)
{
	char err[512];
	int rc = opt->linux_kernel
		? linux_load(&vm->mem, in->img, in->len, opt->guest_path, in->initrd, in->initrd_len,
			     vm->vblk != NULL, &vm->boot, err, sizeof(err))
		: loader_load(&vm->mem, in->img, in->len, opt->guest_path, opt->mode, &vm->boot, err,
			      sizeof(err));
	if (rc == 0 && in->initrd && !opt->linux_kernel)
		rc = loader_add_initrd(&vm->mem, &vm->boot, in->initrd, in->initrd_len,
				       opt->initrd_path, err, sizeof(err));
	if (rc < 0)
		return fail(HV_EXIT_USAGE, "%s", err);
	if (opt->step_at && arm_step(vm, opt, in))
		return HV_EXIT_USAGE; /* arm_step printed why */
	if (cpu_setup(vm, vm->cmdline[0] ? vm->cmdline : NULL, err, sizeof(err)) < 0)
		return fail(HV_EXIT_USAGE, "%s", err);
	/* Before the first exit the guest stands where cpu_setup put it: read it back from the
	 * vCPU, so the first trace events (and a report of a guest that dies at once, diag.c)
	 * show what KVM really holds. */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (regs_get(vm, &regs) == 0 && sregs_get(vm, &sregs) == 0) {
		vm->guest_rip = regs.rip;
		vm->guest_mode = cpu_mode(&sregs);
		vm->guest_cpl = cpu_cpl(&sregs);
	}
	return 0;
}

/* Step 7. With sync regs KVM copies the registers into kvm_run at each exit, so tracing
 * the guest's mode and rip costs no extra system call. (vm_prepare created the file.) */
static void connect_trace(struct vm *vm, struct vm_inputs *in)
{
	vm->trace = in->trace; /* the VM's from now on: vm_run or vm_destroy closes it */
	in->trace = NULL;
	if (!vm->trace)
		return;
	/* The devices that record their own steps (chapter 4) write into the same trace. */
	vm->disk.trace = vm->trace;
	vm->tracepage.trace = vm->trace;
	if (vm->ata)
		vm->ata->trace = vm->trace;
	if (vm->vblk)
		virtio_blk_set_trace(vm->vblk, vm->trace);
	/*
	 * Without sync regs, each traced exit would cost two register-reading ioctls (regs.c), two
	 * more trips into the kernel (textbook ch 3, "What an exit costs"). kvm_dirty_regs stays
	 * 0, so KVM never loads registers *from* kvm_run: the copy there is for reading only.
	 * When hv does change a register after cpu_setup (--step moving rip or clearing TF,
	 * step.c), it goes through regs_set (regs.c), and the next exit refreshes the copy.
	 */
	if (vm->host.cap_sync_regs & KVM_SYNC_X86_SREGS) {
		vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
		vm->sync_regs = true;
	}
}

/* ---- step 0: the user's inputs, before KVM ---- */

/*
 * --kernel BZIMAGE [--initrd FILE]: the Linux boot protocol (linuxboot.c), checked against a
 * RAM map of sizes only, as loader_check does for the other guests. The kernel reads at most
 * cmdline_size bytes of its command line (the header says): a longer one is refused here.
 */
static int check_linux(struct vm_inputs *in, const struct vm_options *opt)
{
	char err[512];
	uint64_t ram = (uint64_t)opt->mem_mib << 20;
	struct guest_mem plan = { .slots = { { .size = ram } }, .nslots = 1 };
	if (linux_load(&plan, in->img, in->len, opt->guest_path, in->initrd, in->initrd_len,
		       opt->disk_path == DISK_PATH_VIRTIO, &in->boot, err, sizeof(err)) < 0)
		return fail(HV_EXIT_USAGE, "%s", err);
	size_t n = strlen(in->cmdline);
	if (n > in->boot.cmdline_max)
		return fail(HV_EXIT_USAGE, "the command line is %zu bytes; kernel '%s' reads at most %u "
			    "(shorten --cmdline)", n, opt->guest_path, in->boot.cmdline_max);
	return opt->step_at ? resolve_step(in, opt) : 0;
}

/* The guest file, read whole and checked against the RAM it will get (loader_check). */
static int check_guest(struct vm_inputs *in, const struct vm_options *opt)
{
	char err[512];
	uint64_t ram = (uint64_t)opt->mem_mib << 20;
	in->img = loader_read_as(opt->guest_path, opt->linux_kernel ? &LOADER_KERNEL : &LOADER_GUEST,
				 ram, &in->len, err, sizeof(err));
	if (!in->img)
		return fail(HV_EXIT_USAGE, "%s", err);
	if (opt->initrd_path) {
		in->initrd = loader_read_as(opt->initrd_path, &LOADER_INITRD, ram, &in->initrd_len, err,
					    sizeof(err));
		if (!in->initrd)
			return fail(HV_EXIT_USAGE, "%s", err);
	}
	if (opt->linux_kernel)
		return check_linux(in, opt);
	struct guest_mem plan = { .slots = { { .size = ram } }, .nslots = 1 };
	if (loader_check(in->img, in->len, opt->guest_path, opt->mode, ram, &in->boot, err,
			 sizeof(err)) < 0 ||
	    (in->initrd && loader_add_initrd(&plan, &in->boot, in->initrd, in->initrd_len,
					     opt->initrd_path, err, sizeof(err)) < 0))
		return fail(HV_EXIT_USAGE, "%s", err);
	return opt->step_at ? resolve_step(in, opt) : 0;
}

/* The disk image (chapter 4): a file of the user's, or a scratch file hv makes. */
static int open_disk(struct vm_inputs *in, const struct vm_options *opt)
{
	if (opt->disk_path == DISK_PATH_NONE)
		return 0;
	char err[512];
	int rc = opt->disk_file ? disk_open(&in->disk, opt->disk_file, opt->cache, opt->read_only, err, sizeof(err))
				: disk_open_scratch(&in->disk, HV_SCRATCH_DISK_MIB, opt->cache, err, sizeof(err));
	if (rc < 0)
		return fail(HV_EXIT_USAGE, "%s", err);
	in->have_disk = true;
	return 0;
}

/*
 * The trace file, last: a bad guest or disk leaves no empty trace behind. Its header names the
 * host's KVM kind, which hostinfo_probe learns from /proc and /sys (it also asks /dev/kvm what it
 * can do, and notes a failure without failing). Time 0 of the trace is now, a few milliseconds
 * before the guest's first instruction: the time KVM takes to build the machine.
 */
static int open_trace(struct vm_inputs *in, const struct vm_options *opt)
{
	if (!opt->trace_path)
		return 0;
	char err[512];
	const char *base = strrchr(opt->guest_path, '/');
	in->trace = trace_create(opt->trace_path, in->host.kind, base ? base + 1 : opt->guest_path,
				 err, sizeof(err));
	if (!in->trace)
		return fail(HV_EXIT_USAGE, "%s", err);
	in->trace_path = opt->trace_path;
	trace_set_limit(in->trace, opt->trace_limit);
	return 0;
}

int vm_prepare(struct vm_inputs *in, const struct vm_options *opt)
{
	memset(in, 0, sizeof(*in));
	in->disk.fd = -1;
	hostinfo_probe(&in->host);
	int rc;
	if ((rc = build_cmdline(in, opt)) || (rc = check_guest(in, opt)) || (rc = open_disk(in, opt)) ||
	    (rc = open_trace(in, opt))) {
		vm_inputs_free(in);
		return rc;
	}
	return 0;
}

/* What vm_build did not take over. A trace that no run wrote into is removed again: a host
 * without KVM leaves no header-only file behind. */
void vm_inputs_free(struct vm_inputs *in)
{
	free(in->img);
	in->img = NULL;
	free(in->initrd);
	in->initrd = NULL;
	if (in->have_disk)
		disk_close(&in->disk);
	in->have_disk = false;
	if (in->trace) {
		char err[16];
		trace_close(in->trace, err, sizeof(err));
		unlink(in->trace_path);
		in->trace = NULL;
	}
}

/* ---- steps 1-7: the machine ---- */

/* An empty VM that vm_destroy can take apart: descriptors -1 (never 0, which is stdin). */
static void vm_clear(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->cpu.kick_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; /* static: nothing to destroy */
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = vm->stats_fd = -1;
	vm->io.notify_fd = vm->io.stop_fd = vm->disk.fd = -1;
}

int vm_build(struct vm *vm, const struct vm_options *opt, struct vm_inputs *in)
{
	/*
	 * The order is the textbook's and KVM's: VM, then memory and vCPU, CPUID before the
	 * first KVM_RUN, the guest in RAM before cpu_setup points rip at it. vm_destroy undoes a
	 * partial build.
	 */
	vm_clear(vm);
	vm->quiet = opt->quiet;
	vm->host = in->host;
	memcpy(vm->cmdline, in->cmdline, sizeof(vm->cmdline));
	int rc;
	if ((rc = open_kvm(vm)) || (rc = add_ram(vm, opt->mem_mib)) || (rc = add_vcpu(vm)))
		return rc;
	/* From here the disk is the VM's: vm_destroy closes it. */
	vm->disk = in->disk;
	vm->have_disk = in->have_disk;
	in->have_disk = false;
	if ((rc = add_devices(vm, opt)) || (rc = load_guest(vm, opt, in)))
		return rc;
	connect_trace(vm, in);
	return 0;
}

int vm_create(struct vm *vm, const struct vm_options *opt)
{
	struct vm_inputs in;
	int rc = vm_prepare(&in, opt);
	if (rc) {
		vm_clear(vm);
		return rc;
	}
	rc = vm_build(vm, opt, &in);
	vm_inputs_free(&in);
	return rc;
}

/* ---- running ---- */
/*
 * Two threads: the vCPU thread sits in KVM_RUN and handles exits; the main thread waits and
 * enforces --timeout. To the host scheduler a running guest CPU is an ordinary thread busy
 * inside an ioctl (top shows it as hv's CPU time).
 */

/*
 * The signal only has to interrupt KVM_RUN; the handler itself does nothing. The host interrupt
 * that delivers it forces a VM exit, KVM sees the pending signal and returns EINTR (exit_reason
 * KVM_EXIT_INTR). Without a handler, SIGUSR1 would kill hv. Who sends it, and why
 * immediate_exit must come first: vcpu_kick (vcpu.c).
 */
static void on_kick(int sig)
{
	(void)sig;
}

/* Record KVM's own counters for the run as trace events (kvmstats.c). They count from vCPU
 * creation, so the record is after - before: this run only. */
static void record_counters(struct vm *vm, const struct kvm_counters *before)
{
	struct kvm_counters after;
	if (!vm->trace || kvmstats_read(vm->stats_fd, &after) < 0)
		return;
	trace_use_reserve(vm->trace); /* room kept for these even past --trace-limit */
	for (unsigned c = 1; c <= HVT_C_MAX; c++) {
		if (!after.present[c])
			continue;
		struct hvt_record r = {
			.time_ns = trace_now(vm->trace), .kind = HVT_COUNTER, .addr = c,
			.data = after.value[c] - before->value[c], .count = 1,
		};
		trace_emit(vm->trace, &r);
	}
}

/* Set by SIGINT/SIGTERM/SIGHUP (a closed terminal). Only the main thread takes those signals
 * (the vCPU thread is created with them blocked), and the handler only sets this flag:
 * async-signal-safe. */
static volatile sig_atomic_t got_stop_signal;

static void on_stop_signal(int sig)
{
	(void)sig;
	got_stop_signal = 1;
}

/* Monotonic nanoseconds (vDSO: no system call). The one clock of the exit loop's accounting,
 * irq.c's sleep times and --timeout. */
uint64_t vm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double now_s(void)
{
	return (double)vm_now_ns() * 1e-9;
}

/*
 * Wait for the vCPU thread to end by itself, or stop it at the --timeout deadline or on
 * Ctrl-C. The main thread wakes every 50 ms to look at the clock and the signal flag: a
 * simple loop that costs nothing measurable, since the guest runs on the other thread.
 */
static void wait_vcpu(struct vm *vm, double timeout_s)
{
	double deadline = timeout_s > 0 ? now_s() + timeout_s : 0;
	for (;;) {
		struct timespec slice;
		clock_gettime(CLOCK_REALTIME, &slice); /* pthread_timedjoin_np wants REALTIME */
		slice.tv_nsec += 50 * 1000 * 1000;
		if (slice.tv_nsec >= 1000000000L)
			slice.tv_sec++, slice.tv_nsec -= 1000000000L;
		if (pthread_timedjoin_np(vm->cpu.thread, NULL, &slice) == 0)
			return;
		/* Ctrl-A x on the console (console_in.c) is Ctrl-C for a terminal in raw mode. */
		if (got_stop_signal || conin_quit(&vm->conin)) {
			vcpu_kick(vm, KICK_SIGNAL);
			break;
		}
		/* (--viz=step: the user's reading time is not the guest's, vizlink.c) */
		if (deadline > 0 && now_s() - (double)viz_paused_ns(vm) * 1e-9 >= deadline) {
			vcpu_kick(vm, KICK_TIMEOUT);
			break;
		}
		/* hv run --viz: hvviz gets the new records; the user quitting it stops the VM like
		 * Ctrl-C (vizlink.c) */
		if (viz_poll(vm)) {
			vcpu_kick(vm, KICK_VIZ);
			break;
		}
	}
	pthread_join(vm->cpu.thread, NULL);
}

/* Start a thread of hv (the vCPU, the I/O thread) with SIGINT/SIGTERM/SIGHUP blocked, so those
 * always reach the main thread's handler; the thread inherits the mask, the main thread gets
 * its own back. Returns pthread_create's error number. */
int vm_start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	int rc = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int vm_run(struct vm *vm, const struct vm_options *opt)
{
	struct sigaction sa = { .sa_handler = on_kick }; /* no SA_RESTART: KVM_RUN gets EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	struct sigaction stop = { .sa_handler = on_stop_signal };
	got_stop_signal = 0;
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	/* A closed terminal (or the ssh session it ran in) ends the run the same way, so the
	 * end of the trace is written instead of lost with the default action. */
	sigaction(SIGHUP, &stop, NULL);
	struct kvm_counters before;
	kvmstats_read(vm->stats_fd, &before);

	int rc;
	if (vm->io.notify_fd >= 0 && (rc = iothread_start(vm)) != 0)
		return fail(HV_EXIT_HOST, "cannot start the I/O thread for --ioeventfd: %s",
			    strerror(rc));
	if ((rc = pit_start(vm->irq.pit, vm_start_thread)) != 0) {
		iothread_stop(vm);
		return fail(HV_EXIT_HOST, "cannot start the timer thread: %s", strerror(rc));
	}
	/* Keys typed on stdin go to the guest's serial port (console_in.c), except with --viz,
	 * where hvviz owns the terminal. */
	if (!vm->viz && (rc = conin_start(&vm->conin, STDIN_FILENO, vm->uart, vm_start_thread)) != 0) {
		pit_stop(vm->irq.pit);
		iothread_stop(vm);
		return fail(HV_EXIT_HOST, "cannot start the console input thread: %s", strerror(rc));
	}
	if ((rc = vm_start_thread(&vm->cpu.thread, vcpu_thread_main, vm)) != 0) {
		conin_stop(&vm->conin);
		pit_stop(vm->irq.pit);
		iothread_stop(vm);
		return fail(HV_EXIT_HOST, "cannot start the vCPU thread: %s", strerror(rc));
	}
	/* The vCPU is an ordinary host thread, scheduled like any other; a name lets the host's
	 * tools (ps -L, top -H, taskset) point at it (textbook chapter 10, "vCPUs are host
	 * threads"). If the guest has already stopped, the rename fails harmlessly. */
	pthread_setname_np(vm->cpu.thread, "hv-vcpu0");
	wait_vcpu(vm, opt->timeout_s);
	/* The terminal back as it was, before hv prints anything more. */
	conin_stop(&vm->conin);
	/* The guest is gone; a doorbell it rang last is still served before the trace closes. */
	iothread_stop(vm);
	pit_stop(vm->irq.pit);
	/* Only now that the vCPU thread is gone: the console has no lock. */
	console_flush(&vm->console);
	record_counters(vm, &before);
	/* --viz: hvviz gets the last records and the status, hv its terminal back when the user
	 * leaves hvviz; the messages below go to the terminal again (vizlink.c). */
	viz_finish(vm);

	/* A trace write error (disk full) is reported but keeps the guest's exit status. */
	if (vm->trace) {
		char err[512];
		uint64_t dropped = trace_dropped(vm->trace);
		if (dropped)
			fprintf(stderr, "hv: trace: the --trace-limit of %llu MiB was reached; the last "
				"%llu events were not recorded (raise --trace-limit)\n",
				(unsigned long long)(opt->trace_limit >> 20), (unsigned long long)dropped);
		if (trace_close(vm->trace, err, sizeof(err)) < 0)
			fprintf(stderr, "hv: %s\n", err);
		vm->trace = NULL;
	}
	/* hv's own (even) statuses get their one line; a device's reason (the keyboard
	 * controller's reset) is kept in stop.why, the rest in vm->why. A guest's status (odd,
	 * the exit port) is the guest's business: no line. */
	const char *why = vm->why[0] ? vm->why : vm->stop.why;
	if (why && why[0] && vm->stop.status != HV_EXIT_OK && !(vm->stop.status & 1))
		fprintf(stderr, "hv: %s\n", why);
	if (vm->step.phase == STEP_WAIT || vm->step.phase == STEP_SEEK)
		fprintf(stderr, "hv: --step %s: the guest never executed 0x%llx, so nothing was stepped\n",
			opt->step_at, (unsigned long long)vm->step.addr);
	if (!opt->quiet)
		summary_print(stderr, vm);
	return vm->stop.status;
}

/* Closing the descriptors is all the cleanup KVM needs: with the last reference the kernel frees
 * the VMCS/VMCB, the slots and the VM. Guest RAM was hv's memory all along. */
void vm_destroy(struct vm *vm)
{
	if (vm->trace) {
		char err[16];
		trace_close(vm->trace, err, sizeof(err));
	}
	iothread_stop(vm); /* before the board: it may be serving a virtio doorbell */
	board_destroy(vm);
	if (vm->have_disk)
		disk_close(&vm->disk);
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->mem.nslots)
		munmap(vm->mem.slots[0].host, vm->mem.slots[0].size);
	int fds[] = { vm->io.notify_fd, vm->io.stop_fd, vm->stats_fd, vm->vcpu_fd, vm->vm_fd,
		      vm->kvm_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
