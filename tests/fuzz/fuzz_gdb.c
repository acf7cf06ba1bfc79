/*
 * fuzz_gdb.c - libFuzzer on the gdb stub's protocol (hv/gdbstub.c): packet framing and every
 * command handler, against the fake target of the unit tests (tests/unit/gdb_fake.h).
 *
 * Concept: whoever connects to `hv run --gdb` speaks to this parser first; it must survive any
 * byte stream. The input is fed twice: raw (framing, escapes, Ctrl-C, bad checksums), and
 * split on newlines with each line framed as a packet with a correct checksum, so the fuzzer
 * reaches the handlers without having to guess checksums. Seeds: tests/fuzz/corpus/gdb.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../unit/gdb_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	static struct gdb_conn c;
	fake_connect(&c, &f);
	for (size_t i = 0; i < size; i++)
		gdb_feed(&c, data[i]);
	fake_connect(&c, &f);
	size_t start = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		uint8_t sum = 0;
		gdb_feed(&c, '$');
		for (size_t j = start; j < i; j++) {
			gdb_feed(&c, data[j]);
			sum += data[j];
		}
		static const char hex[] = "0123456789abcdef";
		gdb_feed(&c, '#');
		gdb_feed(&c, (uint8_t)hex[sum >> 4]);
		gdb_feed(&c, (uint8_t)hex[sum & 15]);
		start = i + 1;
	}
	return 0;
}
