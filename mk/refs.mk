# The references: servers people know, run beside the models by `make bench` (REFS) and
# checked by `make check MODEL=go` (or nginx).
#
#   build/bin/ref-go      Go's net/http (servers/refs/go/, standard library only), built
#                         when `go` is installed (Debian: golang-go)
#   build/bin/ref-nginx   a wrapper that runs Debian's nginx (servers/refs/nginx/)
#
# Go builds offline: no module is downloaded (go.mod requires nothing, GOPROXY=off), and
# its cache lives under build/, shared by every BUILD variant.
GO       ?= go
GO_ENV   := GOCACHE=$(abspath build/go-cache) GOPATH=$(abspath build/go-path) \
            GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0
GO_SRC   := $(wildcard servers/refs/go/*.go) servers/refs/go/go.mod

ALL_BINS += $(BIN)/ref-nginx
$(BIN)/ref-nginx: servers/refs/nginx/ref-nginx.sh
	@mkdir -p $(dir $@)
	cp $< $@
	chmod +x $@

ifneq ($(shell command -v $(GO) 2>/dev/null),)
ALL_BINS += $(BIN)/ref-go
$(BIN)/ref-go: $(GO_SRC)
	@mkdir -p $(dir $@)
	cd servers/refs/go && $(GO_ENV) $(GO) build -trimpath -o $(abspath $@) .
else
# One line saying so, and the build goes on (make bench then leaves Go's rows out).
ALL_BINS += go-missing
.PHONY: go-missing
go-missing:
	@echo "refs: '$(GO)' not found: build/bin/ref-go not built (Debian: apt-get install golang-go)"
endif
