/*
 * test_hostinfo.c - unit tests for host KVM detection and `hv doctor` (hv/hostinfo.c, doctor.c).
 *
 * What they prove: the classification rules of textbook chapter 0 "Your host", section "How hv
 * tells them apart" (PVM module wins, VMX/SVM + hypervisor flag = nested, ...), that the
 * /proc/cpuinfo parser matches whole flag words only, that every failed open of /dev/kvm comes
 * with its fix, and that the doctor report says what works on each kind of host. None of them
 * needs KVM except hostinfo_probe_is_consistent_on_this_host, which skips without /dev/kvm.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostinfo.h"
#include "layout.h"

/* ---- classification: hostinfo_classify(vmx, svm, hypervisor, pvm, intel, amd) ---- */

Test(hostinfo, classify_pvm_module_wins_over_every_flag)
{
	/* This machine: no vmx/svm flag, hypervisor flag, kvm_pvm loaded. */
	cr_assert_eq(hostinfo_classify(0, 0, 1, 1, 0, 0), HVT_HOST_PVM);
	/* PVM wins even if the flags and modules say VT-x, AMD-V or nested. */
	cr_assert_eq(hostinfo_classify(1, 0, 0, 1, 1, 0), HVT_HOST_PVM);
	cr_assert_eq(hostinfo_classify(0, 1, 1, 1, 0, 1), HVT_HOST_PVM);
	cr_assert_eq(hostinfo_classify(0, 0, 0, 1, 0, 0), HVT_HOST_PVM);
}

Test(hostinfo, classify_bare_vmx_and_svm)
{
	/* The flag alone is enough; the matching module changes nothing. */
	cr_assert_eq(hostinfo_classify(1, 0, 0, 0, 0, 0), HVT_HOST_VMX);
	cr_assert_eq(hostinfo_classify(1, 0, 0, 0, 1, 0), HVT_HOST_VMX);
	cr_assert_eq(hostinfo_classify(0, 1, 0, 0, 0, 0), HVT_HOST_SVM);
	cr_assert_eq(hostinfo_classify(0, 1, 0, 0, 0, 1), HVT_HOST_SVM);
}

Test(hostinfo, classify_vmx_or_svm_with_hypervisor_flag_is_nested)
{
	cr_assert_eq(hostinfo_classify(1, 0, 1, 0, 1, 0), HVT_HOST_NESTED);
	cr_assert_eq(hostinfo_classify(0, 1, 1, 0, 0, 1), HVT_HOST_NESTED);
	cr_assert_eq(hostinfo_classify(1, 0, 1, 0, 0, 0), HVT_HOST_NESTED);
}

Test(hostinfo, classify_without_witnesses_is_unknown)
{
	cr_assert_eq(hostinfo_classify(0, 0, 0, 0, 0, 0), HVT_HOST_UNKNOWN);
	/* A plain VM without nested virtualization: only the hypervisor flag. */
	cr_assert_eq(hostinfo_classify(0, 0, 1, 0, 0, 0), HVT_HOST_UNKNOWN);
	/* Contradictions are not guessed: both vendor flags, or (no flag) both modules. */
	cr_assert_eq(hostinfo_classify(1, 1, 0, 0, 0, 0), HVT_HOST_UNKNOWN);
	cr_assert_eq(hostinfo_classify(0, 0, 0, 0, 1, 1), HVT_HOST_UNKNOWN);
}

Test(hostinfo, classify_module_is_second_witness_only_without_flags)
{
	/* No vmx/svm flag visible: the loaded back end names the vendor. */
	cr_assert_eq(hostinfo_classify(0, 0, 0, 0, 1, 0), HVT_HOST_VMX);
	cr_assert_eq(hostinfo_classify(0, 0, 0, 0, 0, 1), HVT_HOST_SVM);
	cr_assert_eq(hostinfo_classify(0, 0, 1, 0, 1, 0), HVT_HOST_NESTED);
	/* A flag is visible: it outranks a module that disagrees. */
	cr_assert_eq(hostinfo_classify(1, 0, 0, 0, 0, 1), HVT_HOST_VMX);
}

