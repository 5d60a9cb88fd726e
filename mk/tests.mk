# `make test` runs tests/run.sh, which runs tests/suites/*.sh in order and sums them.
# Suites find the binaries through BIN; the model list through MODELS.

.PHONY: test
test: all
	@BUILD=$(BUILD) BIN=$(BIN) MODELS="$(MODELS)" SAN="$(SAN)" CC="$(CC)" tests/run.sh $(SUITE)
