/*
 * gdbstub.c - the GDB remote serial protocol: packet framing and the command handlers, on a
 * target that is only a table of operations (gdbstub.h). No KVM, no sockets: hv's side is in
 * gdbhv.c, so the unit tests (tests/unit/test_gdbstub.c) and the fuzzer (tests/fuzz/fuzz_gdb.c)
 * drive this file against a fake machine.
 *
 * Concept: a debugger needs very few primitives from whatever runs the program: read and write
 * registers, read and write memory, plant breakpoints, run, execute one instruction, and be told
 * when and why the CPU stopped. gdb's remote protocol is exactly that list, as short ASCII
 * packets, so gdb can debug anything that implements it: a board over a serial line, QEMU, or
 * a guest of hv. The real CPU mechanisms behind each primitive are x86's debug features, which
 * hv reaches through KVM (textbook chapter 5 "A guest OS", section "Watching one instruction at
 * a time"; gdbhv.c has the details):
 *   - #DB, the debug exception (vector 1): raised by the trap flag (RFLAGS.TF) after every
 *     instruction (stepi), and by the debug registers: DR0-DR3 hold up to four addresses, DR7
 *     says for each whether to stop on execution, on a write, or on any access, and over how
 *     many bytes; DR6 says afterwards which one fired. Hardware breakpoints and watchpoints.
 *   - #BP, the breakpoint exception (vector 3): raised by INT3 (0xCC), the one-byte instruction
 *     debuggers write over an instruction: a software breakpoint, as many as you like.
 * With KVM_SET_GUEST_DEBUG, KVM intercepts both and returns to hv (KVM_EXIT_DEBUG) instead of
 * delivering them to the guest: the guest never knows it is being debugged.
 *
 * The wire format (gdb's manual, "Remote Protocol"):
 *   $payload#cs    a packet: cs is the payload's byte sum mod 256, two hex digits
 *   +  /  -        acknowledgement: received fine / bad checksum, send it again
 *   }              escape: the next byte is XORed with 0x20 (how a binary payload, as in the
 *                  X packet, carries $ # } and *)
 *   0x03           outside a packet: Ctrl-C, "stop the running program" (no framing at all)
 * Every command gets exactly one reply packet, except the run commands (c, s, vCont): their
 * reply is the stop reply (T05...) sent when the guest stops, maybe much later. An empty reply
 * means "I don't know that command", which is how gdb discovers what a stub supports.
 */
#include <stdio.h>
#include <string.h>

#include "gdbstub.h"

static const char hexd[] = "0123456789abcdef";

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A hex number of 1 to 16 digits at *p; *p moves past it. -1: none, or too long. */
static int parse_hex(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int n = 0;
	while (hexval((unsigned char)*s) >= 0) {
		if (++n > 16)
			return -1;
		x = x << 4 | (uint64_t)hexval((unsigned char)*s++);
	}
	if (!n)
		return -1;
	*p = s;
	*v = x;
	return 0;
}

/* len bytes as 2*len hex digits into out (which holds 2*len + 1). */
static void to_hex(char *out, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexd[buf[i] >> 4];
		out[2 * i + 1] = hexd[buf[i] & 15];
	}
	out[2 * len] = 0;
}

