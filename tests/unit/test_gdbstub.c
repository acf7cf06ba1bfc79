/*
 * test_gdbstub.c - unit tests for the gdb remote-protocol stub (hv/gdbstub.c) against a fake
 * target (gdb_fake.h): no KVM, no socket.
 *
 * Concept: a protocol parser faces whoever connects to it. These tests check the framing
 * (checksums, acks, the 0x7d escape, Ctrl-C), every packet kind hv answers, and the hostile
 * cases: bad checksums, overlong packets, bad hex, huge lengths, unknown packets.
 * Textbook: chapter 5 "A guest OS", section "Watching one instruction at a time".
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "gdb_fake.h"

static struct gdb_conn conn;
static struct fake fk;

static void setup(void) { fake_connect(&conn, &fk); }

/* Feed raw bytes; the last non-NONE action. */
static enum gdb_action feed_raw(const char *s, size_t len)
{
	enum gdb_action a = GDB_NONE;
	for (size_t i = 0; i < len; i++) {
		enum gdb_action x = gdb_feed(&conn, (uint8_t)s[i]);
		if (x != GDB_NONE)
			a = x;
	}
	return a;
}

/* Frame payload (len bytes, escaped as given) with a correct checksum, feed it. */
static enum gdb_action pkt_n(const char *payload, size_t len)
{
	char buf[3 * GDB_PACKET_MAX];
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += (uint8_t)payload[i];
	buf[0] = '$';
	memcpy(buf + 1, payload, len);
	snprintf(buf + 1 + len, 4, "#%02x", sum);
	fk.outlen = 0;
	fk.out[0] = 0;
	return feed_raw(buf, len + 4);
}

static enum gdb_action pkt(const char *payload) { return pkt_n(payload, strlen(payload)); }

/* The payload of the first reply packet in what the stub sent, with its checksum checked. */
static const char *reply(void)
{
	static char r[2 * GDB_PACKET_MAX];
	const char *d = strchr(fk.out, '$'), *h = d ? strchr(d, '#') : NULL;
	cr_assert(d && h, "no reply packet in '%s'", fk.out);
	uint8_t sum = 0;
	for (const char *p = d + 1; p < h; p++)
		sum += (uint8_t)*p;
	unsigned cs;
	cr_assert_eq(sscanf(h + 1, "%2x", &cs), 1);
	cr_assert_eq(cs, sum, "reply checksum");
	memcpy(r, d + 1, (size_t)(h - d - 1));
	r[h - d - 1] = 0;
	return r;
}

TestSuite(gdbstub, .init = setup);

Test(gdbstub, ack_and_checksum)
{
	pkt("?");
	cr_assert_eq(fk.out[0], '+');
	cr_assert_str_eq(reply(), "S05");
	/* $?#3f is right; #40 is wrong: '-' and no reply */
	fk.outlen = 0;
	feed_raw("$?#40", 5);
	cr_assert_str_eq(fk.out, "-");
	cr_assert_eq(conn.bad_checksums, 1);
	fk.outlen = 0;
	feed_raw("$?#zz", 5); /* not hex at all */
	cr_assert_str_eq(fk.out, "-");
	fk.outlen = 0;
	feed_raw("$?#3F", 5); /* upper-case digits are fine */
	cr_assert_str_eq(reply(), "S05");
}

Test(gdbstub, noise_and_acks_between_packets_are_ignored)
{
	fk.outlen = 0;
	cr_assert_eq(feed_raw("++-xyz", 6), GDB_NONE);
	cr_assert_eq(fk.outlen, 0);
	/* a '$' mid-packet restarts: the first packet is dropped */
	feed_raw("$g$?#3f", 7);
	cr_assert_str_eq(reply(), "S05");
}

Test(gdbstub, ctrl_c_outside_a_packet)
{
	cr_assert_eq(gdb_feed(&conn, 0x03), GDB_INTERRUPT);
}

Test(gdbstub, read_and_write_registers)
{
	fk.regs[0] = 0x11;
	fk.regs[128] = 0x36, fk.regs[129] = 0x12; /* rip = 0x1236 */
	pkt("g");
	const char *r = reply();
	cr_assert_eq(strlen(r), 2 * FAKE_REGS);
	cr_assert(!strncmp(r, "11000000", 8));
	pkt("p10"); /* rip, register 16 */
	cr_assert_str_eq(reply(), "3612000000000000");
	pkt("P10=0020000000000000");
	cr_assert_str_eq(reply(), "OK");
	cr_assert_eq(fk.regs[129], 0x20);
	pkt("p99"); /* no such register */
	cr_assert_str_eq(reply(), "E01");
	pkt("P10=zz20000000000000");
	cr_assert_str_eq(reply(), "E01");
	pkt("P10=00"); /* wrong size */
	cr_assert_str_eq(reply(), "E01");
	char g[2 * FAKE_REGS + 2] = "G";
	memset(g + 1, 'a', 2 * FAKE_REGS);
	g[2 * FAKE_REGS + 1] = 0;
	pkt(g);
	cr_assert_str_eq(reply(), "OK");
	cr_assert_eq(fk.regs[5], 0xaa);
	pkt("Gabc"); /* odd length */
	cr_assert_str_eq(reply(), "E01");
}

