# The green-thread runtime (servers/green/, a static library of its own), its tests and
# micro-benchmarks, and the aarch64 cross build.
#
#   make bench-micro           switch, spawn and ping-pong costs, side by side (figures, not tests)
#   make bench-green-idle      resident memory per idle connection, 10,000 of them, beside epoll and Go
#   make bench-green-rate      CPU per request at a fixed rate, green against epoll, alternated
#   make cross-aarch64         the server and runtime tests for aarch64, in build/aarch64 (qemu-aarch64 runs them)
#   make GREEN_SWITCH=ucontext BUILD=build/ucontext   the portable swapcontext fallback

GREEN_SWITCH ?= asm
GREEN_SRC := $(wildcard servers/green/*.c) servers/green/switch_x86_64.S servers/green/switch_aarch64.S
GREEN_OBJ := $(patsubst %,$(OBJ)/%.o,$(basename $(GREEN_SRC)))
GREEN_LIB := $(BUILD)/lib/libgreen.a
MODEL_LIBS_green := $(GREEN_LIB)

GREEN_CFLAGS := -Iservers/green
ifeq ($(GREEN_SWITCH),ucontext)
GREEN_CFLAGS += -DGREEN_UCONTEXT
endif
$(OBJ)/servers/green/%.o: CFLAGS += $(GREEN_CFLAGS)
$(OBJ)/servers/green.o: CFLAGS += $(GREEN_CFLAGS)
$(OBJ)/tests/green/%.o: CFLAGS += $(GREEN_CFLAGS)

$(GREEN_LIB): $(GREEN_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Tests: tests/green/test_NAME.c -> $(BIN)/green-test-NAME, with the register checker.
GREEN_TESTS := $(patsubst tests/green/test_%.c,%,$(wildcard tests/green/test_*.c))
GREEN_TEST_BINS := $(GREEN_TESTS:%=$(BIN)/green-test-%)
GREEN_REGCHECK := $(OBJ)/tests/green/regcheck_x86_64.o $(OBJ)/tests/green/regcheck_aarch64.o
ALL_BINS += $(GREEN_TEST_BINS) $(BIN)/green-bench-micro

$(BIN)/green-test-%: $(OBJ)/tests/green/test_%.o $(GREEN_REGCHECK) $(GREEN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# test_netpoll.c acts inside pd_wait() through the runtime's clock: see the top of that file.
$(BIN)/green-test-netpoll: LDFLAGS += -Wl,--wrap=mono_ns

$(BIN)/green-bench-micro: $(OBJ)/tests/green/bench_micro.o $(GREEN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-micro bench-green-idle bench-green-rate cross-aarch64
bench-micro: $(BIN)/green-bench-micro
	$(BIN)/green-bench-micro

# HTTP (c=100) and echo (c=1,000) at 20,000 req/s, open loop; the script reads build/bin.
GREEN_RATE_ARGS ?= -d 3 -r 3
bench-green-rate: build/bin/green build/bin/epoll build/bin/loadgen
	scripts/bench-green-rate.sh $(GREEN_RATE_ARGS)

# green, epoll and Go's net/http (GOMAXPROCS=1, when build/bin/ref-go was built), one worker
# each, in the same run: silent connections, then idle after one keep-alive request.
GREEN_IDLE_CONNS ?= 10000
bench-green-idle: $(BIN)/green $(BIN)/epoll
	python3 tests/green/idle_memory.py --conns $(GREEN_IDLE_CONNS) $(BIN)/green
	python3 tests/green/idle_memory.py --conns $(GREEN_IDLE_CONNS) $(BIN)/epoll
	@if [ -x $(BIN)/ref-go ]; then \
		python3 tests/green/idle_memory.py --conns $(GREEN_IDLE_CONNS) $(BIN)/ref-go; \
	else echo "bench-green-idle: $(BIN)/ref-go not built: no Go figure (make $(BIN)/ref-go)"; fi

# The same runtime and tests for aarch64, with the cross compiler; tests/suites/42-green-aarch64.sh
# runs them under qemu-aarch64.
CROSS_CC ?= aarch64-linux-gnu-gcc
cross-aarch64:
	$(MAKE) --no-print-directory CC=$(CROSS_CC) AR=aarch64-linux-gnu-ar SAN= \
		BUILD=build/aarch64 MODELS=green build/aarch64/bin/green \
		$(GREEN_TESTS:%=build/aarch64/bin/green-test-%)

# Objects named only by the pattern rules above would count as intermediate and be deleted.
.SECONDARY: $(GREEN_TESTS:%=$(OBJ)/tests/green/test_%.o) $(GREEN_REGCHECK) $(OBJ)/tests/green/bench_micro.o
