# Every target works on a fresh machine with only Go installed, except e2e,
# which also needs Prometheus (installed from apt when run as root).
GO       ?= go
PKGS     := ./...
BENCH    ?= .
BENCHTIME ?= 1s
COUNT    ?= 1

.PHONY: all test lint bench demo e2e fuzz

all: lint test

## test: every unit and integration test of the module, with the race detector
test:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

## demo: a 3-node cluster on loopback (Ctrl-C stops it); DEMO_ARGS="-port 7201" to move it
demo:
	$(GO) run ./examples/cluster-node demo $(DEMO_ARGS)

## e2e: the full stack on loopback: real OTel Collector, Prometheus and Jaeger (builds cached in .cache/bin)
e2e:
	$(GO) test -tags e2e -count=1 -timeout 30m -v ./examples/otel-collector/e2e/

## fuzz: a short run of every fuzz target (FUZZTIME=10s each); the seed corpora run in make test.
## Minimizing a new input is capped at 2s: the corpora hold 1 MiB strings, which would stall the run.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReasonInEveryOutput$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./otellifecycle
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./otellifecycle
	$(GO) test -run '^$$' -fuzz '^FuzzDatagram$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./exporters/sdnotify

## lint: go vet, gofmt and staticcheck (when it can be fetched from the module proxy)
lint:
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@if $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -version >/dev/null 2>&1; then \
		$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS); \
	else echo "staticcheck unavailable from the module proxy: skipped"; fi

## bench: every benchmark with allocation figures (BENCH=regexp to pick)
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(COUNT) $(PKGS)
