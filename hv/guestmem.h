/*
 * guestmem.h - the one door into guest memory.
 *
 * Concept: the guest's "physical" RAM is ordinary host memory that hv mmap()ed and handed to
 * KVM (KVM_SET_USER_MEMORY_REGION). The CPU translates guest-physical addresses for the guest
 * itself; but when *hv* follows an address the guest gave it (a buffer, a descriptor), hv
 * must translate and check it by hand. A hostile guest will hand over addresses past the end
 * of RAM, or lengths that wrap around 2^64. So there is exactly one function that turns a
 * guest-physical range into a host pointer, and it checks the whole range, overflow-safe.
 * Nothing else in hv computes a host pointer from a guest address.
 * Textbook: chapter 2 "A VM from the inside", section "Guest RAM is host memory".
 */
#ifndef HV_GUESTMEM_H
#define HV_GUESTMEM_H

#include <stdint.h>

#define GM_MAX_SLOTS 4

/* One block of guest RAM: guest-physical [gpa, gpa + size) is host [host, host + size). */
struct gm_slot {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct gm_slot slots[GM_MAX_SLOTS];
	int nslots;
};

/*
 * The checked accessor. Returns a host pointer to guest-physical [gpa, gpa + len) if the whole
 * range lies inside one RAM slot (that has host memory behind it), else NULL. len = 0 is refused (NULL) so callers never get a
 * pointer they cannot use. Never computes gpa + len without checking for overflow first.
 */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/*
 * 1 if guest-physical [gpa, gpa + len) lies inside one RAM slot, else 0 (len = 0: 0). Unlike
 * gm_ptr it needs no memory behind the slot: hv checks a guest image against the RAM *size*
 * before any RAM exists (loader_check).
 */
int gm_holds(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers built on gm_ptr. Return 0, or -1 if the range is not all RAM. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);

#endif