/* ---- /proc/cpuinfo parsing ---- */

Test(hostinfo, cpuinfo_flag_at_start_and_end_of_line)
{
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: vmx fpu sse\n", "vmx"), 1);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: fpu sse vmx\n", "vmx"), 1);
	/* Last line of the text without a newline. */
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: fpu sse vmx", "vmx"), 1);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: fpu sse\n", "vmx"), 0);
}

Test(hostinfo, cpuinfo_flag_prefix_or_suffix_of_another_does_not_match)
{
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: fpu vmxon sse\n", "vmx"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: fpu xvmx sse\n", "vmx"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: svm_lock fpu\n", "svm"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: fpu vm\n", "vmx"), 0);
}

Test(hostinfo, cpuinfo_only_the_flags_line_counts)
{
	/* "vmx flags" (VMX sub-features, Linux 5.8+) and the model name are not the flags line. */
	const char *t = "processor\t: 0\n"
			"model name\t: svm hypervisor test chip\n"
			"flags\t\t: fpu sse\n"
			"vmx flags\t: vnmi ept\n"
			"bugs\t\t: spectre_v1\n";
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "svm"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "hypervisor"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "ept"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "vmx"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "spectre_v1"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "sse"), 1);
}

Test(hostinfo, cpuinfo_multiple_processors_any_line_counts)
{
	const char *t = "processor\t: 0\nflags\t\t: fpu sse\n\n"
			"processor\t: 1\nflags\t\t: fpu sse hypervisor\n\n";
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "hypervisor"), 1);
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "fpu"), 1);
	cr_assert_eq(hostinfo_cpuinfo_has_flag(t, "svm"), 0);
}

