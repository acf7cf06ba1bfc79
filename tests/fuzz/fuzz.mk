# fuzz.mk - fuzz targets (libFuzzer + AddressSanitizer + UBSan). Not part of `make test`.
#
#   make -f tests/fuzz/fuzz.mk fuzz-trace              build, then fuzz trace_parse for 30 s
#   make -f tests/fuzz/fuzz.mk fuzz-trace FUZZ_SECONDS=600
#   make -f tests/fuzz/fuzz.mk fuzz-trace-corpus       regenerate the seed traces
#   make fuzz-loader                                   fuzz the guest loader (seeds: build/guest)
#   make fuzz-virtio, make fuzz-ata                    fuzz the two disk controllers as a hostile
#                                                      guest would drive them (60 s: FUZZ_SECONDS=60)
#   make fuzz-dev-corpus                               regenerate their seeds (gen_dev_corpus.c)
#   make fuzz-tracepage                                fuzz the trace page as a hostile guest kernel
#   make fuzz-gdb                                      fuzz the gdb stub's protocol (hv/gdbstub.c)
#                                                      against a fake target (seeds: corpus/gdb)
#   make fuzz-viz                                      fuzz hvviz: its trace model, live refresh and
#                                                      every view drawn headless (seeds: the real
#                                                      traces of tests/viz/traces, fuzz-viz-corpus)
#
# Can also be included from the top-level Makefile (`include tests/fuzz/fuzz.mk`): every
# variable here has a FUZZ_ prefix so nothing clashes. Needs clang and its libFuzzer runtime
# (Debian: clang-14 libclang-rt-14-dev).
#
# The fuzzer writes the new inputs it finds into build/fuzz/corpus-trace, never into the seed
# directory tests/fuzz/corpus/trace (which it only reads), and crash inputs into build/fuzz/.

FUZZ_CC      ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null) clang)
FUZZ_CFLAGS  ?= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ihv -g -O1 \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 30
FUZZ_OUT     := build/fuzz
# The trace code by module (hv/trace.h): the reader with the names and the dump line it prints,
# the printers of `hv trace`, and the writer (for the programs that make traces).
FUZZ_TRACE_READ  := hv/trace_read.c hv/trace_names.c hv/trace_dump.c
FUZZ_TRACE_HDRS  := hv/trace.h hv/trace_read.h hv/trace_names.h hv/trace_dump.h
FUZZ_TRACE_SRCS := tests/fuzz/fuzz_trace.c $(FUZZ_TRACE_READ) hv/trace_stats.c

.PHONY: fuzz-trace fuzz-trace-corpus

$(FUZZ_OUT)/fuzz_trace: $(FUZZ_TRACE_SRCS) $(FUZZ_TRACE_HDRS) hv/trace_stats.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_TRACE_SRCS)

fuzz-trace: $(FUZZ_OUT)/fuzz_trace
	@mkdir -p $(FUZZ_OUT)/corpus-trace
	$(FUZZ_OUT)/fuzz_trace -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus-trace tests/fuzz/corpus/trace

# The seeds are made by the real writer, so they always match the current format.
FUZZ_GEN_TRACE_SRCS := tests/fuzz/gen_trace_corpus.c hv/trace_write.c hv/trace_read.c
$(FUZZ_OUT)/gen_trace_corpus: $(FUZZ_GEN_TRACE_SRCS) hv/trace.h hv/trace_write.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ihv -pthread -o $@ \
	  $(FUZZ_GEN_TRACE_SRCS)

fuzz-trace-corpus: $(FUZZ_OUT)/gen_trace_corpus
	@mkdir -p tests/fuzz/corpus/trace
	$(FUZZ_OUT)/gen_trace_corpus tests/fuzz/corpus/trace

# ---- the guest loader (raw binaries, ELF32/ELF64, PVH notes, Linux bzImages) ----
FUZZ_LOADER_SRCS := tests/fuzz/fuzz_loader.c hv/loader.c hv/guestmem.c hv/linuxboot.c hv/acpi.c

.PHONY: fuzz-loader
$(FUZZ_OUT)/fuzz_loader: $(FUZZ_LOADER_SRCS) hv/loader.h hv/guestmem.h hv/linuxboot.h hv/acpi.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_LOADER_SRCS)

# Seeds: the real guests, so the fuzzer starts from valid ELF and raw files.
fuzz-loader: $(FUZZ_OUT)/fuzz_loader guests
	@mkdir -p $(FUZZ_OUT)/corpus-loader
	$(FUZZ_OUT)/fuzz_loader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus-loader build/guest

