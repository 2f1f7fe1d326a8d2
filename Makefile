# Every target works on a fresh machine with only Go installed, except e2e,
# which also needs Debian's prometheus (for promtool 2.42) and
# prometheus-alertmanager packages (installed with apt when run as root).
#
# The repository holds one Go module per dependency set (see README,
# "Modules"). Every target runs in each module of MODULES, with GOWORK=off
# so that each module is built from its own go.mod. The collector and
# Jaeger modules under examples/otel-collector are programs the e2e test
# builds and runs; they are not ours to test or lint.
#
# The tools the targets run (grpc-health-probe for make test, staticcheck
# for make lint) are built from the Go module proxy by make tools, a
# prerequisite of both, into .cache/bin, one file per version.
GO        ?= go
MODULES   := . exporters/otelsetup exporters/promexport exporters/sdnotify exporters/grpchealth instrumentation/github.com/hashicorp/raft/lifecycleraft instrumentation/github.com/hashicorp/memberlist/lifecyclememberlist instrumentation/go.etcd.io/raft/v3/lifecycleetcdraft instrumentation/go.etcd.io/etcd/server/v3/embed/lifecycleetcd examples/raft-node examples/kubernetes examples/otel-collector/compose examples/otel-collector/e2e mixin
BUILDONLY := examples/otel-collector/collector examples/otel-collector/jaeger
BENCH     ?= .
BENCHTIME ?= 1s
COUNT     ?= 1
export GOWORK := off
SHELL     := /bin/bash

.PHONY: all test lint large-files bench demo e2e fleet fuzz modules tidy tools

## tools: the programs the targets run, built once from the Go module proxy into .cache/bin, each
## named by its version (a new version is a new file, never a stale cache): grpc-health-probe,
## which make test runs (exporters/grpchealth finds it through GRPC_HEALTH_PROBE), and staticcheck
## for make lint. Without the proxy, make test stops here saying so; make lint goes on without
## staticcheck, saying so, except in CI (CI=true), where a tool that cannot be built is a failure.
GRPC_HEALTH_PROBE_VERSION := v0.4.62
STATICCHECK_VERSION       := v0.8.2
TOOLBIN                   := $(CURDIR)/.cache/bin
GRPC_HEALTH_PROBE         ?= $(TOOLBIN)/grpc-health-probe-$(GRPC_HEALTH_PROBE_VERSION)
STATICCHECK               := $(TOOLBIN)/staticcheck-$(STATICCHECK_VERSION)
export GRPC_HEALTH_PROBE

all: lint test

## modules: fail when a go.mod is in neither MODULES nor BUILDONLY, so no module escapes the targets
modules:
	@found="$$(find . -name go.mod -not -path './.cache/*' -not -path './.git/*' | sed 's|^\./||; s|/\?go.mod$$||; s|^$$|.|' | sort)"; \
	known="$$(printf '%s\n' $(MODULES) $(BUILDONLY) | sort)"; \
	if [ "$$found" != "$$known" ]; then echo "go.mod files and the Makefile's MODULES/BUILDONLY differ:"; diff <(echo "$$known") <(echo "$$found"); exit 1; fi

tools: $(GRPC_HEALTH_PROBE) $(STATICCHECK)

# tool,PACKAGE,VERSION,REQUIRED,WHAT: go install PACKAGE@VERSION into $@ through a temporary GOBIN
# (an interrupted build leaves no half-written tool); REQUIRED is "always", or "ci" for a failure in
# CI and a warning elsewhere (no file is made); WHAT says what the tool is for.
define tool
	@echo "building $(notdir $@) from the Go module proxy (GOPROXY=$$($(GO) env GOPROXY))"
	@mkdir -p $(dir $@); tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	if GOBIN="$$tmp" $(GO) install $(1)@$(2) && mv "$$tmp/$(notdir $(1))" $@; then exit 0; fi; \
	echo "make: cannot build $(1)@$(2) from the Go module proxy (GOPROXY=$$($(GO) env GOPROXY), error above);"; \
	echo "      $(4). With no network, put a built one at $@."; \
	if [ "$(3)" = always ] || [ "$$CI" = true ]; then exit 1; fi; \
	echo "      make lint goes on without it (in CI, CI=true, this is a failure)."
endef

$(TOOLBIN)/grpc-health-probe-%:
	$(call tool,github.com/grpc-ecosystem/grpc-health-probe,$*,always,make test needs it: exporters/grpchealth checks the lifecycle with the real grpc-health-probe)

$(TOOLBIN)/staticcheck-%:
	$(call tool,honnef.co/go/tools/cmd/staticcheck,$*,ci,make lint runs it in every module)

## test: every unit and integration test of every module, with the race detector
test: modules $(GRPC_HEALTH_PROBE)
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -race -count=1 -timeout 10m ./...); done

## demo: a 3-node hashicorp/raft cluster on loopback, with a leader failover after 15 s
## (Ctrl-C stops it); DEMO_ARGS="-port 7301" to move it, DEMO_ARGS="-failover 0" for no failover.
## Built, then run: on Ctrl-C the demo stops its nodes cleanly and exits 0, so make prints no
## "Error 1" as it would under `go run` (make itself is interrupted too: the shell's status is 130).
demo:
	@echo "building the demo into .cache/bin (the first build takes a minute or two)"
	@mkdir -p .cache/bin
	cd examples/raft-node && $(GO) build -o ../../.cache/bin/raft-node-demo .
	./.cache/bin/raft-node-demo demo $(DEMO_ARGS)

