/*
 * kvmstats.c - read KVM's own per-vCPU counters through the binary statistics fd.
 *
 * Concept: not every VM exit reaches hv. Many are handled inside KVM (root mode, ring 0) and
 * the guest resumes without hv ever running: an external interrupt on the host, an instruction
 * KVM emulates itself, a HLT with an in-kernel interrupt controller, an ioeventfd doorbell.
 * hv cannot see those one by one, but KVM counts them. Since Linux 5.14 a vCPU file descriptor
 * can give a second fd (KVM_GET_STATS_FD) whose contents are a self-describing table:
 *
 *   header: flags, name_size, num_desc, id_offset, desc_offset, data_offset
 *   descriptors at desc_offset: {flags, exponent, size, offset, bucket_size, name[name_size]}
 *   values at data_offset + descriptor.offset: `size` 64-bit numbers
 *
 * hv reads the counters it knows (enum hvt_counter) at the start and end of a run and records
 * the difference, so a trace says honestly "KVM counted N exits; hv saw M of them".
 * Textbook: chapter 3 "Exits", section "Exits hv never sees".
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvmstats.h"

int kvmstats_open(int vcpu_fd)
{
#ifdef KVM_GET_STATS_FD
	return ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
#else
	(void)vcpu_fd;
	errno = ENOTSUP;
	return -1;
#endif
}

/* Which of our counters a KVM statistic name is, or 0. */
static int counter_for_name(const char *name)
{
	for (unsigned c = 1; c <= HVT_C_MAX; c++)
		if (strcmp(name, hvt_counter_name(c)) == 0)
			return (int)c;
	return 0;
}

int kvmstats_read(int stats_fd, struct kvm_counters *out)
{
	memset(out, 0, sizeof(*out));
#ifdef KVM_GET_STATS_FD
	struct kvm_stats_header hdr;
	if (stats_fd < 0 || pread(stats_fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return -1;
	/* The kernel tells us the descriptor size; bound it so a surprise cannot make us
	 * allocate without limit. */
	size_t desc_size = sizeof(struct kvm_stats_desc) + hdr.name_size;
	if (hdr.name_size < 1 || hdr.name_size > 4096 || hdr.num_desc > 4096)
		return -1;
	struct kvm_stats_desc *d = malloc(desc_size);
	if (!d)
		return -1;
	for (uint32_t i = 0; i < hdr.num_desc; i++) {
		off_t at = (off_t)hdr.desc_offset + (off_t)i * (off_t)desc_size;
		if (pread(stats_fd, d, desc_size, at) != (ssize_t)desc_size)
			break;
		d->name[hdr.name_size - 1] = '\0';
		int c = counter_for_name(d->name);
		uint64_t value;
		if (!c || d->size < 1 ||
		    pread(stats_fd, &value, sizeof(value), (off_t)hdr.data_offset + d->offset) !=
			    (ssize_t)sizeof(value))
			continue;
		out->value[c] = value;
		out->present[c] = true;
	}
	free(d);
	return 0;
#else
	(void)stats_fd;
	return -1;
#endif
}
