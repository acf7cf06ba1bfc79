# Makefile - builds hvlab: the VMM (build/hv), the visualizer (build/hvviz), the guests
# (build/guest/) and the tests.
#
#   make            build everything
#   make deps       install missing Debian packages (as root) or print the apt-get line
#   make demo       deps + build + run the mode-switching guest with a trace, then its stats,
#                   then the diskio guest through the legacy and the virtio disk, and last
#                   hvviz comparing the two (on a terminal; otherwise its screen as text)
#   make test       deps + build + every test, once each: unit tests here; integration tests
#                   here, except those this host's KVM cannot run (none: all that need KVM;
#                   PVM: ring 3), which run in the lab VM. Ends with `N passed, N failed, N skipped`
#   make labvm      boot the nested lab VM (QEMU + a Debian kernel with kvm_amd): a shell
#   make linux      an interactive Debian Linux shell on hv (tests/linux/linux.mk)
#   make labvm-run CMD='...'   one command in the lab VM, on the shared repository
#   make test-labvm run the tests that need KVM inside it
#   make test SAN=1 the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   make gdb GUEST=build/guest/NAME.elf   hv run --gdb with the guest held, where KVM can run it
#                   (this host, or the lab VM with the port forwarded here), then gdb on it
#   make bench      exit-cost benchmark: raw KVM_RUN loop vs hv vs hv with trace; and hvviz
#                   opening a generated 10-million-event trace (time and memory)
#   make kvm-on-host    the kvm modules, /dev/kvm and every KVM ioctl of one hv run (strace)
#   make vm-vs-process  start cost and isolation: a process, namespaces, a JVM, a hv VM
#   make vcpu-threads   a running VM seen from the host: its vCPU thread, pinned with taskset
#   make golden-update  re-render hvviz's golden screens after an intended change
#   make fuzz-trace, make fuzz-loader   libFuzzer on the trace reader / guest loader
#   make fuzz-virtio, make fuzz-ata     libFuzzer on the two disk controllers, driven as a hostile guest
#   make fuzz-viz   libFuzzer on hvviz: damaged traces through the model and every view
#   make fuzz-gdb   libFuzzer on the gdb stub's protocol (hv/gdbstub.c) against a fake target
#   make grade LAB=N, make lab-starter LAB=N OUT=DIR, make lab-autograder LAB=N, make test-labs
#                   the labs: grading, a student copy, the Gradescope zip (labs/labs.mk)
#
# Host code is C11 with -Wall -Wextra -Werror. Guests are built by the same host gcc in
# freestanding mode (no cross compiler), see guest/guest.mk.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ihv -Iviz -pthread
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
# The trace code a reader needs (hv/trace.h: the format): checking and decoding a file, the
# names of its numbers, and the dump line hvviz's timeline shows. No writer, no VMM: hvviz,
# vizbench and the fuzzers link this, not HV_LIB. TRACE_WRITE_LIB adds the writer for
# programs that make traces (vizbench generates its 10-million-event one).
TRACE_LIB := $(addprefix $(O)/obj/hv/,trace_read.o trace_names.o trace_dump.o)
TRACE_WRITE_LIB := $(O)/obj/hv/trace_write.o

