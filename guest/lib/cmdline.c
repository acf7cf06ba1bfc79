/*
 * cmdline.c - parse "key=value" words out of the PVH boot command line.
 *
 * Concept: a guest kernel's first parser of untrusted input. The command line comes from the
 * host, but it sits in guest memory the guest did not check yet: it may lack a NUL, hold
 * garbage or overflow a number. Every read here is bounded (HV_CMDLINE_MAX) and every number
 * is capped, the same discipline hv applies to what the guest hands it.
 * Textbook: chapter 1 "The guests", section "PVH".
 */
#include <stdint.h>

#include "cmdline.h"

const char *startinfo_cmdline(uintptr_t start_info_paddr)
{
	const struct hvm_start_info *si = (const struct hvm_start_info *)start_info_paddr;

	if (si == 0 || si->magic != HVM_START_MAGIC)
		return 0;
	/* A 32-bit guest with paging off can only reach the low 4 GiB. */
	if (si->cmdline_paddr == 0 || (uintptr_t)si->cmdline_paddr != si->cmdline_paddr)
		return 0;
	return (const char *)(uintptr_t)si->cmdline_paddr;
}

/* Does word (at cmdline + pos, at most max_len - pos bytes left) start with key "="? */
static int word_has_key(const char *cmdline, uint32_t pos, uint32_t max_len, const char *key)
{
	uint32_t i = 0;

	for (; key[i] != '\0'; i++) {
		if (pos + i >= max_len || cmdline[pos + i] != key[i])
			return 0;
	}
	return pos + i < max_len && cmdline[pos + i] == '=';
}

/* Parse decimal digits starting at cmdline + pos; stop at the first non-digit, the NUL or
   max_len. Saturate at cap while parsing, so 99999999999999999999 can never overflow. */
static int parse_uint(const char *cmdline, uint32_t pos, uint32_t max_len, uint32_t cap,
		      uint32_t *value)
{
	uint32_t v = 0;
	int digits = 0;

	for (; pos < max_len && cmdline[pos] >= '0' && cmdline[pos] <= '9'; pos++) {
		uint32_t d = (uint32_t)(cmdline[pos] - '0');

		if (d > cap || v > (cap - d) / 10u)
			v = cap; /* v * 10 + d would pass the cap (or overflow) */
		else
			v = v * 10u + d;
		digits++;
	}
	if (digits == 0)
		return 0;
	*value = v;
	return 1;
}

int cmdline_get_uint(const char *cmdline, uint32_t max_len, const char *key, uint32_t cap,
		     uint32_t *value)
{
	uint32_t keylen = 0;

	if (cmdline == 0)
		return 0;
	while (key[keylen] != '\0')
		keylen++;

	/* Walk word starts: position 0 and every position right after a space. */
	for (uint32_t pos = 0; pos < max_len && cmdline[pos] != '\0'; pos++) {
		if (pos > 0 && cmdline[pos - 1] != ' ')
			continue;
		if (word_has_key(cmdline, pos, max_len, key))
			return parse_uint(cmdline, pos + keylen + 1, max_len, cap, value);
	}
	return 0;
}
