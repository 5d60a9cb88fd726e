#!/usr/bin/env bash
# Unit tests of the load generator's latency histogram (harness/hist.c).
exec "${BUILD:-build}/tests/test_hist"
