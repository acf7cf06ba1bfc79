/*
 * pvtrace.c - the guest half of the para-virtual trace page: one record per ring change,
 * written into a page of kernel memory that hv reads whenever the guest stops anyway.
 *
 * Concept: para-virtualization from the guest's side. A system call, an exception or a
 * timer interrupt in ring 3 is handled entirely inside the guest: no VM exit, so hv's trace
 * cannot show it. A kernel that knows it runs on hv can still report it, cheaply: it writes
 * a 32-byte record into a ring in its own RAM (no exit) and hv copies the ring out at the
 * next exit that happens anyway. Only registering the page, and a full ring, cost an exit.
 * The protocol is hv/pvtrace.h (step by step there); this file follows it to the letter.
 * Textbook: chapter 5 "A guest OS", section "Seeing ring changes: the trace page".
 *
 * The producer side of a single-producer ring, where the consumer only runs while the
 * producer is stopped (a VM exit): so no atomic instructions and no memory fences are
 * needed, only the *compiler* must not move the head increment before the record's stores
 * (the barrier in pvtrace_emit). On real SMP hardware with a live consumer, a release store
 * would be needed as well.
 *
 * Options (main.c): hvlab.pvtrace=0x528 registers the page (hv adds it; without it no
 * record is written). os.pvtrace_print=1 prints the records on COM1 whenever the ring is
 * full and at the end, i.e. the kernel plays the consumer itself; useful under QEMU, which
 * ignores the OUT and never drains. os.corrupt_pvtrace=1|2|3 damages the page once, like a
 * hostile guest, so the tests can watch hv notice, report and resync.
 */
#include <stdint.h>

#include "os.h"
#include "portio.h"
#include "pvtrace.h"

/* The header, the 64-record ring, and the rest of the page unused (pvtrace.h says why 64). */
struct pvtrace_page {
	struct hv_pvtrace_header h;
	struct hv_pvtrace_record rec[HV_PVTRACE_CAPACITY];
	uint8_t unused[HV_PVTRACE_PAGE - HV_PVTRACE_HDR_SIZE - HV_PVTRACE_CAPACITY * HV_PVTRACE_REC_SIZE];
};

_Static_assert(sizeof(struct pvtrace_page) == HV_PVTRACE_PAGE, "the trace page is one page");

/* In kernel .bss (supervisor-only: tasks cannot forge records), page-aligned as hv requires. */
static struct pvtrace_page page __attribute__((aligned(HV_PVTRACE_PAGE)));
static int registered;
static int print_mode;

#define compiler_barrier() __asm__ volatile("" : : : "memory")

/* head and tail are shared with hv, which writes tail during exits: always really read them. */
static inline uint32_t pv_head(void)
{
	return *(volatile uint32_t *)&page.h.head;
}

static inline uint32_t pv_tail(void)
{
	return *(volatile uint32_t *)&page.h.tail;
}

static inline void pv_set_head(uint32_t v)
{
	*(volatile uint32_t *)&page.h.head = v;
}

static inline uint32_t pv_addr(void)
{
	return (uint32_t)(uintptr_t)&page;
}

static const char *pvtrace_kind_name(uint8_t kind)
{
	static const char *const names[] = {
		"?", "syscall", "sysret", "exception", "interrupt", "iret", "task-start",
		"task-exit", "task-kill",
	};
	return kind <= HV_PVT_KIND_MAX ? names[kind] : "?";
}

/*
 * os.pvtrace_print=1: be our own consumer. Print what is between tail and head (at most one
 * ring's worth, even if head was damaged) and move tail up, as hv would.
 */
static void pvtrace_print_pending(void)
{
	uint32_t head = pv_head(), tail = pv_tail();

	if (head - tail > HV_PVTRACE_CAPACITY)
		tail = head - HV_PVTRACE_CAPACITY;
	for (; tail != head; tail++) {
		const struct hv_pvtrace_record *r = &page.rec[tail % HV_PVTRACE_CAPACITY];

		kprintf("pvtrace: task %u %s %u->%u vector 0x%x nr %u rip 0x%08x arg 0x%x\n",
			r->task, pvtrace_kind_name(r->kind), r->from_cpl, r->to_cpl, r->vector,
			r->nr, (uint32_t)r->rip, r->arg);
	}
	*(volatile uint32_t *)&page.h.tail = head;
}

/*
 * Is there room for one more record? When the ring is full (or head was damaged so that it
 * looks more than full), write the page address to the port again: a deliberate exit whose
 * only purpose is the drain hv does at every exit. On hv, tail == head afterwards.
 */