# ---- the two disk controllers (textbook appendix C, sections C.1-C.4) ----
# A guest program of register accesses, doorbells and RAM rewrites against virtio-blk, and of
# port accesses against the ATA drive, each on a 64-sector temporary image (unlinked at once).
# Seeds: tests/fuzz/corpus/{virtio,ata}, made by gen_dev_corpus.c (make fuzz-dev-corpus).
FUZZ_DISK_SRCS   := hv/disk.c hv/trace_write.c $(FUZZ_TRACE_READ)
FUZZ_VIRTIO_SRCS := tests/fuzz/fuzz_virtio.c hv/dev/virtio_mmio.c hv/dev/virtio_blk.c \
                    hv/dev/virtq.c hv/guestmem.c $(FUZZ_DISK_SRCS)
FUZZ_ATA_SRCS    := tests/fuzz/fuzz_ata.c hv/dev/ata.c $(FUZZ_DISK_SRCS)

.PHONY: fuzz-virtio fuzz-ata fuzz-dev-corpus

$(FUZZ_OUT)/fuzz_virtio: $(FUZZ_VIRTIO_SRCS) tests/fuzz/fuzz_image.h hv/dev/virtio_mmio.h hv/dev/virtio_blk.h hv/dev/virtq.h hv/disk.h hv/guestmem.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -pthread -o $@ $(FUZZ_VIRTIO_SRCS)

$(FUZZ_OUT)/fuzz_ata: $(FUZZ_ATA_SRCS) tests/fuzz/fuzz_image.h hv/dev/ata.h hv/disk.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -pthread -o $@ $(FUZZ_ATA_SRCS)

# max_len: 1 flag byte + 2 KiB of guest RAM + a few hundred steps.
fuzz-virtio: $(FUZZ_OUT)/fuzz_virtio
	@mkdir -p $(FUZZ_OUT)/corpus-virtio
	$(FUZZ_OUT)/fuzz_virtio -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -artifact_prefix=$(FUZZ_OUT)/virtio- $(FUZZ_OUT)/corpus-virtio tests/fuzz/corpus/virtio

fuzz-ata: $(FUZZ_OUT)/fuzz_ata
	@mkdir -p $(FUZZ_OUT)/corpus-ata
	$(FUZZ_OUT)/fuzz_ata -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -artifact_prefix=$(FUZZ_OUT)/ata- $(FUZZ_OUT)/corpus-ata tests/fuzz/corpus/ata

$(FUZZ_OUT)/gen_dev_corpus: tests/fuzz/gen_dev_corpus.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ tests/fuzz/gen_dev_corpus.c

fuzz-dev-corpus: $(FUZZ_OUT)/gen_dev_corpus
	@mkdir -p tests/fuzz/corpus/virtio tests/fuzz/corpus/ata
	$(FUZZ_OUT)/gen_dev_corpus tests/fuzz/corpus/virtio tests/fuzz/corpus/ata

# ---- the para-virtual trace page (hv/tracepage.c, rows P1-P4; textbook chapter 5) ----
FUZZ_TRACEPAGE_SRCS := tests/fuzz/fuzz_tracepage.c hv/tracepage.c hv/trace_write.c hv/trace_read.c \
                       hv/guestmem.c

.PHONY: fuzz-tracepage
$(FUZZ_OUT)/fuzz_tracepage: $(FUZZ_TRACEPAGE_SRCS) hv/tracepage.h hv/pvtrace.h hv/trace.h hv/trace_write.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_TRACEPAGE_SRCS)

fuzz-tracepage: $(FUZZ_OUT)/fuzz_tracepage
	@mkdir -p $(FUZZ_OUT)/corpus-tracepage
	$(FUZZ_OUT)/fuzz_tracepage -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus-tracepage