## e2e: the full stack on loopback: real OTel Collector, Jaeger, Alertmanager and Prometheus 3.16 fed three ways,
## and the rule tests under promtool 2.42 and 3.16 (the collector, Jaeger and Prometheus are built once, cached in
## .cache/bin; examples/otel-collector/README.md says how long a cold run takes)
e2e:
	cd examples/otel-collector/e2e && $(GO) test -tags e2e -count=1 -timeout 45m -v .

## fleet: FLEET_NODES simulated nodes (default 100) in 4 processes through the same stack: freshness,
## exactness and cost, written to examples/otel-collector/.e2e-logs/fleet-N<nodes>.md (not part of test or e2e);
## FLEET_ARGS="-fleet.interval=5s -fleet.scrape=5s" for the test's other flags (see examples/otel-collector/README.md)
FLEET_NODES ?= 100
FLEET_ARGS  ?=
fleet:
	cd examples/otel-collector/e2e && $(GO) test -tags 'e2e fleet' -run '^TestFleet$$' -count=1 -timeout 60m -v . -args -fleet.nodes=$(FLEET_NODES) $(FLEET_ARGS)

## fuzz: a short run of every fuzz target; the seed corpora run in make test.
## The budgets are counts of executions (about 10 s each on this project's 2-core machine), not
## durations: a duration -fuzztime fails at random with "context deadline exceeded" in Go 1.26
## (golang/go#75804, a race in the fuzz coordinator, fixed in Go 1.27). FUZZX=10 runs ten times as many.
## Minimizing a new input is capped at 2s: the corpora hold 1 MiB strings, which would stall the run.
FUZZX ?= 1
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReasonInEveryOutput$$' -fuzztime $$((25000*$(FUZZX)))x -fuzzminimizetime 2s ./otellifecycle
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalJSON$$' -fuzztime $$((100000*$(FUZZX)))x -fuzzminimizetime 2s ./otellifecycle
	cd exporters/sdnotify && $(GO) test -run '^$$' -fuzz '^FuzzDatagram$$' -fuzztime $$((6000*$(FUZZX)))x -fuzzminimizetime 2s .
	cd exporters/promexport && $(GO) test -run '^$$' -fuzz '^FuzzReasonInExposition$$' -fuzztime $$((5000*$(FUZZX)))x -fuzzminimizetime 2s .

## lint: no large file that is not text tracked; gofmt; and in every module go vet, go mod tidy -diff
## and staticcheck, with every set of build tags in LINT_TAGS (so the e2e and fleet files are
## checked too; add a set for a file another tag shuts out, such as "e2e,fleet,raftv37").
LINT_TAGS ?= e2e,fleet
lint: modules $(STATICCHECK) large-files mixin-check
	@out="$$(find . -name '*.go' -not -path './.cache/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l)"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@set -e; sc=""; if [ -x "$(STATICCHECK)" ]; then sc="$(STATICCHECK)"; else echo "lint: staticcheck not built: skipped"; fi; \
	for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) mod tidy -diff); \
		for tags in $(LINT_TAGS); do (cd $$m && $(GO) vet -tags "$$tags" ./... && \
			if [ -n "$$sc" ]; then "$$sc" -tags "$$tags" ./...; fi); done; done

## large-files: fail on a tracked file over 1 MiB that is not text (a build output, a data dump):
## build outputs go to .cache/, which .gitignore keeps out. Removing a file from the tree does not
## remove it from the history: the raft-node binary tracked from 9a21662 until 18b9de1 (31 MB)
## is still downloaded by every full clone.
large-files:
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "lint: not a git checkout: cannot list the tracked files"; exit 1; }; \
	bad="$$(git ls-files -s | awk -F '\t' '{ split($$1, a, " "); print a[2] " " $$2 }' | \
		git cat-file --batch-check='%(objectsize) %(objectname) %(rest)' | \
		while read -r size object path; do \
			if [ "$$size" -gt 1048576 ] && ! git cat-file blob "$$object" | grep -qI .; then echo "  $$path ($$size bytes)"; fi; \
		done)"; \
	if [ -n "$$bad" ]; then echo "tracked files over 1 MiB that are not text (build outputs belong in .cache/; git rm --cached them):"; echo "$$bad"; exit 1; fi

## mixin: render the monitoring mixin (mixin/mixin.libsonnet) with go-jsonnet into the files the examples
## load, configured by examples/otel-collector/mixin.jsonnet: the alert rules (alerts.yml) and the Grafana
## dashboards (grafana/dashboards/). mixin-check, part of make lint, fails when they differ from a fresh render.
MIXIN_ARGS := -root $(CURDIR) -config examples/otel-collector/mixin.jsonnet \
	-alerts examples/otel-collector/alerts.yml -dashboards examples/otel-collector/grafana/dashboards
.PHONY: mixin mixin-check
mixin:
	cd mixin && $(GO) run ./cmd/mixin $(MIXIN_ARGS)
mixin-check:
	@cd mixin && $(GO) run ./cmd/mixin $(MIXIN_ARGS) -check

## tidy: go mod tidy in every module
tidy:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) mod tidy); done

## bench: every benchmark of every module with allocation figures (BENCH=regexp to pick)
bench:
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(COUNT) ./...); done