static int pvtrace_room(void)
{
	if (pv_head() - pv_tail() < HV_PVTRACE_CAPACITY)
		return 1;
	port_write32(HV_PORT_PVTRACE, pv_addr());
	if (pv_head() - pv_tail() < HV_PVTRACE_CAPACITY)
		return 1;
	if (print_mode) {
		pvtrace_print_pending();
		return 1;
	}
	return 0; /* nobody drains (QEMU): the record is lost, and counted */
}

/* Write records[head % capacity] completely, then publish it by incrementing head. */
static void pvtrace_put(const struct hv_pvtrace_record *rec)
{
	uint32_t head = pv_head();

	page.rec[head % HV_PVTRACE_CAPACITY] = *rec;
	compiler_barrier(); /* the record's stores must not sink below the head store */
	pv_set_head(head + 1u);
}

void pvtrace_emit(uint8_t kind, uint8_t from_cpl, uint8_t to_cpl, uint8_t vector, uint32_t nr,
		  uint32_t rip, uint32_t arg)
{
	struct hv_pvtrace_record rec = {
		.tsc = rdtsc(), .kind = kind, .from_cpl = from_cpl, .to_cpl = to_cpl,
		.vector = vector, .nr = nr, .rip = rip, .task = task_current_id(), .arg = arg,
	};

	if (!registered)
		return;
	if (!pvtrace_room()) {
		page.h.lost++;
		return;
	}
	pvtrace_put(&rec);
}

/*
 * hvlab.pvtrace=0x528: fill the header, then hand hv the page's physical address with one
 * 32-bit OUT (paging is the identity, so the kernel's pointer is that address). The header
 * must be complete before the OUT: hv checks it at registration.
 */
void pvtrace_init(void)
{
	print_mode = os_option_is("os.pvtrace_print", "1");
	if (!os_option_is("hvlab.pvtrace", "0x528"))
		return;
	page.h.magic = HV_PVTRACE_MAGIC;
	page.h.version = HV_PVTRACE_VERSION;
	page.h.record_size = HV_PVTRACE_REC_SIZE;
	page.h.capacity = HV_PVTRACE_CAPACITY;
	page.h.head = page.h.tail = page.h.lost = 0;
	compiler_barrier();
	port_write32(HV_PORT_PVTRACE, pv_addr());
	registered = 1;
	kprintf("os: pvtrace: page at 0x%08x registered at port 0x%x\n", pv_addr(),
		HV_PORT_PVTRACE);
}

/*
 * os.corrupt_pvtrace=N, a hostile guest on purpose (hv/pvtrace.h, "A hostile guest owns
 * this page"). Afterwards the kernel carries on writing records as usual:
 *   1  head jumps 100000 records ahead of tail (more than a ring: hv must not read 100000)
 *   2  the magic is overwritten with 0xdeadbeef (hv must stop trusting the page), then one
 *      empty record is published so that hv has a reason to look
 *   3  five records with kind 99 and from_cpl 7 (fields no real record can have)
 */
void pvtrace_corrupt(void)
{
	const char *v;
	uint32_t len;
	char how;

	if (!registered || !os_option("os.corrupt_pvtrace", &v, &len) || len != 1)
		return;
	how = v[0];
	if (how < '1' || how > '3')
		return;
	kprintf("os: pvtrace: damaging the trace page on purpose (os.corrupt_pvtrace=%c)\n", how);
	if (how == '1') {
		pv_set_head(pv_head() + 100000u);
	} else if (how == '2') {
		/* hv looks at the page only when head has moved (the cheap check it makes at
		   every exit), so publish one empty record after the damage: with or without
		   tasks, the next exit shows hv the broken header. */
		struct hv_pvtrace_record empty = { .tsc = rdtsc() };

		*(volatile uint32_t *)&page.h.magic = 0xdeadbeefu;
		compiler_barrier();
		pvtrace_put(&empty);
	} else {
		for (int i = 0; i < 5; i++) {
			struct hv_pvtrace_record bad = { .tsc = rdtsc(), .kind = 99, .from_cpl = 7 };

			if (pvtrace_room())
				pvtrace_put(&bad);
		}
	}
}

/* At the end: with os.pvtrace_print=1, print what nobody drained, and what was lost. */
void pvtrace_finish(void)
{
	if (!registered || !print_mode)
		return;
	pvtrace_print_pending();
	if (page.h.lost != 0)
		kprintf("pvtrace: %u records lost\n", page.h.lost);
}
