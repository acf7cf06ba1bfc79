/*
 * task.c - tasks: start a program in ring 3, and take the CPU back when it exits or is
 * killed. One task at a time, each to completion (no scheduler).
 *
 * Concept: how a kernel *enters* ring 3 for the first time. There is no "call into ring 3"
 * instruction; a kernel fakes the return half of an interrupt instead. It builds, on the
 * task's kernel stack, exactly the frame the CPU would have pushed had ring 3 been
 * interrupted (SS = user data, ESP = the user stack, EFLAGS with IF = 1, CS = user code,
 * EIP = the program's first instruction) and executes IRET. The CPU checks the saved CS
 * (RPL 3: a return to an outer ring), loads all five values, and the task runs.
 * Coming back happens only through the IDT: a system call, an exception or an interrupt,
 * each onto the kernel stack named in TSS.esp0, which is therefore set before every start.
 * Textbook: chapter 5 "A guest OS", sections "Segments, rings and the TSS" and "System calls".
 *
 * Each task gets a fresh copy of the user image at 4 MiB (so globals start clean), its own
 * 64 KiB user stack in the user region, and its own 8 KiB kernel stack in the kernel. The
 * kernel passes the program one string, the disk driver in use ("legacy", "virtio" or
 * "none"), on the user stack as the argument of its main, the way exec passes argv.
 *
 * The hand-over uses swtch() (trapasm.S), the xv6 way: the boot stack's registers are saved in
 * `scheduler`, and the task's kernel stack is prepared so that swtch "returns" into trapret,
 * which pops the hand-built trap frame and IRETs to ring 3. On exit or kill, the kernel
 * (running on the task's kernel stack) swtch()es back to `scheduler`, and tasks_run goes on
 * with the next one. The dead task's kernel stack is simply never used again.
 */
#include <stdint.h>

#include "cmdline.h"
#include "layout.h"
#include "os.h"
#include "pvtrace.h"

/* The programs (guest/os/user/), linked into the user image at 4 MiB (os.ld). */
typedef int (*user_main)(const char *arg);
int hello_main(const char *arg);
int disk_main(const char *arg);
int priv_main(const char *arg);
int fault_main(const char *arg);
int ticks_main(const char *arg);
int badcall_main(const char *arg);
int popf_main(const char *arg);
void user_return(void); /* ulib.c: where main returns to; makes the exit system call */

struct program {
	const char *name;
	user_main entry;
};

static const struct program programs[] = {
	{ "hello", hello_main }, { "disk", disk_main },   { "priv", priv_main },
	{ "fault", fault_main }, { "ticks", ticks_main },
	{ "badcall", badcall_main }, /* not in the default list: os.run=badcall */
	{ "popf", popf_main },       /* not in the default list: textbook chapter 9 */
};
#define NPROGRAMS (sizeof(programs) / sizeof(programs[0]))

struct task {
	uint32_t id;                 /* 1, 2, ...: getpid() and the trace's task field */
	const struct program *prog;
	struct context *ctx;         /* its kernel stack while it is not running */
};

/* The user image as the loader placed it (its load address), and where it runs (os.ld). */
extern const uint8_t __user_load[], __user_end[];
extern uint8_t __user_start[];

static uint8_t kstacks[OS_TASKS_MAX][OS_KSTACK_SZ] __attribute__((aligned(16)));
static struct task *current;       /* NULL while the kernel itself runs */
static struct context *scheduler;  /* the boot stack, while a task runs */
static uint32_t tasks_started, tasks_killed;

uint32_t task_current_id(void)
{
	return current ? current->id : 0;
}

/* Copy the pristine user image (code, data, zeroed bss) over whatever the last task left. */
static void task_load_image(void)
{
	kmemcpy(__user_start, __user_load, (uint32_t)(__user_end - __user_start));
}

/*
 * The user stack at its start: the argument string at the top, then (growing down) the
 * pointer to it, then a return address. To main it looks exactly as if user_return had
 * called main(arg): [esp] = return address, [esp + 4] = arg.
 */
static uint32_t task_user_stack(uint32_t slot, const char *arg)
{
	uint32_t top = OS_USER_END - slot * OS_USER_STACK_SZ;
	uint32_t len = 0, sp;

	while (arg[len] != '\0')
		len++;
	sp = (top - (len + 1u)) & ~15u;                  /* the string, 16-byte aligned below */
	kmemcpy((void *)(uintptr_t)sp, arg, len + 1u);
	sp -= 8u;                                        /* return address and argument below it */
	((uint32_t *)(uintptr_t)sp)[1] = sp + 8u;        /* main's argument: the string */
	((uint32_t *)(uintptr_t)sp)[0] = (uint32_t)(uintptr_t)user_return;
	return sp;
}

/*
 * Build the task's kernel stack: at the top the trap frame IRET will consume, below it a
 * context whose saved EIP is trapret. Returns that context for swtch().
 */
static struct context *task_kernel_stack(uint32_t slot, uint32_t user_esp, uint32_t entry)
{
	uint8_t *top = kstacks[slot] + OS_KSTACK_SZ;
	struct trapframe *tf = (struct trapframe *)(void *)(top - sizeof(*tf));
	struct context *ctx = (struct context *)(void *)((uint8_t *)tf - sizeof(*ctx));

