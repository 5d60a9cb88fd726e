# `make test` runs tests/run.sh, which runs tests/suites/*.sh, TEST_JOBS at once (they mostly
# wait), prints them in order and sums them. Suites find the binaries through BIN; the model
# list through MODELS.

TEST_JOBS ?= 4

.PHONY: test
test: all
	@BUILD=$(BUILD) BIN=$(BIN) MODELS="$(MODELS)" SAN="$(SAN)" CC="$(CC)" TEST_JOBS="$(TEST_JOBS)" tests/run.sh "$(SUITE)"
