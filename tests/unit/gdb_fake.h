/*
 * gdb_fake.h - a fake machine behind gdbstub.c's struct gdb_target, for the unit tests
 * (test_gdbstub.c) and the fuzzer (tests/fuzz/fuzz_gdb.c): 4 KiB of "RAM" at 0x1000, a
 * register file in a 164-byte x86-64 core layout, four debug-register slots like the CPU's.
 * Everything it is asked is bounds-checked as hv's target is (gdbhv.c), so a sanitizer
 * finds the stub's mistakes, not the fake's.
 */
#ifndef TESTS_GDB_FAKE_H
#define TESTS_GDB_FAKE_H

#include <stdio.h>
#include <string.h>

#include "gdbstub.h"

#define FAKE_RAM_BASE 0x1000u
#define FAKE_RAM_SIZE 4096u
#define FAKE_REGS     164u /* rax..r15, rip (8 each), eflags and 6 selectors (4 each) */
#define FAKE_NREGS    24u

struct fake {
	uint8_t ram[FAKE_RAM_SIZE];
	uint8_t regs[FAKE_REGS];
	struct { uint64_t addr; int type; unsigned len; int used; } bp[4];
	int sw_count;
	char out[2 * GDB_PACKET_MAX + 64]; /* what the stub sent, appended */
	size_t outlen;
	char last_monitor[256];
};

static unsigned fake_reg_off(unsigned n) { return n <= 16 ? n * 8 : 136 + (n - 17) * 4; }
static unsigned fake_reg_size(unsigned n) { return n <= 16 ? 8 : 4; }

static int fake_read_regs(void *ctx, uint8_t *buf, size_t cap)
{
	struct fake *f = ctx;
	if (cap < FAKE_REGS)
		return -1;
	memcpy(buf, f->regs, FAKE_REGS);
	return FAKE_REGS;
}

static int fake_write_regs(void *ctx, const uint8_t *buf, size_t len)
{
	struct fake *f = ctx;
	if (len > FAKE_REGS)
		return -1;
	memcpy(f->regs, buf, len);
	return 0;
}

static int fake_read_reg(void *ctx, unsigned n, uint8_t *buf, size_t cap)
{
	struct fake *f = ctx;
	if (n >= FAKE_NREGS || cap < fake_reg_size(n))
		return -1;
	memcpy(buf, f->regs + fake_reg_off(n), fake_reg_size(n));
	return (int)fake_reg_size(n);
}

static int fake_write_reg(void *ctx, unsigned n, const uint8_t *buf, size_t len)
{
	struct fake *f = ctx;
	if (n >= FAKE_NREGS || len != fake_reg_size(n))
		return -1;
	memcpy(f->regs + fake_reg_off(n), buf, len);
	return 0;
}

static int fake_in_ram(uint64_t addr, size_t len)
{
	return addr >= FAKE_RAM_BASE && len <= FAKE_RAM_SIZE &&
	       addr - FAKE_RAM_BASE <= FAKE_RAM_SIZE - len;
}

static int fake_read_mem(void *ctx, uint64_t addr, uint8_t *buf, size_t len)
{
	struct fake *f = ctx;
	if (!fake_in_ram(addr, len))
		return -1;
	memcpy(buf, f->ram + (addr - FAKE_RAM_BASE), len);
	return 0;
}

static int fake_write_mem(void *ctx, uint64_t addr, const uint8_t *buf, size_t len)
{
	struct fake *f = ctx;
	if (!fake_in_ram(addr, len))
		return -1;
	memcpy(f->ram + (addr - FAKE_RAM_BASE), buf, len);
	return 0;
}

static int fake_insert_bp(void *ctx, int type, uint64_t addr, unsigned len)
{
	struct fake *f = ctx;
	if (type == GDB_BP_SW) {
		if (!fake_in_ram(addr, 1))
			return -1;
		f->sw_count++;
		return 0;
	}
	for (int i = 0; i < 4; i++)
		if (!f->bp[i].used) {
			f->bp[i].addr = addr, f->bp[i].type = type, f->bp[i].len = len, f->bp[i].used = 1;
			return 0;
		}
	return -1;
}

static int fake_remove_bp(void *ctx, int type, uint64_t addr, unsigned len)
{
	struct fake *f = ctx;
	(void)len;
	if (type == GDB_BP_SW) {
		if (f->sw_count == 0)
			return -1;
		f->sw_count--;
		return 0;
	}
	for (int i = 0; i < 4; i++)
		if (f->bp[i].used && f->bp[i].addr == addr && f->bp[i].type == type) {
			f->bp[i].used = 0;
			return 0;
		}
	return -1;
}

static void fake_monitor(void *ctx, const char *cmd, char *out, size_t cap)
{
	struct fake *f = ctx;
	snprintf(f->last_monitor, sizeof f->last_monitor, "%s", cmd);
	if (strcmp(cmd, "quiet"))
		snprintf(out, cap, "you said: %s\n", cmd);
}

static const char *fake_arch(void *ctx)
{
	(void)ctx;
	return "i386:x86-64";
}

static void fake_send(void *io, const char *buf, size_t len)
{
	struct fake *f = io;
	if (len > sizeof f->out - 1 - f->outlen)
		f->outlen = 0; /* the tests reset it per packet; the fuzzer just wraps */
	if (len > sizeof f->out - 1)
		len = sizeof f->out - 1;
	memcpy(f->out + f->outlen, buf, len);
	f->outlen += len;
	f->out[f->outlen] = 0;
}

static const struct gdb_target_ops fake_ops = {
	.read_regs = fake_read_regs, .write_regs = fake_write_regs,
	.read_reg = fake_read_reg, .write_reg = fake_write_reg,
	.read_mem = fake_read_mem, .write_mem = fake_write_mem,
	.insert_bp = fake_insert_bp, .remove_bp = fake_remove_bp,
	.monitor = fake_monitor, .arch = fake_arch,
};

/* A connection to a zeroed fake. */
static void fake_connect(struct gdb_conn *c, struct fake *f)
{
	memset(f, 0, sizeof *f);
	struct gdb_target t = { &fake_ops, f };
	gdb_conn_init(c, &t, fake_send, f);
}

#endif
