# Makefile - builds hvlab: the VMM (build/hv), the guests (build/guest/) and the tests.
#
#   make            build everything
#   make deps       install missing Debian packages (as root) or print the apt-get line
#   make demo       deps + build + run the mode-switching guest with a trace, then its stats,
#                   then the diskio guest through the legacy and the virtio disk
#   make test       deps + build + every test (unit, then integration under KVM; on a host
#                   whose KVM cannot run ring 3 (PVM), the ring-3 tests again in the lab VM)
#   make labvm      boot the nested lab VM (QEMU + a Debian kernel with kvm_amd): a shell
#   make test-labvm run the ring-3 and interrupt tests inside it
#   make test SAN=1 the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      exit-cost benchmark: raw KVM_RUN loop vs hv vs hv with trace
#   make fuzz-trace, make fuzz-loader   libFuzzer on the trace reader / guest loader
#   make fuzz-virtio, make fuzz-ata     libFuzzer on the two disk controllers, driven as a hostile guest
#
# Host code is C11 with -Wall -Wextra -Werror. Guests are built by the same host gcc in
# freestanding mode (no cross compiler), see guest/guest.mk.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ihv -pthread
LDFLAGS += -pthread

# SAN=1: sanitizers. Objects go to a separate tree so the two builds never mix.
ifeq ($(SAN),1)
O       := build/san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
O       := build
endif

HV_SRCS   := $(wildcard hv/*.c hv/dev/*.c)
HV_OBJS   := $(HV_SRCS:%.c=$(O)/obj/%.o)
# Everything but main(): linked into the unit tests too.
HV_LIB    := $(filter-out $(O)/obj/hv/main.o,$(HV_OBJS))

UNIT_SRCS := $(wildcard tests/unit/*.c)
INTEG_SRCS:= $(wildcard tests/integration/*.c)
BENCH_SRCS:= $(wildcard bench/*.c)

.PHONY: all deps demo test unit integration bench clean
all: $(O)/hv guests

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/hv: $(HV_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

include guest/guest.mk
# libFuzzer targets (not part of make test): make fuzz-trace
include tests/fuzz/fuzz.mk

# ---- tests (Criterion: see README "Why Criterion") ----
$(O)/tests/unit: $(UNIT_SRCS:%.c=$(O)/obj/%.o) $(HV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion

$(O)/tests/integration: $(INTEG_SRCS:%.c=$(O)/obj/%.o) $(HV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion

$(O)/bench/exitbench: $(BENCH_SRCS:%.c=$(O)/obj/%.o) $(HV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

# Criterion runs tests in parallel worker processes; -j1 keeps KVM tests from competing for
# the two cores of a CI machine, and --verbose names each test and every skip reason.
CRITERION_FLAGS ?= -j1 --verbose=0

unit: $(O)/tests/unit
	$(O)/tests/unit $(CRITERION_FLAGS)

integration: $(O)/tests/integration $(O)/hv guests
	HV=$(O)/hv GUESTDIR=build/guest $(O)/tests/integration $(CRITERION_FLAGS)

# The tests that need VT-x/AMD-V: ring-3 tasks and interrupts through a protected-mode IDT
# (suite ring3, and the legacy disk in interrupt mode). On a host whose KVM cannot run them
# (PVM: `hv doctor` says "ring 3 and IDT interrupts no") they skip themselves with a reason in
# `make integration`, and `make test` then runs them in the nested lab VM (tests/labvm/).
LABVM_TESTS := @(ring3/*|disk/legacy_interrupt*)

test: deps
	$(MAKE) --no-print-directory all $(O)/tests/unit $(O)/tests/integration
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration
	@if $(O)/hv doctor --json | grep -q '"ring3_idt_interrupts":"no"'; then \
	  echo "== this host's KVM cannot run ring 3 or IDT interrupts: running those tests in the lab VM =="; \
	  $(MAKE) --no-print-directory test-labvm LABVM_FILTER='$(LABVM_TESTS)'; \
	else \
	  echo "== ring-3 and interrupt tests ran above, on this host's KVM (no lab VM needed) =="; \
	fi

demo: deps
	$(MAKE) --no-print-directory all
	@echo "== hv doctor =="
	@$(O)/hv doctor || true
	@echo "== hv run --trace build/demo.hvt build/guest/modeswitch.bin =="
	$(O)/hv run --trace build/demo.hvt build/guest/modeswitch.bin
	@echo "== hv trace stats build/demo.hvt =="
	$(O)/hv trace stats build/demo.hvt
	@echo "== the same disk workload through both I/O paths (textbook chapter 4) =="
	$(O)/hv run --disk-path legacy --trace build/demo-legacy.hvt build/guest/diskio.bin
	$(O)/hv run --disk-path virtio --trace build/demo-virtio.hvt build/guest/diskio.bin
	@echo "== exits per request: legacy ATA vs virtio-blk =="
	@$(O)/hv trace stats build/demo-legacy.hvt | sed -n '/^Disk I\/O/,/^$$/p'
	@$(O)/hv trace stats build/demo-virtio.hvt | sed -n '/^Disk I\/O/,/^$$/p'

bench: $(O)/bench/exitbench $(O)/hv guests
	$(O)/bench/exitbench build/guest/exits.bin

# ---- dependencies ----
# Debian packages the build and tests need (qemu-system-x86: the PVH boot test runs our guest
# ELFs on QEMU microvm too). `make deps` installs the missing ones when run as
# root, and otherwise prints the exact command to run.
DEB_PKGS := gcc make binutils libc6-dev libcriterion-dev coreutils qemu-system-x86
# The lab VM (tests/labvm/labvm.mk) also boots on qemu-system-x86, reads kernel modules with
# binutils' objcopy, and unpacks modules that newer Debian kernels ship compressed (.ko.xz,
# .ko.zst). Its kernel and busybox come with apt-get download, not from this list.
DEB_PKGS += xz-utils zstd

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; \
	else echo "deps: missing Debian packages; run: sudo apt-get install -y$$missing"; exit 1; fi; \
	echo "deps: installing$$missing"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing

clean:
	rm -rf build

# make labvm, make test-labvm: the nested lab VM where /dev/kvm is AMD-V (see that file)
include tests/labvm/labvm.mk

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
