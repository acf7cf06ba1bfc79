/*
 * portio.h - the x86 I/O-port instructions, one inline function each, for every guest.
 *
 * Concept: IN and OUT reach a second, separate address space of 65536 ports that only devices
 * live in. A guest's IN/OUT always leaves the guest (a VM exit) unless the hypervisor handles
 * the port in the kernel, which hv never does: each call below is exactly one exit on hv,
 * except the string forms, where KVM decides how many elements one exit carries (textbook
 * chapter 4, "Full virtualization": `rep insw` of a sector is 1 exit, `rep outsw` 256).
 *
 * `volatile` and the "memory" clobber stop the compiler from merging, dropping or moving them
 * across memory accesses, so the machine code makes exactly the accesses the source shows.
 * The same header serves 16-, 32- and 64-bit guests.
 */
#ifndef GUEST_PORTIO_H
#define GUEST_PORTIO_H

#include <stdint.h>

static inline void port_write8(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint8_t port_read8(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

static inline void port_write32(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint32_t port_read32(uint16_t port)
{
	uint32_t value;

	__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

/* `rep insw`: read `count` 16-bit words from the port into memory at buf, upwards (the ABI
   guarantees the direction flag is clear at every call). ONE instruction. */
static inline void port_read16_rep(uint16_t port, void *buf, uint32_t count)
{
	__asm__ volatile("rep insw" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}

/* `rep outsw`: the same instruction outwards. */
static inline void port_write16_rep(uint16_t port, const void *buf, uint32_t count)
{
	__asm__ volatile("rep outsw" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}

#endif
