#!/usr/bin/env bash
# Unit tests of the load generator's HTTP response parser (harness/http_resp.c).
exec "${BUILD:-build}/tests/test_http_resp"
