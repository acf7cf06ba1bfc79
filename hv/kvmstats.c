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
#include "trace_names.h"
#include "vm.h"

/*
 * The ioctl number comes from the build host's <linux/kvm.h>: headers older than 5.14 lack it,
 * and hv then builds anyway and runs without KVM's counters. On an older running kernel the
 * ioctl itself fails, with the same result. The fd it returns is a read-only file of its own;
 * everything below uses pread, so its file position never matters.
 */
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

/* By name, never by position: the set and order of statistics differ between kernel versions
 * and architectures, and the name is the only key KVM keeps stable. */
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
	/* The header and the descriptors stay the same for the life of the fd; only the data
	 * area changes. hv reads both each time: twice per run, not worth a cache. */
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
		/* name_size includes the NUL and KVM pads names with zeros; forcing the last byte
		 * anyway means a malformed table can never make strcmp run off the buffer. */
		d->name[hdr.name_size - 1] = '\0';
		int c = counter_for_name(d->name);
		uint64_t value;
		/*
		 * size is the number of u64 values: more than one for a histogram (halt polling
		 * times, for instance). Every counter hv knows is a single cumulative count, so the
		 * first value is all there is. A failed descriptor read stops the loop (the table
		 * is not what the header says); a failed value read only skips that counter.
		 */
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
