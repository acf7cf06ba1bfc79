/*
 * cmdline.c - parse "key=value" words out of the PVH boot command line.
 *
 * Concept: a guest kernel's first parser of untrusted input. The command line comes from the
 * host, but it sits in guest memory the guest did not check yet: it may lack a NUL, hold
 * garbage or overflow a number. Every read here is bounded (HV_CMDLINE_MAX) and every number
 * is capped, the same discipline hv applies to what the guest hands it.
 *
 * It also parses "virtio_mmio.device=<size>@<base>:<irq>", the way a host tells a guest where
 * an MMIO device is when the guest has no bus to probe (no PCI, no device tree): the parser is
 * strict, because a wrong base would send the driver poking at an address that is not the
 * device. Textbook: chapter 4 "Two I/O paths", section "virtio-mmio: finding the device".
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

/* The length of the word's value starting at cmdline + pos: up to a space, the NUL or max_len. */
static uint32_t value_len(const char *cmdline, uint32_t pos, uint32_t max_len)
{
	uint32_t len = 0;

	while (pos + len < max_len && cmdline[pos + len] != '\0' && cmdline[pos + len] != ' ')
		len++;
	return len;
}

int cmdline_get_nth(const char *cmdline, uint32_t max_len, const char *key, uint32_t n,
		    const char **value, uint32_t *len)
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
		if (!word_has_key(cmdline, pos, max_len, key))
			continue;
		if (n-- > 0)
			continue; /* an earlier occurrence: keep looking for the n-th */
		*value = cmdline + pos + keylen + 1;
		*len = value_len(cmdline, pos + keylen + 1, max_len);
		return 1;
	}
	return 0;
}

int cmdline_get_uint(const char *cmdline, uint32_t max_len, const char *key, uint32_t cap,
		     uint32_t *value)
{
	const char *v;
	uint32_t len;

	if (!cmdline_get_nth(cmdline, max_len, key, 0, &v, &len))
		return 0;
	/* The value ends at len: parse_uint stops at the first non-digit anyway. */
	return parse_uint(v, 0, len, cap, value);
}

int cmdline_value_is(const char *value, uint32_t len, const char *s)
{
	uint32_t i = 0;

	for (; i < len; i++) {
		if (s[i] == '\0' || s[i] != value[i])
			return 0;
	}
	return s[i] == '\0';
}

/*
 * A strict number parser for the virtio_mmio.device= fields. It reads value[*pos...len) and
 * advances *pos past the number. Accepted: decimal ("512"), or hex after "0x"/"0X"
 * ("0xd0001000"). Rejected (return 0): no digits, a leading zero before more decimal digits
 * (Linux would read "0100" as octal; we refuse rather than guess), and anything above
 * 0xFFFFFFFF (checked before each multiply, so it can never wrap).
 */
static int parse_num32(const char *value, uint32_t len, uint32_t *pos, uint32_t *out)
{
	uint32_t i = *pos, base = 10, v = 0, digits = 0;

	if (i + 1 < len && value[i] == '0' && (value[i + 1] == 'x' || value[i + 1] == 'X')) {
		base = 16;
		i += 2;
	} else if (i + 1 < len && value[i] == '0' && value[i + 1] >= '0' && value[i + 1] <= '9') {
		return 0;
	}
	for (; i < len; i++, digits++) {
		char c = value[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			break;
		if (v > (0xFFFFFFFFu - d) / base)
			return 0; /* v * base + d would not fit in 32 bits */
		v = v * base + d;
	}
	if (digits == 0)
		return 0;
	*pos = i;
	*out = v;
	return 1;
}

/* Linux's memparse suffixes: K, M, G multiply by 2^10, 2^20, 2^30. Overflow is rejected. */
static int parse_suffix(const char *value, uint32_t len, uint32_t *pos, uint32_t *v)
{
	uint32_t shift = 0;

	if (*pos < len) {
		char c = value[*pos];

		if (c == 'K' || c == 'k')
			shift = 10;
		else if (c == 'M' || c == 'm')
			shift = 20;
		else if (c == 'G' || c == 'g')
			shift = 30;
	}
	if (shift == 0)
		return 1;
	if (*v > (0xFFFFFFFFu >> shift))
		return 0;
	*v <<= shift;
	(*pos)++;
	return 1;
}

/* Expect the single character c at value[*pos] and step over it. */
static int expect_char(const char *value, uint32_t len, uint32_t *pos, char c)
{
	if (*pos >= len || value[*pos] != c)
		return 0;
	(*pos)++;
	return 1;
}

/* "<size>@<base>:<irq>[:<id>]" exactly, nothing left over. */
static int parse_mmio_dev(const char *value, uint32_t len, struct cmdline_mmio_dev *dev)
{
	uint32_t pos = 0, id;

	if (!parse_num32(value, len, &pos, &dev->size) || !parse_suffix(value, len, &pos, &dev->size))
		return 0;
	if (!expect_char(value, len, &pos, '@'))
		return 0;
	if (!parse_num32(value, len, &pos, &dev->base) || !parse_suffix(value, len, &pos, &dev->base))
		return 0;
	if (!expect_char(value, len, &pos, ':') || !parse_num32(value, len, &pos, &dev->irq))
		return 0;
	if (pos < len && (!expect_char(value, len, &pos, ':') || !parse_num32(value, len, &pos, &id)))
		return 0;
	return pos == len; /* "512@0xd0001000:5x" is garbage, not device 5 */
}

int cmdline_virtio_mmio(const char *cmdline, uint32_t max_len, uint32_t n,
			struct cmdline_mmio_dev *dev)
{
	const char *v;
	uint32_t len;

	if (!cmdline_get_nth(cmdline, max_len, "virtio_mmio.device", n, &v, &len))
		return 0;
	if (!parse_mmio_dev(v, len, dev))
		return -1;
	/* Sanity of the window itself: registers are 32-bit, so the base must be 4-byte
	   aligned; address 0 is RAM (the interrupt vector table) on every PC; and the whole
	   window must lie below 4 GiB, all a 32-bit guest with paging off can address. */
	if (dev->size == 0 || dev->base == 0 || (dev->base & 3u) != 0 ||
	    dev->base > 0xFFFFFFFFu - (dev->size - 1u))
		return -1;
	return 1;
}
