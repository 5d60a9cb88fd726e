# The harness: build/bin/loadgen (the load generator), its unit tests and its fuzz target.

HARNESS_SRC := harness/loadgen.c harness/options.c harness/net.c harness/worker.c \
               harness/http_resp.c harness/hist.c harness/report.c
LOADGEN     := $(BIN)/loadgen
ALL_BINS    += $(LOADGEN)

$(LOADGEN): $(HARNESS_SRC:%.c=$(OBJ)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

# Unit tests: tests/unit/test_NAME.c linked with the harness sources it names, run by the
# suites under tests/suites/ (built by `make test`, not by `make`).
HARNESS_TESTS := $(BUILD)/tests/test_hist $(BUILD)/tests/test_http_resp
$(BUILD)/tests/test_hist: $(OBJ)/tests/unit/test_hist.o $(OBJ)/harness/hist.o
$(BUILD)/tests/test_http_resp: $(OBJ)/tests/unit/test_http_resp.o $(OBJ)/harness/http_resp.o
$(HARNESS_TESTS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

$(OBJ)/tests/unit/%.o: CFLAGS += -Iharness

test: $(HARNESS_TESTS)

FUZZ_TARGETS += http_resp
FUZZ_SRC_http_resp := harness/http_resp.c

# loadgen against wrk, alternated, one pinned core each (a benchmark: a few seconds per run).
.PHONY: bench-loadgen
bench-loadgen: $(LOADGEN)
	scripts/bench-loadgen.sh
