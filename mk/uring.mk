# The io_uring model links liburing (Debian: liburing-dev, 2.3 on Debian 12) and its companion,
# servers/uring/ (setting the ring up, saying why not, the provided buffers). no-io-uring runs
# a command with io_uring forbidden by a seccomp filter, to test the model's refusal path.

URING_SRC := $(wildcard servers/uring/*.c)
URING_LIB := $(BUILD)/lib/liburingmodel.a
MODEL_LIBS_uring := $(URING_LIB)

$(URING_LIB): $(URING_SRC:%.c=$(OBJ)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(OBJ)/servers/uring.o $(OBJ)/servers/uring-smallring.o: CFLAGS += -Iservers/uring
$(BIN)/uring: LDLIBS += -luring

NO_IO_URING := $(BIN)/no-io-uring
ALL_BINS += $(NO_IO_URING)

$(NO_IO_URING): $(OBJ)/tests/uring/no_io_uring.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

# The model again with a provided buffer ring of two buffers, so that the conformance suite
# runs it out of buffers (ENOBUFS) all the time: tests/suites/33-uring.sh.
URING_SMALLRING := $(BIN)/uring-smallring
ALL_BINS += $(URING_SMALLRING)

$(OBJ)/servers/uring-smallring.o: servers/uring.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DURING_RING_BUFS=2 -DURING_NAME='"uring-smallring"' -c -o $@ $<

$(URING_SMALLRING): $(OBJ)/servers/uring-smallring.o $(URING_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -luring