Test(gdbstub, read_memory)
{
	memcpy(fk.ram, "Hello", 5);
	pkt("m1000,5");
	cr_assert_str_eq(reply(), "48656c6c6f");
	pkt("m1000,0");
	cr_assert_str_eq(reply(), "");
	pkt("m0,4"); /* outside RAM */
	cr_assert_str_eq(reply(), "E14");
	pkt("m1ffe,4"); /* runs past the end */
	cr_assert_str_eq(reply(), "E14");
	pkt("mffffffffffffffff,2");
	cr_assert_str_eq(reply(), "E14");
	pkt("m1000,100000"); /* longer than a reply can carry */
	cr_assert_str_eq(reply(), "E01");
	pkt("m1000,ffffffffffffffff");
	cr_assert_str_eq(reply(), "E01");
	pkt("m1ffffffffffffffff0,1"); /* 17 digits */
	cr_assert_str_eq(reply(), "E01");
	pkt("mxyz,1");
	cr_assert_str_eq(reply(), "E01");
	pkt("m1000");
	cr_assert_str_eq(reply(), "E01");
}

Test(gdbstub, write_memory_hex_and_binary)
{
	pkt("M1000,3:414243");
	cr_assert_str_eq(reply(), "OK");
	cr_assert(!memcmp(fk.ram, "ABC", 3));
	pkt("M1000,3:4142"); /* short data */
	cr_assert_str_eq(reply(), "E01");
	pkt("M1000,1:zz");
	cr_assert_str_eq(reply(), "E01");
	pkt("M0,1:00");
	cr_assert_str_eq(reply(), "E14");
	/* X with the escape: bytes 0x23 '#', 0x24 '$', 0x7d '}' and 0x2a '*' go as 7d + b^0x20 */
	const char x[] = "X1010,5:\x7d\x03\x7d\x04\x7d\x5d\x7d\x0a" "z";
	pkt_n(x, sizeof x - 1);
	cr_assert_str_eq(reply(), "OK");
	cr_assert(!memcmp(fk.ram + 0x10, "#$}*z", 5));
	pkt("X1010,0:"); /* gdb's probe for X support */
	cr_assert_str_eq(reply(), "OK");
	pkt("X1010,2:a"); /* length does not match */
	cr_assert_str_eq(reply(), "E01");
}

Test(gdbstub, breakpoints_and_watchpoints)
{
	pkt("Z0,1000,1");
	cr_assert_str_eq(reply(), "OK");
	pkt("z0,1000,1");
	cr_assert_str_eq(reply(), "OK");
	pkt("Z0,0,1"); /* not in RAM */
	cr_assert_str_eq(reply(), "E0e");
	pkt("Z1,1000,1");
	cr_assert_str_eq(reply(), "OK");
	pkt("Z2,1008,4");
	cr_assert_str_eq(reply(), "OK");
	pkt("Z3,1010,8");
	cr_assert_str_eq(reply(), "OK");
	pkt("Z4,1020,2;X1,0"); /* a condition list after ';' is ignored */
	cr_assert_str_eq(reply(), "OK");
	pkt("Z1,1100,1"); /* a fifth debug register: there is none */
	cr_assert_str_eq(reply(), "E0e");
	cr_assert(fk.bp[1].used && fk.bp[1].type == GDB_WP_WRITE && fk.bp[1].len == 4);
	pkt("z2,1008,4");
	cr_assert_str_eq(reply(), "OK");
	cr_assert(!fk.bp[1].used);
	pkt("Z5,1000,1"); /* unknown type: unsupported */
	cr_assert_str_eq(reply(), "");
	pkt("Z1,1000");
	cr_assert_str_eq(reply(), "E01");
}

