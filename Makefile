# c10k-lab: `make` builds every server model, the load generator and the tests into build/bin/.
#
# The lines starting with "##" are `make help`: every target a user types, each followed by
# the variables it reads, one line each. A new target gets its line here, beside the others
# (tests/suites/80-make.sh fails while a .PHONY target is missing from `make help`).
#
## usage: make [TARGET] [VARIABLE=value ...]
##
## make, make all          build every model, the load generator and the tests into build/bin/
##   CC=clang              another compiler (default cc); warnings are errors with either
##   SAN=1                 AddressSanitizer + UBSan build, in build/san (SAN=thread: TSan, build/tsan)
##   BUILD=DIR             another build directory
##   MODELS="a b"          only these models (default: all of them; see make print-models)
## make test               every test suite; the last line is "N passed, N failed" (SAN, MODELS too)
##   SUITE=PATTERN         only the suites of tests/suites/ whose name contains PATTERN
##                         (SUITE="a b": those whose name contains a or b)
##   TEST_JOBS=N           how many suites run at once (default 4; 1: one after another)
##   LINK="rate=1gbit"     the network namespaces' links in the across-hosts test (SUITE=remote)
## make check MODEL=NAME   the conformance suite against servers/NAME.c, case by case, then a score
##   MODEL=go              against the Go net/http reference (its known failures reported as such)
##   CHECK_ARGS="..."      passed to tests/conformance/conformance.py, e.g. "--group http -v"
##                         (and writes build/check/NAME/results.json, for autograders)
## make run MODEL=NAME     build servers/NAME.c and run it in the foreground until Ctrl-C
##   PORT=N                its port (default 8080)
##   RUN_ARGS="..."        more options for it, e.g. "--idle-timeout 5"
## make unit               build the unit tests only (make test runs them)
## make fuzz               fuzz the parsers and the session with libFuzzer (needs clang)
##   FUZZ_SECONDS=N        seconds per fuzz target (default 60)
## make bench              every model through every benchmark scenario, then plots and a report
##   QUICK=1               ~3 min: 2 rounds, efficiency and http only (default ~11 min, docs/bench.md)
##   FULL=1                5 rounds, longer runs, more points, 10,000 connections
##   MODELS="a b"          only these models
##   SCENARIOS="a b"       only these scenarios (efficiency http pipelined echo openloop ...)
##   REFS="nginx go"       the reference servers run beside the models (the default; REFS= for none)
##   SERVER_CPUS=0 CLIENT_CPUS=1   where the server and the load run (default: the cores split in two)
##   SERVER_HOST=[U@]H CLIENT_HOSTS="H1 H2"   the server on one host, the load on others, over ssh
##   SERVER_ADDR=A SSH_CONFIG=F   the server's address for the clients; ssh -F (docs/bench.md)
##   REMOTE_BUILD=1        across hosts: send the source and build it there with make
##   BENCH_ARGS="..."      any other runner option (python3 -m harness.bench --help)
## make bench-setup        install what make bench needs (wrk, gnuplot), or say how
## make plots RESULTS=DIR  redraw the plots and the report of a results directory
## make compare A=DIR B=DIR   what moved between two results directories, beyond their spread
##   CSV=FILE              where the table goes as CSV too (default results/compare.csv)
## make print-models       the list of models, as make and the benchmark runner read it
## make bench-loadgen      build/bin/loadgen against wrk, alternated, one pinned core each
## make bench-micro        the green runtime's switch, spawn and ping-pong costs
## make bench-green-idle   resident memory per idle connection: green, epoll and Go (ref-go)
##   GREEN_IDLE_CONNS=N    idle connections (default 10000)
## make bench-green-rate   CPU, system calls and futex calls per request at 20,000 req/s,
##                         green against epoll, --workers 1, alternated rounds (issue 16)
##   GREEN_RATE_ARGS="..."  scripts/bench-green-rate.sh's options (default "-d 3 -r 3")
## make cross-aarch64      the green server and runtime tests for aarch64, in build/aarch64
##   CROSS_CC=CC           the cross compiler (default aarch64-linux-gnu-gcc)
##   GREEN_SWITCH=ucontext (with any target) the portable swapcontext switch instead of assembly
## make clean              remove build/
## make help               this list
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

.PHONY: all clean test check help
all:

help:
	@sed -n 's/^## \{0,1\}//p' Makefile

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
