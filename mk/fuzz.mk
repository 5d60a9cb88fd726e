# `make fuzz`: libFuzzer targets, built with clang, each run for FUZZ_SECONDS.
# A target is tests/fuzz/fuzz_NAME.c (defining LLVMFuzzerTestOneInput); FUZZ_SRC_NAME lists
# the sources it tests. An area adds its target to FUZZ_TARGETS in its own fragment.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_FLAGS   := -std=gnu11 -O1 -g -D_GNU_SOURCE -Iservers/core -Iharness \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

FUZZ_TARGETS += parser chunked
FUZZ_SRC_parser  := servers/core/http_parser.c
FUZZ_SRC_chunked := servers/core/chunked.c

FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz
fuzz: $$(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus-$$t tests/fuzz/seeds-$$t; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		if ! $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus-$$t tests/fuzz/seeds-$$t \
			>$(FUZZ_BUILD)/fuzz_$$t.log 2>&1; then \
			tail -n 30 $(FUZZ_BUILD)/fuzz_$$t.log; \
			echo "fuzz_$$t FAILED: the input is in $(FUZZ_BUILD)/, the log in $(FUZZ_BUILD)/fuzz_$$t.log"; \
			exit 1; \
		fi; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
			$(FUZZ_BUILD)/fuzz_$$t.log; \
	done

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRC_$$*)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
