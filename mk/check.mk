# `make check MODEL=NAME`: builds that model, then runs the conformance suite against it,
# both protocols, case by case (what students and teachers use; the last line is the score
# "N passed, N failed"). SAN=1 checks the sanitizer build. CHECK_ARGS passes options on,
# e.g. CHECK_ARGS="--group http -v".
CHECK_BIN := $(if $(filter $(MODEL),$(MODELS)),$(BIN)/$(MODEL))

check: $(CHECK_BIN)
	@if [ -z "$(CHECK_BIN)" ]; then \
		echo "usage: make check MODEL=NAME, NAME one of: $(MODELS)" >&2; exit 2; fi
	@python3 tests/conformance/conformance.py --bin $(CHECK_BIN) --proto both $(CHECK_ARGS)
