# gau - a plain Makefile.
#
#   make            build every binary and library
#   make run        build, start the local stack and the whole system
#   make test       unit + integration tests (sanitizer build, own stack)
#   make reliability  the long fault-injection cases (tests/reliability)
#   make fuzz       every fuzz harness for FUZZ_SECONDS (60) each
#   make check      style checker, then the test suite
#   make bench      benchmarks against reference runs (own stack, release
#                   build), a Markdown table and tools/bench/results.json
#   make clean      remove build/
#
# Knobs: V=1 shows commands; SANITIZE=address,undefined builds with
# sanitizers (into build/san unless BUILD is given).

PYTHON ?= /usr/bin/python3
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD ?= build/release
else
BUILD ?= build/san
endif

PKGS := librabbitmq libpq hiredis libmicrohttpd msgpack jansson libjwt \
	libcurl openssl libargon2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -MMD -MP -I. -I$(BUILD)/gen $(PKG_CFLAGS)
LDLIBS += $(PKG_LIBS) -lpthread -lm
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

GEN := $(BUILD)/gen
SCHEMAS := $(sort $(wildcard schemas/*.json))
GEN_SRC := $(GEN)/gau_schema.c
GEN_HDR := $(GEN)/gau_schema.h
GEN_DOC := $(BUILD)/doc/messages.md

LIB_SRC := $(sort $(wildcard core/*.c bus/*.c actors/runtime/*.c))
EDGE_SRC := $(filter-out http-edge/main.c,$(sort $(wildcard http-edge/*.c)))
SVC_SRC := $(sort $(wildcard actors/account/*.c actors/authorization/*.c))
CTL_SRC := $(filter-out tools/gauctl/main.c,$(sort $(wildcard tools/gauctl/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard tools/bench/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC)) $(BUILD)/obj/gen/gau_schema.o
EDGE_OBJ := $(call obj,$(EDGE_SRC))
SVC_OBJ := $(call obj,$(SVC_SRC))
CTL_OBJ := $(call obj,$(CTL_SRC))

LIBGAU := $(BUILD)/lib/libgau.a
LIBEDGE := $(BUILD)/lib/libgauedge.a
LIBSVC := $(BUILD)/lib/libgausvc.a
LIBCTL := $(BUILD)/lib/libgauctl.a
BINS := $(BUILD)/bin/gau-edge $(BUILD)/bin/gau-worker $(BUILD)/bin/gauctl
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst tools/bench/%.c,$(BUILD)/bin/%,$(BENCH_SRC))

all: $(BINS) $(GEN_DOC)

.PHONY: all run test unit integration check style clean docs stack-up \
	stack-down bench reliability fuzz

$(GEN_SRC) $(GEN_HDR) $(GEN_DOC) &: tools/schemagen/schemagen.py $(SCHEMAS)
	@mkdir -p $(GEN) $(BUILD)/doc
	@echo "  GEN     schemas"
	$(Q)$(PYTHON) tools/schemagen/schemagen.py --out-c $(GEN_SRC) \
		--out-h $(GEN_HDR) --out-md $(GEN_DOC) $(SCHEMAS)

# Every object may include the generated header.
$(BUILD)/obj/%.o: %.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/gen/gau_schema.o: $(GEN_SRC) $(GEN_HDR)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBGAU): $(LIB_OBJ)
$(LIBEDGE): $(EDGE_OBJ)
$(LIBSVC): $(SVC_OBJ)
$(LIBCTL): $(CTL_OBJ)

$(BUILD)/bin/gau-edge: $(call obj,http-edge/main.c) $(LIBEDGE) $(LIBGAU)
$(BUILD)/bin/gau-worker: $(call obj,actors/main.c) $(LIBSVC) $(LIBGAU)
$(BUILD)/bin/gauctl: $(call obj,tools/gauctl/main.c) $(LIBCTL) $(LIBSVC) \
	$(LIBGAU)

$(BINS):
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test links with libgau, and with the edge or service library when
# its name says it tests them (test_edge_*, test_svc_*).
test_libs = $(if $(filter test_edge_%,$(1)),$(LIBEDGE)) \
	$(if $(filter test_svc_%,$(1)),$(LIBSVC)) $(LIBGAU)

# Keep test objects: they are intermediate files of the pattern rule.
.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $$(call test_libs,%)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The load tools of make bench, one binary per tools/bench/*.c.
$(BENCH_BINS): $(BUILD)/bin/%: $(BUILD)/obj/tools/bench/%.o $(LIBSVC) \
	$(LIBGAU)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-bins: $(BENCH_BINS)

docs: $(GEN_DOC)

# A fresh Debian 12 machine has none of the -dev packages: run, test and
# unit install what is missing first, then build in a second make, which
# sees the pkg-config flags of the packages just installed.
.PHONY: deps
deps:
	$(Q)tools/stack/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD) all
	$(Q)BUILD=$(BUILD) tools/stack/run.sh

# The test suite always runs the sanitizer build, so every run of it
# doubles as a leak and undefined-behaviour check.
test: deps
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined \
		BUILD=build/san all unit-bins fuzz-replay-bins
	$(Q)BUILD=build/san tools/test.sh

unit-bins: $(UNIT_BINS)

# Fuzzing (tests/fuzz). Each harness tests/fuzz/fuzz_<name>.c is linked
# twice: with libFuzzer for make fuzz (clang, build/fuzz/bin), and with
# tests/fuzz/replay_main.c into $(BUILD)/tests/fuzz_<name> for make test,
# which replays the committed corpus and regression inputs through it.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,\
	$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_REPLAY_BINS := $(patsubst %,$(BUILD)/tests/fuzz_%,$(FUZZ_NAMES))
FUZZ_BINS := $(patsubst %,$(BUILD)/bin/fuzz_%,$(FUZZ_NAMES))
FUZZ_SECONDS ?= 60

.PHONY: fuzz-replay-bins fuzz-bins
fuzz-replay-bins: $(FUZZ_REPLAY_BINS)

$(BUILD)/tests/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o \
		$(BUILD)/obj/tests/fuzz/replay_main.o $(LIBEDGE) $(LIBGAU)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Only meaningful in a clang build with SANITIZE=fuzzer-no-link,... (below).
fuzz-bins: $(FUZZ_BINS)

$(BUILD)/bin/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIBEDGE) $(LIBGAU)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# Runs every harness for FUZZ_SECONDS (tests/fuzz/run.sh); fails, and
# saves the input under tests/fuzz/regressions/, when one crashes.
fuzz: deps
	$(Q)tools/stack/deps.sh tools/stack/packages-fuzz.txt
	$(Q)$(MAKE) --no-print-directory CC=clang BUILD=build/fuzz \
		SANITIZE=fuzzer-no-link,address,undefined fuzz-bins
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh build/fuzz

# The long reliability cases (tests/reliability): faults injected into a
# loaded system, on the sanitizer build and the test stack.
reliability: deps
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined \
		BUILD=build/san all
	$(Q)BUILD=build/san tools/test.sh reliability

unit: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD) unit-bins \
		fuzz-replay-bins
	$(Q)BUILD=$(BUILD) tools/test.sh unit

# Benchmarks run the optimised build without sanitizers (build/release
# unless BUILD is given) on the bench stack; the bench-only packages are
# installed here, never by make test.
bench: deps
	$(Q)tools/stack/deps.sh tools/stack/packages-bench.txt
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD) all bench-bins
	$(Q)BUILD=$(BUILD) tools/bench/bench.sh

style:
	$(Q)tools/check-style.sh

check: style test

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
