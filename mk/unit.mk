# Unit tests of the protocol core: tests/unit/NAME.c is one binary, $(BUILD)/tests/NAME, linked
# with the core library. tests/suites/10-unit.sh runs them all; 15-unit-valgrind.sh runs them
# again under Valgrind. `make unit` builds just them. (The harness's unit tests, also in
# tests/unit/, are mk/harness.mk's.)
#
# A test that needs more than its own file and the core names it here:
#   UNIT_OBJS_NAME      extra objects (helpers shared with the fuzz targets)
#   UNIT_LDFLAGS_NAME   extra link flags

UNIT_TESTS := test_bufpool test_chunked test_deadline test_http_parser test_loop test_session
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/tests/%)
ALL_BINS   += $(UNIT_BINS)
export UNIT_TESTS   # for the suites, which tests/run.sh runs from `make test`

# test_session drives sessions through session_driver.c, and counts the core's allocations:
# --wrap sends the core's calls to malloc() and friends through the test's counting wrappers.
UNIT_OBJS_test_session    := $(OBJ)/tests/unit/session_driver.o
UNIT_LDFLAGS_test_session := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

.PHONY: unit
unit: $(UNIT_BINS)

$(UNIT_BINS): $(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $$(UNIT_OBJS_$$*) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(UNIT_LDFLAGS_$*) -o $@ $^ $(LDLIBS)

# The session's fuzz target: arbitrary bytes, in arbitrary pieces, through the model loop.
FUZZ_TARGETS += session
FUZZ_SRC_session := tests/unit/session_driver.c servers/core/session.c \
                    servers/core/http_parser.c servers/core/chunked.c servers/core/response.c \
                    servers/core/routes.c servers/core/bufpool.c
