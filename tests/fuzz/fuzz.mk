# fuzz.mk - fuzz targets (libFuzzer + AddressSanitizer + UBSan). Not part of `make test`.
#
#   make -f tests/fuzz/fuzz.mk fuzz-trace              build, then fuzz trace_parse for 30 s
#   make -f tests/fuzz/fuzz.mk fuzz-trace FUZZ_SECONDS=600
#   make -f tests/fuzz/fuzz.mk fuzz-trace-corpus       regenerate the seed traces
#   make fuzz-loader                                   fuzz the guest loader (seeds: build/guest)
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
FUZZ_TRACE_SRCS := tests/fuzz/fuzz_trace.c hv/trace.c hv/tracefmt.c

.PHONY: fuzz-trace fuzz-trace-corpus

$(FUZZ_OUT)/fuzz_trace: $(FUZZ_TRACE_SRCS) hv/trace.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_TRACE_SRCS)

fuzz-trace: $(FUZZ_OUT)/fuzz_trace
	@mkdir -p $(FUZZ_OUT)/corpus-trace
	$(FUZZ_OUT)/fuzz_trace -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus-trace tests/fuzz/corpus/trace

# The seeds are made by the real writer, so they always match the current format.
$(FUZZ_OUT)/gen_trace_corpus: tests/fuzz/gen_trace_corpus.c hv/trace.c hv/trace.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ihv -o $@ \
	  tests/fuzz/gen_trace_corpus.c hv/trace.c

fuzz-trace-corpus: $(FUZZ_OUT)/gen_trace_corpus
	@mkdir -p tests/fuzz/corpus/trace
	$(FUZZ_OUT)/gen_trace_corpus tests/fuzz/corpus/trace

# ---- the guest loader (raw binaries, ELF32/ELF64, PVH notes) ----
FUZZ_LOADER_SRCS := tests/fuzz/fuzz_loader.c hv/loader.c hv/guestmem.c

.PHONY: fuzz-loader
$(FUZZ_OUT)/fuzz_loader: $(FUZZ_LOADER_SRCS) hv/loader.h hv/guestmem.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_LOADER_SRCS)

# Seeds: the real guests, so the fuzzer starts from valid ELF and raw files.
fuzz-loader: $(FUZZ_OUT)/fuzz_loader guests
	@mkdir -p $(FUZZ_OUT)/corpus-loader
	$(FUZZ_OUT)/fuzz_loader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus-loader build/guest
