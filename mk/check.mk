# `make check MODEL=NAME`: builds that model, then runs the conformance suite against it,
# both protocols, case by case (what students and teachers use; the last line is the score
# "N passed, N failed"). SAN=1 checks the sanitizer build. CHECK_ARGS passes options on,
# e.g. CHECK_ARGS="--group http -v".
# Any servers/NAME.c, in MODELS or not (core.mk builds it): a student's copy of lab/skeleton.c
# is checked before it joins the list. MODEL=go or MODEL=nginx checks a reference (refs.mk):
# the cases it is known not to pass (tests/conformance/README.md) are reported as such.
CHECK_BIN := $(if $(MODEL),$(if $(wildcard servers/$(MODEL).c),$(BIN)/$(MODEL),$(if \
             $(filter $(MODEL),$(REFS_ALL)),$(BIN)/ref-$(MODEL))))
CHECK_KNOWN := $(if $(filter $(MODEL),$(REFS_ALL)),--known-failures $(MODEL))

check: $(CHECK_BIN)
	@if [ -z "$(CHECK_BIN)" ]; then \
		echo "usage: make check MODEL=NAME, for a model in servers/NAME.c ($(MODELS), or yours)" \
		     "or a reference ($(REFS_ALL))" >&2; \
		exit 2; fi
	@python3 tests/conformance/conformance.py --bin $(CHECK_BIN) --proto both $(CHECK_KNOWN) $(CHECK_ARGS)
