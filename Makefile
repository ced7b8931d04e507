# The two commands a newcomer needs: `make demo` and `make test`.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
FUZZTIME ?= 5s

.PHONY: build demo down test lint unit fuzz e2e containerd-up containerd-down containerd-status

build:
	$(GO) build -o bin/ ./cmd/...

demo: build
	scripts/demo.sh

down:
	scripts/down.sh

# Unit tests, then a short fuzz of every target, then the end-to-end suite
# against the real binaries and real kubectl.
test: lint unit fuzz e2e

lint:
	@out=$$(gofmt -l cmd pkg test); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race ./cmd/... ./pkg/...

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

e2e:
	$(GO) test -count=1 -timeout 20m ./test/e2e/

# A private containerd (the distribution's) with offline images; see docs/containerd.md.
containerd-up:
	scripts/containerd.sh up

containerd-down:
	scripts/containerd.sh down

containerd-status:
	scripts/containerd.sh status