# ---- hvviz: the trace model, live refresh, and every view on a headless ncurses screen ----
# Every viz/*.c but main.c, and the hv pieces they use: the reader, names and dump line, the
# same TRACE_LIB hvviz itself links (Makefile). The seeds
# are real traces: tests/viz/traces plus a cut of the big legacy one (fuzz-viz-corpus), so
# the fuzzer starts from files with real request and virtqueue structure. fuzz_viz.c repairs
# seq/kind/reason/mode of every record (see its comment), so mutations reach the views.
FUZZ_VIZ_SRCS := tests/fuzz/fuzz_viz.c $(filter-out viz/main.c,$(wildcard viz/*.c)) \
                 $(FUZZ_TRACE_READ)
FUZZ_VIZ_SEEDS := $(FUZZ_OUT)/seeds-viz

.PHONY: fuzz-viz fuzz-viz-corpus
$(FUZZ_OUT)/fuzz_viz: $(FUZZ_VIZ_SRCS) $(wildcard viz/*.h) $(FUZZ_TRACE_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iviz -pthread -o $@ $(FUZZ_VIZ_SRCS) -lncurses -ltinfo

# Seeds: the two small traces whole, and windows of 256 records (16 KiB: fast to mutate)
# cut from all four traces: header + records [a, a + 256). A window's seqs start at a, not 0;
# fuzz_viz.c renumbers them, so every window is a valid trace with real structure in it
# (doorbells, chains, ATA commands, ring changes). The legacy and ring-3 traces are xz'ed.
# tests/fuzz/corpus/viz/script-*: compact scripts (fuzz_viz.c's 8-byte records) of a virtio
# batch, an ATA read, ring changes, and all three mixed, for crossover to splice.
FUZZ_VIZ_WINDOW = head -c 128 $(1) > $(2)-$(3).hvt && \
	dd if=$(1) bs=64 skip=$$((2 + $(3))) count=256 status=none >> $(2)-$(3).hvt
fuzz-viz-corpus:
	@mkdir -p $(FUZZ_VIZ_SEEDS)
	cp tests/viz/traces/modeswitch.hvt tests/viz/traces/diskio-virtio.hvt $(FUZZ_VIZ_SEEDS)/
	xz -dc tests/viz/traces/diskio-legacy.hvt.xz > $(FUZZ_OUT)/legacy.tmp
	xz -dc tests/viz/traces/os-ring3.hvt.xz > $(FUZZ_OUT)/ring3.tmp
	for a in 0 256 512 768 1024; do \
	  $(call FUZZ_VIZ_WINDOW,tests/viz/traces/diskio-virtio.hvt,$(FUZZ_VIZ_SEEDS)/virtio,$$a); \
	  $(call FUZZ_VIZ_WINDOW,tests/viz/traces/modeswitch.hvt,$(FUZZ_VIZ_SEEDS)/modeswitch,$$a); \
	  $(call FUZZ_VIZ_WINDOW,$(FUZZ_OUT)/ring3.tmp,$(FUZZ_VIZ_SEEDS)/ring3,$$a); \
	done
	for a in 0 256 512 1024 4096 65536 131072; do \
	  $(call FUZZ_VIZ_WINDOW,$(FUZZ_OUT)/legacy.tmp,$(FUZZ_VIZ_SEEDS)/legacy,$$a); \
	done
	find $(FUZZ_VIZ_SEEDS) -size -129c -delete
	rm -f $(FUZZ_OUT)/legacy.tmp $(FUZZ_OUT)/ring3.tmp
	cp tests/fuzz/corpus/viz/* $(FUZZ_VIZ_SEEDS)/
	cp tests/fuzz/corpus/viz-crashes/* $(FUZZ_VIZ_SEEDS)/ 2>/dev/null || true

# max_len: 32 KiB, 510 records: twice a window; the whole traces are read cut to it.
fuzz-viz: $(FUZZ_OUT)/fuzz_viz fuzz-viz-corpus
	@mkdir -p $(FUZZ_OUT)/corpus-viz
	$(FUZZ_OUT)/fuzz_viz -max_total_time=$(FUZZ_SECONDS) -max_len=32768 -timeout=30 \
	  -artifact_prefix=$(FUZZ_OUT)/viz- $(FUZZ_OUT)/corpus-viz $(FUZZ_VIZ_SEEDS)

# ---- the gdb stub's remote protocol (hv/gdbstub.c) against the fake target of the unit tests ----
FUZZ_GDB_SRCS := tests/fuzz/fuzz_gdb.c hv/gdbstub.c

.PHONY: fuzz-gdb
$(FUZZ_OUT)/fuzz_gdb: $(FUZZ_GDB_SRCS) hv/gdbstub.h tests/unit/gdb_fake.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_GDB_SRCS)

fuzz-gdb: $(FUZZ_OUT)/fuzz_gdb
	@mkdir -p $(FUZZ_OUT)/corpus-gdb
	$(FUZZ_OUT)/fuzz_gdb -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
	  -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus-gdb tests/fuzz/corpus/gdb
