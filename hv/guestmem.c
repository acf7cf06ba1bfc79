/*
 * guestmem.c - the one checked translation from guest-physical address to host pointer.
 *
 * Concept: a guest-physical address is only a number the guest chose. Before hv dereferences
 * it, hv must prove that every byte of the range is guest RAM. The classic bug (and many real
 * CVEs) is `if (gpa + len <= size)`, which a guest defeats with a len that wraps gpa + len
 * around 2^64 to a small number. We compare in a form that cannot overflow.
 * Textbook: chapter 2, section "Guest RAM is host memory"; textbook appendix C, T5, Q6.
 */
#include "guestmem.h"

#include <string.h>

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return NULL;
	/*
	 * A range must lie in one slot. Two slots next to each other in guest-physical space are
	 * two separate host mappings, so no single host pointer can cover a range across both
	 * (appendix C, Q6: hv never splits a buffer). hv has one slot today (vm.c).
	 */
	for (int i = 0; i < gm->nslots; i++) {
		const struct gm_slot *s = &gm->slots[i];
		/*
		 * Inside the slot means: gpa >= s->gpa, and the offset plus the length fits in the
		 * slot. Written as "len <= size - off" both subtractions are safe because we have
		 * already checked off < size, so no sum is ever formed.
		 */
		if (gpa < s->gpa)
			continue;
		uint64_t off = gpa - s->gpa;
		if (off >= s->size || len > s->size - off)
			continue;
		/* A slot without host memory is a map of sizes only (loader_check): no pointer. */
		return s->host ? s->host + off : NULL;
	}
	return NULL;
}

int gm_holds(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; len && i < gm->nslots; i++) {
		const struct gm_slot *s = &gm->slots[i];
		/* The same overflow-safe test as gm_ptr: no gpa + len is ever formed. */
		if (gpa >= s->gpa && gpa - s->gpa < s->size && len <= s->size - (gpa - s->gpa))
			return 1;
	}
	return 0;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	/*
	 * The copy is the point: guest RAM can change under hv at any moment (another vCPU, or
	 * the guest itself while the I/O thread works). A structure checked in guest RAM and then
	 * read again there may no longer be the one checked; read it once into dst and check the
	 * copy (appendix C, Q11: the value read twice).
	 */
	const void *src = gm_ptr(gm, gpa, len);
	if (!src)
		return -1;
	memcpy(dst, src, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = gm_ptr(gm, gpa, len);
	if (!dst)
		return -1;
	memcpy(dst, src, len);
	return 0;
}