# hvviz, the visualizer (viz/): its trace model and views, linked with hv's trace reader
# (TRACE_LIB) and nothing else of hv's: `nm build/hvviz | grep vm_build` finds nothing.
# Plain ncurses (no wide characters): every screen is ASCII, so golden screens compare as text.
VIZ_SRCS  := $(wildcard viz/*.c)
VIZ_OBJS  := $(VIZ_SRCS:%.c=$(O)/obj/%.o)
VIZ_LIB   := $(filter-out $(O)/obj/viz/main.o,$(VIZ_OBJS))
CURSES_LIBS := -lncurses -ltinfo

UNIT_SRCS := $(wildcard tests/unit/*.c)
# The labs' hidden tests (labs/NN-name/hidden/*.c, suites hidden1..hidden5) are integration tests
# of the project like any other; a student copy (make lab-starter) leaves them out.
INTEG_SRCS:= $(wildcard tests/integration/*.c labs/*/hidden/*.c)

.PHONY: all deps demo test unit integration bench clean golden-update gdb
all: $(O)/hv $(O)/hvviz guests

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/hv: $(HV_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

$(O)/hvviz: $(VIZ_OBJS) $(TRACE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CURSES_LIBS)

include guest/guest.mk
# libFuzzer targets (not part of make test): make fuzz-trace
include tests/fuzz/fuzz.mk

# ---- tests (Criterion: see README "Why Criterion") ----
$(O)/tests/unit: $(UNIT_SRCS:%.c=$(O)/obj/%.o) $(VIZ_LIB) $(HV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(CURSES_LIBS)

$(O)/tests/integration: $(INTEG_SRCS:%.c=$(O)/obj/%.o) $(HV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion

# One program per bench/*.c: exitbench (what an exit costs) and vizbench (hvviz on a
# 10-million-event trace, generated once into build/bench/10m.hvt, 640 MB).
$(O)/bench/exitbench: $(O)/obj/bench/exitbench.o $(O)/obj/bench/spawn.o $(HV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(O)/bench/vizbench: $(O)/obj/bench/vizbench.o $(VIZ_LIB) $(TRACE_LIB) $(TRACE_WRITE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CURSES_LIBS)

# Criterion runs tests in parallel worker processes; -j1 keeps KVM tests from competing for
# the two cores of a CI machine, and --verbose names each test and every skip reason.
CRITERION_FLAGS ?= -j1 --verbose=0

unit: $(O)/tests/unit
	$(O)/tests/unit $(CRITERION_FLAGS)

# Every integration test on this host (those that need a KVM it lacks skip, saying why).
integration: $(O)/tests/integration $(O)/hv $(O)/hvviz $(O)/bench/exitbench guests
	$(INTEG_ENV) $(O)/tests/integration $(CRITERION_FLAGS)

# Where each integration test runs (tests/run-tests.sh): KVM_TESTS start a guest and need KVM;
# RING3_TESTS need ring 3 or interrupts through a protected-mode IDT (VT-x/AMD-V). A host whose
# KVM cannot run them sends them to the nested lab VM (tests/labvm/); every other test runs here.
KVM_TESTS   := @(clirun|guests|disk|os|ring3|vizlive|bench|gdb|gdbring3|linux|hidden+([0-9]))/*
RING3_TESTS := @(ring3/*|gdbring3/*|disk/legacy_interrupt*|linux/*)
# What the integration tests are told: the programs under test and the guests.
INTEG_ENV   := HV=$(O)/hv HVVIZ=$(O)/hvviz GUESTDIR=build/guest EXITBENCH=$(O)/bench/exitbench \
	       LINUX_KERNEL=build/labvm/kernel/vmlinuz LINUX_INITRD=build/linux/initramfs.cpio
export KVM_TESTS RING3_TESTS INTEG_ENV

# Unit tests here; integration tests here and, for those this host's KVM cannot run, in the lab
# VM; one closing line `N passed, N failed, N skipped` for all of them. First, every path and
# textbook section that a comment or a chapter names must exist (tests/check-refs.sh), and the
# glossary must be complete and linked (tests/check-glossary.sh). The lab
# VM is built on every host: suite labvm (tests/integration/test_labvm.c) boots it here,
# whatever the KVM. The last row is the labs' tools on every lab (make test-labs).
test: deps
	$(MAKE) --no-print-directory all $(O)/tests/unit $(O)/tests/integration $(O)/bench/exitbench \
	  labvm-initramfs linux-initramfs
	@bash tests/check-refs.sh
	@bash tests/check-glossary.sh --self-test
	@bash tests/check-glossary.sh
	@bash tests/run-tests.sh $(O)

# golden-update: re-render hvviz's golden screens (tests/viz/golden/) after an intended change
# to a view; read `git diff tests/viz/golden` before committing it.
golden-update: $(O)/tests/integration $(O)/hvviz
	HVVIZ_UPDATE_GOLDEN=1 HV=$(O)/hv HVVIZ=$(O)/hvviz GUESTDIR=build/guest \
	  $(O)/tests/integration $(CRITERION_FLAGS) --filter='golden/*'

# The hv runs go through tests/labvm/onkvm.sh: on this host when its KVM can run them, in the lab
# VM otherwise (one line says so). Their traces land in build/ either way; the rest runs here.
DEMO_RUNS := echo '== hv run --trace build/demo.hvt build/guest/modeswitch.bin =='; \
	$(O)/hv run --trace build/demo.hvt build/guest/modeswitch.bin && \
	echo '== the same disk workload through both I/O paths (textbook chapter 4) ==' && \
	$(O)/hv run --disk-path legacy --trace build/demo-legacy.hvt build/guest/diskio.bin && \
	$(O)/hv run --disk-path virtio --trace build/demo-virtio.hvt build/guest/diskio.bin

# make gdb GUEST=build/guest/NAME.elf [HV_ARGS='--cmdline os.run=hello'] [GDB_PORT=1234]: like
# xv6's `make qemu-gdb`, but one command: hv run --gdb holds the guest, on this host or in the lab
# VM (tests/labvm/onkvm.sh decides; the mini OS needs ring 3), and gdb starts on it with the
# guest's script, build/gdb/NAME.gdb (symbols, architecture, target remote). tests/labvm/gdb.sh.
GDB_PORT ?= 1234
gdb: all
	$(if $(strip $(GUEST)),@true,@{ echo "gdb: make gdb needs a guest: make gdb GUEST=build/guest/hello64.elf" >&2; exit 2; })
	@O=$(O) GDB_PORT='$(GDB_PORT)' HV_ARGS='$(HV_ARGS)' bash tests/labvm/gdb.sh '$(GUEST)'

demo: deps
	$(MAKE) --no-print-directory all
	@echo "== hv doctor =="
	@$(O)/hv doctor || true
	@O=$(O) sh tests/labvm/onkvm.sh kvm "$(DEMO_RUNS)" "the three hv runs"
	@echo "== hv trace stats build/demo.hvt =="
	$(O)/hv trace stats build/demo.hvt
	@echo "== exits per request: legacy ATA vs virtio-blk =="
	@$(O)/hv trace stats build/demo-legacy.hvt | sed -n '/^Disk I\/O/,/^$$/p'
	@$(O)/hv trace stats build/demo-virtio.hvt | sed -n '/^Disk I\/O/,/^$$/p'
	@# The last step is the visualizer, when there is a person at a terminal to look at it.
	@if [ -t 0 ] && [ -t 1 ]; then \
	  echo "== hvviz --compare: the two paths request by request (? for keys, q to quit) =="; \
	  sleep 2; $(O)/hvviz --compare build/demo-legacy.hvt build/demo-virtio.hvt; \
	else \
	  echo "== not a terminal, so hvviz prints its Compare screen after the last request as text =="; \
	  $(O)/hvviz --screen 100x32 --keys End --compare build/demo-legacy.hvt build/demo-virtio.hvt; \
	  echo "== on a terminal: $(O)/hvviz --compare build/demo-legacy.hvt build/demo-virtio.hvt =="; \
	fi

# exitbench needs KVM: here, or in the lab VM (where its absolute times are nested-TCG times
# and only its ratios mean something; it says so). vizbench needs none.
bench: $(O)/bench/exitbench $(O)/bench/vizbench $(O)/hv guests
	@O=$(O) sh tests/labvm/onkvm.sh kvm "$(O)/bench/exitbench build/guest/exits.bin" exitbench
	$(O)/bench/vizbench build/bench/10m.hvt

# ---- dependencies ----
# Debian packages the build and tests need (qemu-system-x86: the PVH boot test runs our guest
# ELFs on QEMU microvm too). `make deps` installs the missing ones when run as
# root, and otherwise prints the exact command to run.
DEB_PKGS := gcc make binutils libc6-dev libcriterion-dev coreutils qemu-system-x86
# hvviz: ncurses to draw, its terminfo database, and tmux for the test that drives hvviz in a
# real terminal.
DEB_PKGS += libncurses-dev ncurses-base tmux
# The lab VM (tests/labvm/labvm.mk) also boots on qemu-system-x86, reads kernel modules with
# binutils' objcopy, and unpacks modules that newer Debian kernels ship compressed (.ko.xz,
# .ko.zst). Its kernel and busybox come with apt-get download, not from this list.
DEB_PKGS += xz-utils zstd
# make fuzz-*: clang with its libFuzzer and sanitizer runtimes (tests/fuzz/fuzz.mk).
DEB_PKGS += clang libclang-rt-14-dev
# The labs (labs/labs.mk): make lab-autograder packs the Gradescope zip, make test-labs unpacks it.
DEB_PKGS += zip unzip
# Textbook chapter 9: textbook/tools/kvm-on-host.sh lists hv's KVM ioctls with strace (and its test).
# Chapter 10's JVM row needs a JDK (java and javac); it is not installed here, being large: the
# row says so when there is none.
DEB_PKGS += strace
# Chapter 10: textbook/tools/vcpu-threads.sh lists hv's threads with ps (procps; not in a minimal Debian
# image). unshare and taskset come with util-linux, which every Debian system has.
DEB_PKGS += procps
# hv run --gdb: the real gdb, for make gdb (tests/labvm/gdb.sh) and the suites gdb, gdbring3 and
# labvm (tests/integration/test_gdb.c, test_labvm.c); tracecli stops hv and hvviz with it to cut
# a trace at the right moment (tests/integration/test_tracecli.c).
DEB_PKGS += gdb

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

# Textbook chapters 9 and 10: the host's side of a VM, shown with the host's own tools
# (tools/*.sh; each says what it shows). They need a usable /dev/kvm on this host.
.PHONY: kvm-on-host vm-vs-process vcpu-threads
# They need KVM, so they go through tests/labvm/onkvm.sh: on this host when its KVM can run
# them, in the lab VM otherwise (where the table's times are nested-emulation times).
kvm-on-host: $(O)/hv guests
	@O=$(O) sh tests/labvm/onkvm.sh kvm "HV=$(O)/hv sh textbook/tools/kvm-on-host.sh" kvm-on-host
vm-vs-process: $(O)/hv guests
	@O=$(O) sh tests/labvm/onkvm.sh kvm "HV=$(O)/hv sh textbook/tools/vm-vs-process.sh" vm-vs-process
vcpu-threads: $(O)/hv guests
	@O=$(O) sh tests/labvm/onkvm.sh kvm "HV=$(O)/hv sh textbook/tools/vcpu-threads.sh" vcpu-threads

# make labvm, make test-labvm: the nested lab VM where /dev/kvm is AMD-V (see that file)
include tests/labvm/labvm.mk
include tests/linux/linux.mk
# make grade, lab-starter, lab-autograder, test-labs: the labs (labs/)
include labs/labs.mk

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