Test(gdbstub, run_control)
{
	cr_assert_eq(pkt("c"), GDB_CONTINUE);
	cr_assert_eq(fk.out[0], '+');
	cr_assert_eq(strchr(fk.out, '$'), NULL, "no reply until the guest stops");
	cr_assert_eq(pkt("s"), GDB_STEP);
	cr_assert_eq(pkt("C05"), GDB_CONTINUE);
	cr_assert_eq(pkt("vCont;c"), GDB_CONTINUE);
	cr_assert_eq(pkt("vCont;s:1;c"), GDB_STEP);
	cr_assert_eq(pkt("vCont;x"), GDB_NONE);
	cr_assert_str_eq(reply(), "E01");
	pkt("vCont?");
	cr_assert_str_eq(reply(), "vCont;c;C;s;S");
	cr_assert_eq(pkt("D"), GDB_DETACH);
	cr_assert_str_eq(reply(), "OK");
	cr_assert_eq(pkt("k"), GDB_KILL);
}

Test(gdbstub, stop_replies)
{
	fk.outlen = 0;
	gdb_stopped(&conn, 5, NULL);
	cr_assert_str_eq(reply(), "T05thread:01;");
	pkt("?");
	cr_assert_str_eq(reply(), "T05thread:01;");
	fk.outlen = 0;
	gdb_stopped(&conn, 2, "watch:1008;");
	cr_assert_str_eq(reply(), "T02watch:1008;thread:01;");
	fk.outlen = 0;
	gdb_exited(&conn, 0);
	cr_assert_str_eq(reply(), "W00");
	fk.outlen = 0;
	gdb_console(&conn, "hi\n");
	cr_assert_str_eq(reply(), "O68690a");
}

Test(gdbstub, queries)
{
	pkt("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
	cr_assert_str_eq(reply(), "PacketSize=1000;qXfer:features:read+;vContSupported+");
	pkt("qAttached");
	cr_assert_str_eq(reply(), "1");
	pkt("qC");
	cr_assert_str_eq(reply(), "QC01");
	pkt("qfThreadInfo");
	cr_assert_str_eq(reply(), "m01");
	pkt("qsThreadInfo");
	cr_assert_str_eq(reply(), "l");
	pkt("Hg0");
	cr_assert_str_eq(reply(), "OK");
	pkt("qTStatus");
	cr_assert_str_eq(reply(), "");
	pkt("vMustReplyEmpty");
	cr_assert_str_eq(reply(), "");
	pkt("!"); /* unknown packets: empty */
	cr_assert_str_eq(reply(), "");
}

Test(gdbstub, target_xml)
{
	pkt("qXfer:features:read:target.xml:0,ffb");
	const char *r = reply();
	cr_assert_eq(r[0], 'l');
	cr_assert(strstr(r, "<architecture>i386:x86-64</architecture>"));
	pkt("qXfer:features:read:target.xml:0,10"); /* in pieces: 'm' = more follows */
	cr_assert_eq(reply()[0], 'm');
	cr_assert_eq(strlen(reply()), 17);
	pkt("qXfer:features:read:target.xml:fff,10");
	cr_assert_str_eq(reply(), "l");
	pkt("qXfer:features:read:other.xml:0,10");
	cr_assert_str_eq(reply(), "E00");
	pkt("qXfer:features:read:target.xml:0");
	cr_assert_str_eq(reply(), "E01");
}

Test(gdbstub, monitor_commands_are_hex)
{
	pkt("qRcmd,68656c70"); /* "help" */
	char expect[128] = "";
	const char *txt = "you said: help\n";
	for (size_t i = 0; txt[i]; i++)
		sprintf(expect + 2 * i, "%02x", (unsigned char)txt[i]);
	cr_assert_str_eq(reply(), expect);
	cr_assert_str_eq(fk.last_monitor, "help");
	pkt("qRcmd,7175696574"); /* "quiet": no text -> OK */
	cr_assert_str_eq(reply(), "OK");
	pkt("qRcmd,6");
	cr_assert_str_eq(reply(), "E01");
	pkt("qRcmd,zz");
	cr_assert_str_eq(reply(), "E01");
}

Test(gdbstub, overlong_packet_is_dropped_with_E)
{
	static char big[GDB_PACKET_MAX + 100];
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = 0;
	cr_assert_eq(pkt(big), GDB_NONE);
	cr_assert_eq(fk.out[0], '+');
	cr_assert_str_eq(reply(), "E01");
	pkt("?"); /* and the stub is fine afterwards */
	cr_assert_str_eq(reply(), "S05");
}

Test(gdbstub, largest_read_fits_in_a_packet)
{
	pkt("m1000,800"); /* 2048 bytes = 4096 hex digits = PacketSize */
	cr_assert_eq(strlen(reply()), GDB_PACKET_MAX);
	pkt("m1000,801");
	cr_assert_str_eq(reply(), "E01");
}

Test(gdbstub, replies_escape_special_bytes)
{
	gdb_send_packet(&conn, "a#b$c}d*", 8);
	cr_assert(strstr(fk.out, "a}\x03" "b}\x04" "c}]d}\x0a"));
}
