# The course lab (docs/lab.md). A student's model is one file, servers/NAME.c, built by the
# pattern rule of core.mk. One built on the green runtime (part 5: it includes "green.h")
# needs the runtime's library and include path too; these lines give them to it, so that such
# a model is one file as well. The reference green model names its own in green.mk.
LAB_GREEN_MODELS := $(filter-out green,$(basename $(notdir \
                    $(shell grep -l '^\#include "green.h"' servers/*.c 2>/dev/null))))
$(foreach m,$(LAB_GREEN_MODELS),$(eval MODEL_LIBS_$(m) := $$(GREEN_LIB)))
$(LAB_GREEN_MODELS:%=$(OBJ)/servers/%.o): CFLAGS += $(GREEN_CFLAGS)
