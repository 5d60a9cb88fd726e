# `make check MODEL=NAME`: builds that model, then runs the conformance suite against it,
# both protocols, case by case (what students and teachers use; the last line is the score
# "N passed, N failed"). SAN=1 checks the sanitizer build. CHECK_ARGS passes options on,
# e.g. CHECK_ARGS="--group http -v".
# Any servers/NAME.c, in MODELS or not (core.mk builds it): a student's copy of lab/skeleton.c
# is checked before it joins the list. MODEL=go checks the Go reference (refs.mk): the cases
# net/http is known not to pass (tests/conformance/README.md) are reported as such. (nginx
# serves three routes and no echo: it is no model to check.)
CHECK_REFS := go
CHECK_BIN := $(if $(MODEL),$(if $(wildcard servers/$(MODEL).c),$(BIN)/$(MODEL),$(if \
             $(filter $(MODEL),$(CHECK_REFS)),$(BIN)/ref-$(MODEL))))
CHECK_KNOWN := $(if $(filter $(MODEL),$(CHECK_REFS)),--known-failures $(MODEL))

check: $(CHECK_BIN)
	@if [ -z "$(CHECK_BIN)" ]; then \
		echo "usage: make check MODEL=NAME, for a model in servers/NAME.c ($(MODELS), or yours)" \
		     "or a reference ($(CHECK_REFS))" >&2; \
		exit 2; fi
	@python3 tests/conformance/conformance.py --bin $(CHECK_BIN) --proto both $(CHECK_KNOWN) $(CHECK_ARGS)