Test(hostinfo, cpuinfo_empty_inputs_have_no_flags)
{
	cr_assert_eq(hostinfo_cpuinfo_has_flag(NULL, "vmx"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("", "vmx"), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: vmx\n", ""), 0);
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags\t\t: vmx\n", NULL), 0);
	/* A "flags" word without a colon is not a key. */
	cr_assert_eq(hostinfo_cpuinfo_has_flag("flags vmx\n", "vmx"), 0);
}

Test(hostinfo, cpuinfo_model_is_first_model_name)
{
	char m[128];
	hostinfo_cpuinfo_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n"
			       "processor\t: 1\nmodel name\t: Other\n", m, sizeof m);
	cr_assert_str_eq(m, "AMD EPYC 7B13");
	hostinfo_cpuinfo_model("processor\t: 0\nflags\t: fpu\n", m, sizeof m);
	cr_assert_str_eq(m, "unknown");
	hostinfo_cpuinfo_model(NULL, m, sizeof m);
	cr_assert_str_eq(m, "unknown");
	/* Truncated to the buffer: 5 bytes = 4 characters + NUL. */
	hostinfo_cpuinfo_model("model name\t: Intel(R) Xeon(R)", m, 5);
	cr_assert_str_eq(m, "Inte");
}

Test(hostinfo, module_bool_param_parses_y_n_1_0)
{
	cr_assert_eq(hostinfo_parse_bool_param("Y\n"), 1);
	cr_assert_eq(hostinfo_parse_bool_param("1\n"), 1);
	cr_assert_eq(hostinfo_parse_bool_param("N\n"), 0);
	cr_assert_eq(hostinfo_parse_bool_param("0"), 0);
	cr_assert_eq(hostinfo_parse_bool_param(NULL), -1);
	cr_assert_eq(hostinfo_parse_bool_param(""), -1);
	cr_assert_eq(hostinfo_parse_bool_param("Yes\n"), -1);
	cr_assert_eq(hostinfo_parse_bool_param("10\n"), -1);
}

/* ---- error lines and their fixes ---- */

Test(hostinfo, open_advice_enoent_says_enable_virtualization)
{
	cr_assert_str_eq(hostinfo_open_advice(ENOENT),
			 "/dev/kvm does not exist (enable virtualization in the BIOS/firmware and "
			 "load kvm_intel or kvm_amd, or use a machine that has it)");
}

Test(hostinfo, open_advice_eacces_and_eperm_say_group_kvm)
{
	const char *a = hostinfo_open_advice(EACCES);
	cr_assert(strncmp(a, "/dev/kvm: permission denied (", 29) == 0, "got: %s", a);
	cr_assert(strstr(a, "group 'kvm'") != NULL, "got: %s", a);
	cr_assert(strstr(a, "run as root") != NULL, "got: %s", a);
	cr_assert_str_eq(hostinfo_open_advice(EPERM), a);
}

Test(hostinfo, open_advice_other_errors_name_the_reason)
{
	char want[160];
	snprintf(want, sizeof want, "/dev/kvm: cannot open: %s", strerror(EBUSY));
	cr_assert_str_eq(hostinfo_open_advice(EBUSY), want);
	cr_assert(strstr(hostinfo_open_advice(ENXIO), "load kvm_intel or kvm_amd") != NULL);
}

Test(hostinfo, problem_reports_wrong_api_version_and_nothing_when_usable)
{
	char buf[256];
	struct host_info hi = { .kvm_fd_ok = 1, .api_version = 11 };
	cr_assert_eq(hostinfo_problem(&hi, buf, sizeof buf), -1);
	cr_assert(strncmp(buf, "/dev/kvm: KVM API version 11, hv needs 12 (", 43) == 0,
		  "got: %s", buf);
	hi.api_version = 12;
	cr_assert_eq(hostinfo_problem(&hi, buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "");
	struct host_info closed = { .open_errno = ENOENT, .api_version = -1 };
	cr_assert_eq(hostinfo_problem(&closed, buf, sizeof buf), -1);
	cr_assert_str_eq(buf, hostinfo_open_advice(ENOENT));
}

/* ---- the doctor report, fed synthetic hosts ---- */

/* A usable host of the given kind, with every capability hv uses present. */
static struct host_info fake_host(enum hvt_host_kind kind)
{
	struct host_info hi = {
		.kind = kind, .kvm_fd_ok = 1, .api_version = 12, .nested_param = -1,
		.cap_user_memory = 1, .cap_set_tss_addr = 1, .cap_sync_regs = 7,
		.cap_binary_stats_fd = 1, .cap_ioeventfd = 1, .cap_irqchip = 1,
		.cap_immediate_exit = 1, .cap_set_guest_debug = 1, .cap_nr_vcpus = 2,
		.cap_max_vcpus = 1024, .cap_nr_memslots = 32764,
	};
	snprintf(hi.cpu_model, sizeof hi.cpu_model, "Test CPU");
	return hi;
}

/* doctor_report() into a malloc()ed string; the caller frees it. */
static char *report_text(const struct host_info *hi, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	doctor_report(f, hi, json);
	fclose(f);
	return buf;
}

static void assert_has_line(const char *text, const char *line)
{
	cr_assert(strstr(text, line) != NULL, "missing line:\n%s\nin report:\n%s", line, text);
}

Test(doctor, pvm_report_sends_ring3_labs_to_lab_vm)
{
	struct host_info hi = fake_host(HVT_HOST_PVM);
	hi.module_pvm = 1;
	hi.cpu_hypervisor = 1;
	char *t = report_text(&hi, 0);
	assert_has_line(t, "hv doctor: what this host's KVM can do\n");
	assert_has_line(t, "\n  /dev/kvm        ok (API version 12)\n");
	assert_has_line(t, "\n  KVM kind        PVM (para-virtualized KVM: module kvm_pvm, no vmx/svm "
			   "CPU flag, hypervisor CPU flag)\n");
	assert_has_line(t, "\n  CPU             Test CPU\n");
	/* measured on PVM: real mode works fully but is emulated too (insn_emulation ~ one per
	 * guest instruction) */
	assert_has_line(t, "\n  real mode guests          yes, fully (I/O, MMIO, INT n, injected "
			   "interrupts), but emulated (~2 M instr/s)\n");
	assert_has_line(t, "\n  protected/long mode       yes in ring 0, but emulated instruction by "
			   "instruction (~2 M instr/s)\n");
	assert_has_line(t, "\n  ring 3 and IDT interrupts no: the mini OS's ring-3 tasks run in the lab VM\n"
			   "                            ('make labvm' for a shell, 'make labvm-run CMD=...' for one command)\n");
	free(t);
}

Test(doctor, vmx_report_says_everything_works)
{
	struct host_info hi = fake_host(HVT_HOST_VMX);
	hi.cpu_vmx = 1;
	hi.module_intel = 1;
	hi.nested_param = 1;
	char *t = report_text(&hi, 0);
	assert_has_line(t, "\n  KVM kind        VMX (Intel VT-x: module kvm_intel, vmx CPU flag)\n");
	assert_has_line(t, "\n  nested param    Y (");
	assert_has_line(t, "\n  protected/long mode       yes, at hardware speed\n");
	assert_has_line(t, "\n  ring 3 and IDT interrupts yes\n");
	assert_has_line(t, "every lab runs here\n");
	cr_assert(strstr(t, "labvm") == NULL, "a VMX host needs no lab VM:\n%s", t);
	free(t);
}

Test(doctor, nested_report_names_the_overhead)
{
	struct host_info hi = fake_host(HVT_HOST_NESTED);
	hi.cpu_svm = 1;
	hi.cpu_hypervisor = 1;
	hi.module_amd = 1;
	char *t = report_text(&hi, 0);
	assert_has_line(t, "\n  KVM kind        NESTED (VT-x/AMD-V offered by the hypervisor below "
			   "us: module kvm_amd, svm and hypervisor CPU flags)\n");
	assert_has_line(t, "\n  ring 3 and IDT interrupts yes\n");
	assert_has_line(t, "each exit goes to the hypervisor below first");
	free(t);
}

Test(doctor, unusable_host_report_says_nothing_works_and_no_caps)
{
	struct host_info hi = { .open_errno = EACCES, .api_version = -1, .nested_param = -1 };
	snprintf(hi.cpu_model, sizeof hi.cpu_model, "unknown");
	char *t = report_text(&hi, 0);
	assert_has_line(t, "\n  /dev/kvm        cannot open: Permission denied\n");
	assert_has_line(t, "\nWhat works here:\n  nothing yet: hv cannot use KVM");
	cr_assert(strstr(t, "capabilities") == NULL, "caps shown without /dev/kvm:\n%s", t);
	free(t);
}

Test(doctor, json_is_one_line_with_escaped_model)
{
	struct host_info hi = fake_host(HVT_HOST_PVM);
	hi.module_pvm = 1;
	/* RFC 8259: '"' -> \", '\' -> \\, control U+000A -> \u000a. */
	snprintf(hi.cpu_model, sizeof hi.cpu_model, "A\"B\\C\n");
	char *t = report_text(&hi, 1);
	size_t n = strlen(t);
	cr_assert(n > 2 && t[0] == '{' && t[n - 2] == '}' && t[n - 1] == '\n', "got: %s", t);
	cr_assert_eq(strchr(t, '\n'), t + n - 1, "JSON spans lines: %s", t);
	assert_has_line(t, "\"cpu_model\":\"A\\\"B\\\\C\\u000a\"");
	assert_has_line(t, "{\"kvm_usable\":true,");
	assert_has_line(t, "\"problem\":null,\"kind\":\"pvm\",\"class\":\"pvm\"");
	assert_has_line(t, "\"modules\":{\"kvm_pvm\":true,\"kvm_intel\":false,\"kvm_amd\":false}");
	assert_has_line(t, "\"works\":{\"real_mode\":\"emulated\",\"protected_long_mode\":\"emulated\","
			   "\"ring3_idt_interrupts\":\"no\"}}");
	free(t);
}

Test(doctor, json_of_unusable_host_carries_the_fix)
{
	struct host_info hi = { .open_errno = ENOENT, .api_version = -1, .nested_param = -1 };
	snprintf(hi.cpu_model, sizeof hi.cpu_model, "unknown");
	char *t = report_text(&hi, 1);
	assert_has_line(t, "{\"kvm_usable\":false,\"dev_kvm_opened\":false,\"open_errno\":2,"
			   "\"api_version\":-1,\"problem\":\"/dev/kvm does not exist (");
	assert_has_line(t, "\"nested_param\":null");
	free(t);
}

/* ---- host class and the fix that fits (hostinfo_class, doctor_fix) ---- */

/* A host whose /dev/kvm did not open with errno err; the witnesses are set by each test. */
static struct host_info closed_host(int err)
{
	struct host_info hi = { .open_errno = err, .api_version = -1, .nested_param = -1 };
	snprintf(hi.cpu_model, sizeof hi.cpu_model, "unknown");
	return hi;
}

static const char *fix_of(const struct host_info *hi, int want_rc)
{
	static char buf[512];
	cr_assert_eq(doctor_fix(hi, buf, sizeof buf), want_rc, "fix: %s", buf);
	return buf;
}

Test(doctor, class_full_for_hardware_nested_and_unknown_kinds_with_no_fix)
{
	enum hvt_host_kind kinds[] = { HVT_HOST_VMX, HVT_HOST_SVM, HVT_HOST_NESTED, HVT_HOST_UNKNOWN };
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct host_info hi = fake_host(kinds[i]);
		cr_assert_eq(hostinfo_class(&hi), HOST_CLASS_FULL, "kind %d", kinds[i]);
		cr_assert_str_eq(fix_of(&hi, 0), "");
		char *t = report_text(&hi, 0);
		assert_has_line(t, "hv doctor: what this host's KVM can do\n  host class      full\n");
		cr_assert(strstr(t, "What to do") == NULL, "nothing to do on full:\n%s", t);
		free(t);
	}
	cr_assert_str_eq(hostinfo_class_name(HOST_CLASS_FULL), "full");
}

Test(doctor, class_pvm_sends_ring3_work_to_the_lab_vm_in_the_last_lines)
{
	struct host_info hi = fake_host(HVT_HOST_PVM);
	hi.module_pvm = hi.cpu_hypervisor = 1;
	cr_assert_eq(hostinfo_class(&hi), HOST_CLASS_PVM);
	cr_assert_str_eq(hostinfo_class_name(HOST_CLASS_PVM), "pvm");
	const char *want = "ring-3 work runs in the lab VM: 'make labvm' for a shell, "
			   "make labvm-run CMD='...' for one command; 'make test' does it by itself";
	cr_assert_str_eq(fix_of(&hi, 0), want);
	char *t = report_text(&hi, 0);
	assert_has_line(t, "  host class      pvm\n");
	char tail[600];
	snprintf(tail, sizeof tail, "\nWhat to do:\n  %s\n", want);
	size_t n = strlen(t), m = strlen(tail);
	cr_assert(n > m && strcmp(t + n - m, tail) == 0, "the fix is not last:\n%s", t);
	free(t);
}

/* Bare metal whose CPU shows no vmx/svm and no hypervisor flag: the firmware has it off. */
Test(doctor, bare_metal_without_the_flag_is_told_the_bios)
{
	struct host_info hi = closed_host(ENOENT);
	cr_assert_eq(hostinfo_class(&hi), HOST_CLASS_NONE);
	cr_assert_str_eq(hostinfo_class_name(HOST_CLASS_NONE), "none");
	cr_assert_str_eq(fix_of(&hi, -1), "/dev/kvm does not exist: the CPU reports neither vmx nor "
			 "svm: enable VT-x/AMD-V in the BIOS/firmware, then 'sudo modprobe kvm_intel' "
			 "(or kvm_amd), or use the lab VM");
}

/* A cloud VM without nested virtualization: the BIOS is not the student's to change. */
Test(doctor, vm_guest_without_nesting_is_told_nested_virtualization_not_bios)
{
	struct host_info hi = closed_host(ENOENT);
	hi.cpu_hypervisor = 1;
	const char *f = fix_of(&hi, -1);
	cr_assert_str_eq(f, "/dev/kvm does not exist: this machine is a VM (hypervisor CPU flag) "
			 "without nested virtualization (no vmx/svm flag): enable nested "
			 "virtualization in the outer hypervisor, or use the lab VM");
	cr_assert(strstr(f, "BIOS") == NULL, "%s", f);
}

Test(doctor, cpu_with_the_flag_but_no_module_is_told_modprobe)
{
	struct host_info hi = closed_host(ENOENT);
	hi.cpu_svm = 1;
	cr_assert_str_eq(fix_of(&hi, -1), "/dev/kvm does not exist and no KVM module is loaded; the "
			 "CPU has AMD-V (svm flag): load it with 'sudo modprobe kvm_amd'");
	hi.cpu_svm = 0, hi.cpu_vmx = 1;
	cr_assert(strstr(fix_of(&hi, -1), "'sudo modprobe kvm_intel'"));
}

Test(doctor, module_loaded_without_a_device_names_the_module)
{
	struct host_info hi = closed_host(ENOENT);
	hi.module_kvm = hi.module_pvm = 1;
	cr_assert_str_eq(fix_of(&hi, -1), "the kvm module is loaded (kvm_pvm) but no /dev/kvm device "
			 "exists: its back end did not start ('sudo dmesg | grep -i kvm' says why; "
			 "'sudo modprobe kvm_pvm' tries again), or use the lab VM");
	/* kvm.ko alone: the back end to load follows the CPU flag. */
	struct host_info only_kvm = closed_host(ENOENT);
	only_kvm.module_kvm = only_kvm.cpu_svm = 1;
	cr_assert(strstr(fix_of(&only_kvm, -1), "loaded (kvm) but no /dev/kvm device exists: its back "
			 "end did not start ('sudo dmesg | grep -i kvm' says why; 'sudo modprobe kvm_amd'"));
	/* The kernel registered the device; only the node is missing. */
	hi.misc_kvm = 1;
	cr_assert(strstr(fix_of(&hi, -1), "udev did not make the node; 'sudo mknod /dev/kvm c 10 232"));
}

Test(doctor, permission_denied_is_told_the_group)
{
	struct host_info hi = closed_host(EACCES);
	hi.cpu_vmx = hi.module_intel = hi.module_kvm = hi.misc_kvm = 1;
	cr_assert_eq(hostinfo_class(&hi), HOST_CLASS_NONE);
	const char *f = fix_of(&hi, -1);
	cr_assert(strncmp(f, "/dev/kvm: permission denied: add yourself to group 'kvm' with 'sudo "
			  "usermod -aG kvm $USER' and log in again", 96) == 0, "%s", f);
	struct host_info eperm = closed_host(EPERM);
	cr_assert_str_eq(fix_of(&eperm, -1), f);
}

Test(doctor, none_report_ends_with_the_fix_and_the_lab_vm_commands)
{
	struct host_info hi = closed_host(ENOENT);
	hi.cpu_hypervisor = 1;
	char *t = report_text(&hi, 0);
	assert_has_line(t, "  host class      none\n");
	char tail[1200];
	snprintf(tail, sizeof tail, "\nWhat to do:\n  %s\n  everything that needs KVM runs in the lab "
		 "VM: 'make labvm' for a shell, make labvm-run CMD='build/hv run "
		 "build/guest/hello16.bin' for one command; 'make demo', 'make test' and 'make bench' "
		 "do it by themselves\n", fix_of(&hi, -1));
	size_t n = strlen(t), m = strlen(tail);
	cr_assert(n > m && strcmp(t + n - m, tail) == 0, "the fix is not last:\n%s", t);
	free(t);
	/* A device that opens but speaks another API version is no usable KVM either. */
	struct host_info v11 = fake_host(HVT_HOST_VMX);
	v11.api_version = 11;
	cr_assert_eq(hostinfo_class(&v11), HOST_CLASS_NONE);
	cr_assert(strstr(fix_of(&v11, -1), "KVM API version 11, hv needs 12"));
}

Test(doctor, json_carries_the_class)
{
	struct host_info hi = fake_host(HVT_HOST_NESTED);
	char *t = report_text(&hi, 1);
	assert_has_line(t, "\"kind\":\"nested\",\"class\":\"full\",\"cpu_model\"");
	free(t);
	struct host_info none = closed_host(ENOENT);
	t = report_text(&none, 1);
	assert_has_line(t, "\"class\":\"none\"");
	free(t);
}

/* ---- doctor_main's command line ---- */

Test(doctor, unknown_option_is_usage_error, .init = cr_redirect_stderr)
{
	char *argv[] = { "doctor", "--x", NULL };
	cr_assert_eq(doctor_main(2, argv), HV_EXIT_USAGE);
	fflush(stderr);
	cr_assert_stderr_eq_str("hv doctor: unknown option '--x' (usage: hv doctor [--json|--class])\n");
}

Test(doctor, stray_argument_is_usage_error, .init = cr_redirect_stderr)
{
	char *argv[] = { "doctor", "now", NULL };
	cr_assert_eq(doctor_main(2, argv), HV_EXIT_USAGE);
	fflush(stderr);
	cr_assert_stderr_eq_str("hv doctor: unexpected argument 'now' (usage: hv doctor [--json|--class])\n");
}

/* ---- the real host (skips where there is no /dev/kvm) ---- */

Test(hostinfo, probe_is_consistent_on_this_host)
{
	if (access("/dev/kvm", F_OK) != 0)
		cr_skip_test("no /dev/kvm on this machine: hostinfo_probe has nothing to open");
	struct host_info hi;
	int r = hostinfo_probe(&hi);
	cr_assert(hi.kind >= HVT_HOST_UNKNOWN && hi.kind <= HVT_HOST_MAX, "kind %d", hi.kind);
	/* The kind is what the classifier makes of the witnesses the probe recorded. */
	cr_assert_eq(hi.kind, hostinfo_classify(hi.cpu_vmx, hi.cpu_svm, hi.cpu_hypervisor,
						hi.module_pvm, hi.module_intel, hi.module_amd));
	cr_assert_eq(hi.module_pvm, access("/sys/module/kvm_pvm", F_OK) == 0);
	if (hi.kvm_fd_ok) {
		/* Every KVM since Linux 2.6.22 reports API 12 and has KVM_CAP_USER_MEMORY. */
		cr_assert_eq(r, 0);
		cr_assert_eq(hi.open_errno, 0);
		cr_assert_eq(hi.api_version, 12);
		cr_assert_gt(hi.cap_user_memory, 0);
		char err[256];
		int fd = hostinfo_open_kvm(err, sizeof err);
		cr_assert_geq(fd, 0, "hostinfo_open_kvm: %s", err);
		close(fd);
	} else {
		cr_assert_eq(r, -1);
		cr_assert_neq(hi.open_errno, 0);
		cr_assert_eq(hi.api_version, -1);
	}
}

/* The lab VM's "CPU" (chapter 5): QEMU's TCG emulating SVM, told apart by its model name. */
Test(hostinfo, emulated_svm_is_the_lab_vm_and_nothing_else)
{
	struct host_info hi;
	memset(&hi, 0, sizeof hi);
	hi.kind = HVT_HOST_NESTED;
	hi.cpu_svm = 1;
	strcpy(hi.cpu_model, "QEMU Virtual CPU version 2.5+");
	cr_assert(hostinfo_is_emulated_svm(&hi));
	strcpy(hi.cpu_model, "AMD EPYC 7B13"); /* a cloud VM with real nested AMD-V */
	cr_assert(!hostinfo_is_emulated_svm(&hi));
	strcpy(hi.cpu_model, "QEMU Virtual CPU version 2.5+");
	hi.kind = HVT_HOST_PVM;
	cr_assert(!hostinfo_is_emulated_svm(&hi));
	hi.kind = HVT_HOST_NESTED;
	hi.cpu_svm = 0; /* QEMU offering VT-x */
	cr_assert(!hostinfo_is_emulated_svm(&hi));
}
