# The two commands a newcomer needs: `make demo` and `make test`.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
# Executions per fuzz target (a count: see scripts/fuzz.sh).
FUZZTIME ?= 20000x

# The demo's CRI runtime: fake (fake-cri) or containerd (scripts/containerd.sh).
RUNTIME ?= fake

.PHONY: build demo down status reset lab setup test lint unit fuzz docs e2e bench bench-build bench-streaming critest test-containerd containerd-up containerd-down containerd-status

build:
	$(GO) build -o bin/ ./cmd/...

demo: build
	scripts/demo.sh --runtime $(RUNTIME)

down:
	scripts/down.sh

# The running stack (bin/execlab, pkg/demostack): what runs, on which
# ports, the pods and the sessions open; and back to the demo pod alone,
# without a rebuild.
status: bin/execlab
	bin/execlab status

reset: bin/execlab
	bin/execlab reset

bin/execlab:
	$(GO) build -o bin/ ./cmd/execlab

# `make lab 3` runs lab 3 of docs/labs against the running stack (starting
# it if needed), printing each command and its output, and checks that the
# output is what the lab shows; `make lab` lists the labs. N=3 works too.
ifeq (lab,$(firstword $(MAKECMDGOALS)))
  N ?= $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
  $(eval $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS)):;@:)
endif
lab: build
	bin/execlab lab $(N)

# Unit tests, then a short fuzz of every target, the docs' checks, then the
# end-to-end suite against the real binaries and real kubectl.
test: setup lint unit fuzz docs e2e

# Debian packages the tests need (chromium) and the Go modules.
setup:
	scripts/setup.sh

# Every file and function the docs name exists, and every command of
# docs/ and docs/labs/ prints what the page shows (each page on a stack of
# its own; the pages that need containerd run in test-containerd).
docs:
	$(GO) test -count=1 -timeout 20m ./test/docs/

lint:
	@out=$$(gofmt -l cmd internal pkg test docs bench); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

unit:
	$(GO) test -race ./cmd/... ./internal/... ./pkg/...
	cd bench && $(GO) test ./...

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# The whole chain, ours beside a chain of upstream's parts, in one run
# (bench/, a module of its own): prints one table and writes it, with the
# per-process figures and CPU profiles, under _artifacts/bench/ (see
# docs/performance.md). QUICK=1 is the small run CI does (under 2 minutes);
# BENCHFLAGS passes more flags (bin/execlab-bench -h), such as
# BENCHFLAGS=-doc=docs/performance.md to put the results in the docs.
bench: build bench-build
	bin/execlab-bench $(if $(QUICK),-quick) $(BENCHFLAGS)

bench-build:
	cd bench && $(GO) build -o ../bin/execlab-bench . && $(GO) build -o ../bin/ ./cmd/...

# The streaming server in process: throughput through cat (64 MiB a run),
# session set-up, and the token cache, with allocations. Not part of test.
bench-streaming:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./pkg/streaming/

e2e:
	$(GO) test -count=1 -timeout 20m ./test/e2e/

# The CRI validation suite, cri-tools' critest v1.34, against fake-cri over
# SPDY and WebSocket (docs/fake-runtime.md). Built into .execlab/tools on
# first use. CI runs it after test (.ci/run).
critest:
	scripts/critest.sh

# The end-to-end suite again with containerd as the runtime of its stacks:
# its own containerd, set up and removed again even when a test fails, and
# a check that the machine is left as it was (mount, ps, ip link).
test-containerd: build
	scripts/test-containerd.sh

# A private containerd (the distribution's) with offline images; see docs/containerd.md.
containerd-up:
	scripts/containerd.sh up

containerd-down:
	scripts/containerd.sh down

containerd-status:
	scripts/containerd.sh status