	*tf = (struct trapframe){
		.ds = SEL_UDATA, .es = SEL_UDATA, .fs = SEL_UDATA, .gs = SEL_UDATA,
		.eip = entry, .cs = SEL_UCODE,
		.eflags = 0x202u, /* IF = 1 (bit 9), bit 1 is always 1; IOPL = 0 */
		.esp = user_esp, .ss = SEL_UDATA,
	};
	*ctx = (struct context){ .eip = (uint32_t)(uintptr_t)trapret };
	tss_set_esp0((uint32_t)(uintptr_t)top); /* the next entry from ring 3 lands here */
	return ctx;
}

/* Run one program as task `id` in slot `slot`, until it exits or is killed. */
static void task_run(struct task *t, uint32_t slot)
{
	uint32_t entry = (uint32_t)(uintptr_t)t->prog->entry;
	uint32_t esp;

	kprintf("os: task %u (%s) starting in ring 3\n", t->id, t->prog->name);
	task_load_image();
	esp = task_user_stack(slot, disk_driver());
	t->ctx = task_kernel_stack(slot, esp, entry);
	current = t;
	tasks_started++;
	pvtrace_emit(HV_PVT_TASK_START, 0, 3, 0, 0, entry, 0);
	swtch(&scheduler, t->ctx); /* returns when the task has ended */
	current = 0;
}

/* Back to tasks_run, never to return to this task. */
static void __attribute__((noreturn)) task_leave(void)
{
	struct context *dead;

	swtch(&dead, scheduler);
	for (;;) /* not reached: nobody switches to a dead task */
		__asm__ volatile("cli; hlt");
}

/* The exit system call (syscall.c), on the task's kernel stack; eip: after its int 0x80. */
void task_exit(int status, uint32_t eip)
{
	pvtrace_emit(HV_PVT_TASK_EXIT, 0, 0, 0, (uint32_t)status, eip, 0);
	kprintf("os: task %u (%s) exited with status %d\n", current->id, current->prog->name,
		status);
	task_leave();
}

/* An exception in ring 3 (trap.c): one line saying what and why, then the next task. */
void task_kill(const struct trapframe *tf, uint32_t cr2, const char *why)
{
	pvtrace_emit(HV_PVT_TASK_KILL, 0, 0, (uint8_t)tf->trapno, tf->err, tf->eip, cr2);
	kprintf("os: task %u (%s) killed: %s at eip=0x%08x", current->id, current->prog->name,
		trap_name(tf->trapno), tf->eip);
	if (tf->trapno == T_PF)
		kprintf(" cr2=0x%08x", cr2);
	kprintf(" (%s)\n", why);
	tasks_killed++;
	task_leave();
}

static const struct program *program_find(const char *name, uint32_t len)
{
	for (uint32_t i = 0; i < NPROGRAMS; i++) {
		if (cmdline_value_is(name, len, programs[i].name))
			return &programs[i];
	}
	return 0;
}

/* Run one entry of os.run (name, len): the next task id and slot, if any slot is left. */
static void tasks_run_one(const char *name, uint32_t len, uint32_t *next_id)
{
	const struct program *p = program_find(name, len);
	static struct task tasks[OS_TASKS_MAX];
	struct task *t;

	if (p == 0) {
		kprintf("os: os.run: no program '");
		for (uint32_t i = 0; i < len; i++)
			kprintf("%c", name[i]);
		kprintf("' (have hello disk priv fault ticks badcall popf)\n");
		return;
	}
	if (*next_id > OS_TASKS_MAX) {
		kprintf("os: os.run: more than %u tasks; '%s' not run\n", OS_TASKS_MAX, p->name);
		return;
	}
	t = &tasks[*next_id - 1u];
	t->id = *next_id;
	t->prog = p;
	(*next_id)++;
	task_run(t, t->id - 1u);
}

/*
 * os.run=hello,disk,priv,fault,ticks (the default): comma-separated names, run in order.
 * os.run=none runs nothing: the kernel boots and stops without ever entering ring 3.
 */
void tasks_run(void)
{
	static const char all[] = "hello,disk,priv,fault,ticks";
	const char *list = all, *v;
	uint32_t len = sizeof(all) - 1u, next_id = 1;

	if (os_option("os.run", &v, &len))
		list = v;
	else
		len = sizeof(all) - 1u;
	if (cmdline_value_is(list, len, "none"))
		return;
	if (!os_user_ram) {
		kprintf("os: no RAM at 0x%08x-0x%08x for the tasks (hv run --mem 8 or more)\n",
			OS_USER_BASE, OS_USER_END - 1u);
		return;
	}
	/* Ring 3 is only a wall if paging keeps tasks out of the kernel. Without it a task could
	 * rewrite the IDT or the TSS, and the next trap would run its code: no tasks, unless the
	 * user asks for them anyway (on a PVM host, to watch hv explain the failing IRET). */
	if (!paging_enabled() && !os_option_is("os.unprotected", "1")) {
		kprintf("os: paging is off, so ring 3 would not protect the kernel: tasks not run "
			"(os.unprotected=1 runs them anyway)\n");
		return;
	}
	for (uint32_t start = 0, i = 0; i <= len; i++) {
		if (i == len || list[i] == ',') {
			if (i > start)
				tasks_run_one(list + start, i - start, &next_id);
			start = i + 1u;
		}
	}
}

void tasks_summary(void)
{
	kprintf("os: %u tasks run, %u killed\n", tasks_started, tasks_killed);
}
