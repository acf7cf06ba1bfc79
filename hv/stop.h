/*
 * stop.h - how a run ends: a request, never an action.
 *
 * Concept: the guest is never stopped halfway through an exit. Whoever wants the run to end
 * (a device such as the exit port, the exit loop after a fatal exit, a kick from --timeout or
 * Ctrl-C) only files a request in struct vm_stop (hv/dev/exitdev.h); the exit loop (vcpu.c)
 * looks at it before every KVM_RUN and simply does not enter the guest again. The first request
 * wins: a later one never hides what really ended the run. Textbook: chapter 3 "Exits",
 * section "From exit to device".
 */
#ifndef HV_STOP_H
#define HV_STOP_H

struct vm_stop;

/* File a stop request with hv's exit status and a reason (a string that outlives the run, or
 * NULL). Ignored if one was filed already. The one place that decides "first request wins";
 * vm_stop_with (vm.h) is the same for those that hold a struct vm and a formatted reason. */
void vm_stop_request(struct vm_stop *stop, int status, const char *why);

#endif
