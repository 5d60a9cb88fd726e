# c10k-lab: `make` builds every server model, the load generator and the tests into build/bin/.
#
#   make                  build everything (gcc by default; `make CC=clang` works too)
#   make test             every test suite; the last line is "N passed, N failed"
#   make test SAN=1       the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check MODEL=X    the conformance suite against one model, case by case
#   make bench            run every model through the benchmark scenarios (see README)
#   make fuzz             fuzz the parsers and the session for a bounded time (needs clang)
#
# The one list of server models. A model is servers/NAME.c; adding its name here is all it
# takes for make, make test and make bench to pick it up.
MODELS := fork thread select epoll green uring prefork poll pool

# The references, servers people know (mk/refs.mk): run beside the models by `make bench`
# (REFS= for none) and checked like them (`make check MODEL=go`).
REFS_ALL := nginx go
REFS     ?= $(REFS_ALL)

CC      ?= cc
SAN     ?=
ifeq ($(SAN),1)
BUILD   ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(SAN),thread)
BUILD   ?= build/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
BUILD   ?= build
SANFLAGS :=
endif
BIN     := $(BUILD)/bin
OBJ     := $(BUILD)/obj

WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wformat=2
# DWARF 4: Debian 12's Valgrind (3.19) cannot read the DWARF 5 that clang 14 writes.
CFLAGS  ?= -O2 -gdwarf-4
# Stack-clash protection probes each page of a large frame, so that no frame can jump over a
# guard page: the core's code also runs on the green threads' small stacks.
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -pthread -fstack-clash-protection $(WARN) $(SANFLAGS) \
           -MMD -MP -Iservers/core
LDFLAGS += -pthread $(SANFLAGS)

ALL_BINS :=

.PHONY: all clean test check
all:

# Each area keeps its own rules in a fragment: servers/core and the models, the green runtime,
# the harness, the tests, the benchmark.
include $(sort $(wildcard mk/*.mk))

all: $(ALL_BINS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OBJ)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
