/*
 * kvmstats.h - KVM's own per-vCPU statistics (the binary stats fd, KVM_GET_STATS_FD): how many
 * exits KVM handled in the kernel that hv never saw.
 * Textbook: chapter 3 "Exits", section "Exits hv never sees".
 */
#ifndef HV_KVMSTATS_H
#define HV_KVMSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "trace.h"

struct kvm_counters {
	uint64_t value[HVT_C_MAX + 1]; /* indexed by enum hvt_counter */
	bool present[HVT_C_MAX + 1];
};
int kvmstats_open(int vcpu_fd);
int kvmstats_read(int stats_fd, struct kvm_counters *out);

#endif
