# The protocol core (a static library every model links) and the server models.

CORE_SRC := $(wildcard servers/core/*.c)
CORE_LIB := $(BUILD)/lib/libc10kcore.a

$(CORE_LIB): $(CORE_SRC:%.c=$(OBJ)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# A model is servers/NAME.c linked with the core. A model that needs more (the green
# runtime) names it in MODEL_LIBS_NAME, in its own fragment.
MODEL_BINS := $(MODELS:%=$(BIN)/%)
ALL_BINS += $(MODEL_BINS)

# A pattern, not a list: any servers/NAME.c builds as build/bin/NAME, so a new model (a
# student's copy of lab/skeleton.c) builds and checks before its name is in MODELS. Their
# objects are kept (not deleted as intermediates), so a second make finds them up to date.
.SECONDEXPANSION:
.SECONDARY: $(patsubst %.c,$(OBJ)/%.o,$(wildcard servers/*.c))
$(BIN)/%: $(OBJ)/servers/%.o $$(MODEL_LIBS_$$*) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