/* Exactly 2*len hex digits at s into buf. -1 on a non-hex digit. */
static int from_hex(uint8_t *buf, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hi < 0 ? -1 : hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void gdb_conn_init(struct gdb_conn *c, const struct gdb_target *t,
		   void (*send)(void *io, const char *buf, size_t len), void *io)
{
	memset(c, 0, sizeof *c);
	c->target = *t;
	c->send = send;
	c->io = io;
	snprintf(c->stop_reply, sizeof c->stop_reply, "S05");
}

/* Framing: $, the payload with $ # } * escaped, #, the checksum. */
void gdb_send_packet(struct gdb_conn *c, const char *buf, size_t len)
{
	static char out[2 * GDB_PACKET_MAX + 8];
	size_t n = 0;
	uint8_t sum = 0;
	out[n++] = '$';
	for (size_t i = 0; i < len && n < sizeof out - 4; i++) {
		uint8_t b = (uint8_t)buf[i];
		if (b == '$' || b == '#' || b == '}' || b == '*') {
			out[n++] = '}';
			sum += '}';
			b ^= 0x20;
		}
		out[n++] = (char)b;
		sum += b;
	}
	out[n++] = '#';
	out[n++] = hexd[sum >> 4];
	out[n++] = hexd[sum & 15];
	c->send(c->io, out, n);
}

static void reply(struct gdb_conn *c, const char *s)
{
	gdb_send_packet(c, s, strlen(s));
}

void gdb_stopped(struct gdb_conn *c, int sig, const char *extra)
{
	snprintf(c->stop_reply, sizeof c->stop_reply, "T%02x%sthread:01;", sig & 0xff,
		 extra ? extra : "");
	reply(c, c->stop_reply);
}

void gdb_console(struct gdb_conn *c, const char *text)
{
	char out[GDB_PACKET_MAX + 1];
	size_t len = strlen(text);
	if (len > (GDB_PACKET_MAX - 1) / 2)
		len = (GDB_PACKET_MAX - 1) / 2;
	out[0] = 'O';
	to_hex(out + 1, (const uint8_t *)text, len);
	reply(c, out);
}

void gdb_exited(struct gdb_conn *c, int status)
{
	char out[8];
	snprintf(out, sizeof out, "W%02x", status & 0xff);
	reply(c, out);
}

/* ---- the commands; each sends its one reply ---- */

/* g: all registers, in the target's layout, as hex. */
static void cmd_read_regs(struct gdb_conn *c)
{
	uint8_t regs[GDB_PACKET_MAX / 2];
	char out[GDB_PACKET_MAX + 1];
	int n = c->target.ops->read_regs(c->target.ctx, regs, sizeof regs);
	if (n < 0) {
		reply(c, "E01");
		return;
	}
	to_hex(out, regs, (size_t)n);
	reply(c, out);
}

/* G hex: all registers (or a prefix of the layout). */
static void cmd_write_regs(struct gdb_conn *c, const char *hex, size_t hexlen)
{
	uint8_t regs[GDB_PACKET_MAX / 2];
	if (hexlen % 2 || from_hex(regs, hex, hexlen / 2) < 0 ||
	    c->target.ops->write_regs(c->target.ctx, regs, hexlen / 2) < 0) {
		reply(c, "E01");
		return;
	}
	reply(c, "OK");
}

/* p n: one register. An unknown number gets an error. */
static void cmd_read_reg(struct gdb_conn *c, const char *p)
{
	uint64_t n;
	uint8_t val[64];
	char out[2 * sizeof val + 1];
	int len;
	if (parse_hex(&p, &n) < 0 || *p || n > 4096 ||
	    (len = c->target.ops->read_reg(c->target.ctx, (unsigned)n, val, sizeof val)) < 0) {
		reply(c, "E01");
		return;
	}
	to_hex(out, val, (size_t)len);
	reply(c, out);
}

/* P n=hex: write one register. */
static void cmd_write_reg(struct gdb_conn *c, const char *p)
{
	uint64_t n;
	uint8_t val[64];
	if (parse_hex(&p, &n) < 0 || *p++ != '=' || n > 4096) {
		reply(c, "E01");
		return;
	}
	size_t hexlen = strlen(p);
	if (hexlen % 2 || hexlen / 2 > sizeof val || from_hex(val, p, hexlen / 2) < 0 ||
	    c->target.ops->write_reg(c->target.ctx, (unsigned)n, val, hexlen / 2) < 0) {
		reply(c, "E01");
		return;
	}
	reply(c, "OK");
}

/* "addr,len" at *p; len bounded by what one reply can carry as hex. */
static int parse_addr_len(const char **p, uint64_t *addr, uint64_t *len)
{
	if (parse_hex(p, addr) < 0 || *(*p)++ != ',' || parse_hex(p, len) < 0)
		return -1;
	return *len > GDB_PACKET_MAX / 2 ? -1 : 0;
}

/* m addr,len: memory as hex. Outside guest RAM: E. */
static void cmd_read_mem(struct gdb_conn *c, const char *p)
{
	uint64_t addr, len;
	uint8_t buf[GDB_PACKET_MAX / 2];
	char out[GDB_PACKET_MAX + 1];
	if (parse_addr_len(&p, &addr, &len) < 0 || *p) {
		reply(c, "E01");
		return;
	}
	if (len && c->target.ops->read_mem(c->target.ctx, addr, buf, len) < 0) {
		reply(c, "E14"); /* EFAULT */
		return;
	}
	to_hex(out, buf, len);
	reply(c, out);
}

/* M addr,len:hex and X addr,len:binary (already unescaped by the parser). */
static void cmd_write_mem(struct gdb_conn *c, const char *p, size_t total, bool binary)
{
	const char *start = p;
	uint64_t addr, len;
	uint8_t buf[GDB_PACKET_MAX];
	if (parse_addr_len(&p, &addr, &len) < 0 || *p++ != ':') {
		reply(c, "E01");
		return;
	}
	size_t have = total - (size_t)(p - start);
	if (binary) {
		if (have != len) {
			reply(c, "E01");
			return;
		}
		memcpy(buf, p, have);
	} else if (have != 2 * len || from_hex(buf, p, len) < 0) {
		reply(c, "E01");
		return;
	}
	if (len && c->target.ops->write_mem(c->target.ctx, addr, buf, len) < 0) {
		reply(c, "E14");
		return;
	}
	reply(c, "OK");
}

/* Z type,addr,kind / z type,addr,kind (anything after a ';', conditions, is ignored). */
static void cmd_breakpoint(struct gdb_conn *c, const char *p, bool insert)
{
	uint64_t type, addr, kind;
	if (parse_hex(&p, &type) < 0 || *p++ != ',' || parse_hex(&p, &addr) < 0 || *p++ != ',' ||
	    parse_hex(&p, &kind) < 0 || (*p && *p != ';')) {
		reply(c, "E01");
		return;
	}
	if (type > GDB_WP_ACCESS) {
		reply(c, ""); /* a kind we do not know: "unsupported" */
		return;
	}
	int rc = insert ? c->target.ops->insert_bp(c->target.ctx, (int)type, addr, (unsigned)kind)
			: c->target.ops->remove_bp(c->target.ctx, (int)type, addr, (unsigned)kind);
	reply(c, rc < 0 ? "E0e" : "OK"); /* E0e: no free slot, or not in guest RAM */
}

/* qRcmd,hex: `monitor CMD`. The answer is the text, hex-encoded. */
static void cmd_monitor(struct gdb_conn *c, const char *hex)
{
	char cmd[GDB_PACKET_MAX / 2 + 1];
	char text[GDB_PACKET_MAX / 2];
	char out[GDB_PACKET_MAX + 1];
	size_t n = strlen(hex);
	if (n % 2 || from_hex((uint8_t *)cmd, hex, n / 2) < 0) {
		reply(c, "E01");
		return;
	}
	cmd[n / 2] = 0;
	text[0] = 0;
	c->target.ops->monitor(c->target.ctx, cmd, text, sizeof text);
	size_t len = strnlen(text, sizeof text - 1);
	if (!len) {
		reply(c, "OK");
		return;
	}
	to_hex(out, (const uint8_t *)text, len);
	reply(c, out);
}

/*
 * qXfer:features:read:target.xml:offset,length - the target description. Only the
 * architecture: gdb then assumes its standard register layout for it (for i386:x86-64: rax,
 * rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8-r15, rip, eflags, cs, ss, ds, es, fs, gs, then the FPU
 * and SSE registers), which is what the target's read_regs sends.
 */
static void cmd_xfer_features(struct gdb_conn *c, const char *p)
{
	char xml[256];
	uint64_t off, len;
	if (strncmp(p, "target.xml:", 11)) {
		reply(c, "E00");
		return;
	}
	p += 11;
	if (parse_hex(&p, &off) < 0 || *p++ != ',' || parse_hex(&p, &len) < 0 || *p) {
		reply(c, "E01");
		return;
	}
	int n = snprintf(xml, sizeof xml, "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM "
			 "\"gdb-target.dtd\"><target><architecture>%s</architecture></target>",
			 c->target.ops->arch(c->target.ctx));
	if (n < 0 || (size_t)n >= sizeof xml)
		n = 0;
	char out[GDB_PACKET_MAX + 1];
	if (off >= (uint64_t)n) {
		reply(c, "l");
		return;
	}
	size_t take = (size_t)n - (size_t)off;
	if (len > GDB_PACKET_MAX - 1)
		len = GDB_PACKET_MAX - 1;
	out[0] = take > len ? 'm' : 'l';
	if (take > len)
		take = len;
	memcpy(out + 1, xml + off, take);
	gdb_send_packet(c, out, take + 1);
}

static enum gdb_action cmd_query(struct gdb_conn *c, const char *p)
{
	if (!strncmp(p, "qSupported", 10)) {
		char out[96];
		snprintf(out, sizeof out, "PacketSize=%x;qXfer:features:read+;vContSupported+",
			 GDB_PACKET_MAX);
		reply(c, out);
	} else if (!strncmp(p, "qAttached", 9)) {
		reply(c, "1"); /* attached to an existing process: `quit` detaches, not kills */
	} else if (!strcmp(p, "qC")) {
		reply(c, "QC01");
	} else if (!strcmp(p, "qfThreadInfo")) {
		reply(c, "m01"); /* one vCPU: thread 1 */
	} else if (!strcmp(p, "qsThreadInfo")) {
		reply(c, "l");
	} else if (!strncmp(p, "qRcmd,", 6)) {
		cmd_monitor(c, p + 6);
	} else if (!strncmp(p, "qXfer:features:read:", 20)) {
		cmd_xfer_features(c, p + 20);
	} else {
		reply(c, ""); /* qTStatus, qOffsets, qSymbol, ...: not supported */
	}
	return GDB_NONE;
}

/* vCont?: what we support. vCont;ACTION[:thread][;ACTION...]: with one vCPU, a step anywhere
 * in the list means step, else continue. */
static enum gdb_action cmd_vcont(struct gdb_conn *c, const char *p)
{
	if (!strcmp(p, "vCont?")) {
		reply(c, "vCont;c;C;s;S");
		return GDB_NONE;
	}
	if (strncmp(p, "vCont;", 6)) {
		reply(c, ""); /* vMustReplyEmpty, vRun, vKill, ...: not supported */
		return GDB_NONE;
	}
	for (const char *a = p + 5; a && *a == ';'; a = strchr(a + 1, ';')) {
		if (a[1] == 's' || a[1] == 'S')
			return GDB_STEP;
		if (a[1] != 'c' && a[1] != 'C') {
			reply(c, "E01");
			return GDB_NONE;
		}
	}
	return GDB_CONTINUE;
}

/* A complete packet with a good checksum: what it asks for. */
static enum gdb_action handle_packet(struct gdb_conn *c)
{
	const char *p = c->pkt;
	c->packets++;
	switch (p[0]) {
	case '?': reply(c, c->stop_reply); break;
	case 'g': cmd_read_regs(c); break;
	case 'G': cmd_write_regs(c, p + 1, c->len - 1); break;
	case 'p': cmd_read_reg(c, p + 1); break;
	case 'P': cmd_write_reg(c, p + 1); break;
	case 'm': cmd_read_mem(c, p + 1); break;
	case 'M': cmd_write_mem(c, p + 1, c->len - 1, false); break;
	case 'X': cmd_write_mem(c, p + 1, c->len - 1, true); break;
	case 'Z': cmd_breakpoint(c, p + 1, true); break;
	case 'z': cmd_breakpoint(c, p + 1, false); break;
	/* c [addr], s [addr], C sig[;addr], S sig[;addr]: gdb never sends the address (it writes
	 * rip itself first); the signal is meaningless to a CPU. The reply is the next stop. */
	case 'c': case 'C': return GDB_CONTINUE;
	case 's': case 'S': return GDB_STEP;
	case 'v': return cmd_vcont(c, p);
	case 'q': return cmd_query(c, p);
	case 'H': case 'T': reply(c, "OK"); break; /* select / ask about thread 1: the only one */
	case 'D': reply(c, "OK"); return GDB_DETACH;
	case 'k': return GDB_KILL; /* no reply: the connection ends */
	default: reply(c, ""); break;
	}
	return GDB_NONE;
}

enum gdb_action gdb_feed(struct gdb_conn *c, uint8_t b)
{
	switch (c->rx) {
	case GDB_RX_IDLE:
		if (b == '$') {
			c->rx = GDB_RX_DATA;
			c->len = 0;
			c->sum = 0;
			c->overflow = c->escape = false;
		} else if (b == 0x03) {
			return GDB_INTERRUPT;
		}
		/* '+' and '-' from gdb, and noise between packets, are ignored. (On '-' a stub
		 * should resend; over TCP gdb never needs to.) */
		return GDB_NONE;
	case GDB_RX_DATA:
		if (b == '#') {
			c->rx = GDB_RX_CSUM1;
			return GDB_NONE;
		}
		if (b == '$' && !c->escape) { /* a new packet starts: the broken one is dropped */
			c->len = 0;
			c->sum = 0;
			c->overflow = false;
			return GDB_NONE;
		}
		c->sum += b;
		if (!c->escape && b == 0x7d) {
			c->escape = true;
			return GDB_NONE;
		}
		if (c->escape)
			b ^= 0x20;
		c->escape = false;
		if (c->len >= GDB_PACKET_MAX)
			c->overflow = true;
		else
			c->pkt[c->len++] = (char)b;
		return GDB_NONE;
	case GDB_RX_CSUM1:
	case GDB_RX_CSUM2: {
		int v = hexval(b);
		if (v < 0) { /* not a checksum at all */
			c->rx = GDB_RX_IDLE;
			c->bad_checksums++;
			c->send(c->io, "-", 1);
			return GDB_NONE;
		}
		if (c->rx == GDB_RX_CSUM1) {
			c->csum = (uint8_t)(v << 4);
			c->rx = GDB_RX_CSUM2;
			return GDB_NONE;
		}
		c->csum |= (uint8_t)v;
		c->rx = GDB_RX_IDLE;
		if (c->csum != c->sum) {
			c->bad_checksums++;
			c->send(c->io, "-", 1);
			return GDB_NONE;
		}
		c->send(c->io, "+", 1);
		if (c->overflow) {
			reply(c, "E01"); /* longer than PacketSize: dropped */
			return GDB_NONE;
		}
		c->pkt[c->len] = 0;
		return handle_packet(c);
	}
	}
	return GDB_NONE;
}
