# The gateway's build. `make run` and `make test` are the two commands of the
# README; everything they need is installed by the targets themselves.

SHELL       := /bin/bash
GO          ?= go
BIN         := bin
TOOLS       := $(CURDIR)/.tools/bin
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
GOTESTFLAGS ?=

BUF_VERSION            := v1.75.0
PROTOC_GEN_GO_VERSION  := v1.36.12
PROTOC_GEN_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION    := v0.8.2

.PHONY: all build run test test-deps lint proto verify-proto bench scale tools clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/gatewayd ./server
	$(GO) build -ldflags "-X github.com/securegw/gateway/gatewayctl/internal/cli.Version=$(VERSION)" -o $(BIN)/gatewayctl ./gatewayctl
	$(GO) build -o $(BIN)/demo-backend ./server/examples/demo-backend

## run: a dev daemon with a demo backend and the demo topology, on loopback.
run: build
	@scripts/run-dev.sh

## test: unit and integration tests with the race detector (what CI runs).
test: test-deps
	$(GO) test -race -count=1 -timeout 14m $(GOTESTFLAGS) ./...
	@# Memory budgets, without the race detector: it changes what is
	@# allocated and drops pooled values at random (the tests skip under it).
	$(GO) test -count=1 -run '^TestProxiedGETBytes$$' $(GOTESTFLAGS) ./proxy/

test-deps:
	@scripts/test-deps.sh

lint: $(TOOLS)/staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# The tree builds and type-checks elsewhere than on Linux too (macOS,
	@# where many operators try it first): Linux-only code stays behind
	@# build constraints.
	GOOS=darwin $(GO) vet ./...
	$(TOOLS)/staticcheck ./...

## proto: regenerate the committed Go code of the management API.
proto: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc
	$(TOOLS)/buf lint
	$(TOOLS)/buf generate --template proto/buf.gen.yaml

## verify-proto: fail when the committed generated code is stale.
verify-proto: proto
	@if [ -n "$$(git status --porcelain -- proto)" ]; then \
		echo "generated protobuf code is stale; run 'make proto' and commit:"; \
		git status --porcelain -- proto; git diff --stat -- proto; exit 1; fi

## bench: the side-by-side benchmark table (see scripts/bench).
bench: build
	@scripts/bench.sh

## scale: the etcd figures at scale (three gateways, 10k topologies; see scripts/bench/sections/etcd.sh).
scale: build
	@SECTIONS=etcd ETCD_DEPLOYS=200 ETCD_TOPOLOGIES=10000 scripts/bench.sh

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc $(TOOLS)/staticcheck

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GRPC_VERSION)
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clean:
	rm -rf $(BIN) .gateway
