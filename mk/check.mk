# `make check MODEL=NAME`: builds that model, then runs the conformance suite against it,
# both protocols, case by case (what students and teachers use; the last line is the score
# "N passed, N failed"). SAN=1 checks the sanitizer build. CHECK_ARGS passes options on,
# e.g. CHECK_ARGS="--group http -v". It also writes $(BUILD)/check/NAME/results.json (every
# case's group, verdict and message, and the score: for autograders) and, for a case a
# sanitizer failed, the server's whole report beside it.
# `make run MODEL=NAME`: builds that model and runs it in the foreground on PORT (8080), with
# RUN_ARGS, until Ctrl-C: a server to point curl, nc or ps at by hand.
# Any servers/NAME.c, in MODELS or not (core.mk builds it): a student's copy of lab/skeleton.c
# is checked before it joins the list. MODEL=go checks the Go reference (refs.mk): the cases
# net/http is known not to pass (tests/conformance/README.md) are reported as such. (nginx
# serves three routes and no echo: it is no model to check.)
CHECK_REFS := go
CHECK_BIN := $(if $(MODEL),$(if $(wildcard servers/$(MODEL).c),$(BIN)/$(MODEL),$(if \
             $(filter $(MODEL),$(CHECK_REFS)),$(BIN)/ref-$(MODEL))))
CHECK_KNOWN := $(if $(filter $(MODEL),$(CHECK_REFS)),--known-failures $(MODEL))
CHECK_OUT := $(BUILD)/check/$(MODEL)
PORT      ?= 8080

NEED_MODEL = if [ -z "$(CHECK_BIN)" ]; then \
	echo "usage: make $@ MODEL=NAME, for a model in servers/NAME.c ($(MODELS), or yours)" \
	     "or a reference ($(CHECK_REFS))" >&2; \
	exit 2; fi

.PHONY: run
check: $(CHECK_BIN)
	@$(NEED_MODEL)
	@python3 tests/conformance/conformance.py --bin $(CHECK_BIN) --proto both $(CHECK_KNOWN) \
		--out $(CHECK_OUT) $(CHECK_ARGS)

run: $(CHECK_BIN)
	@$(NEED_MODEL)
	@exec $(CHECK_BIN) --port $(PORT) $(RUN_ARGS)
