// Package e2e runs the example stack for real: the OpenTelemetry
// Collector built from ../collector, Jaeger v1.75.0 built from ../jaeger,
// Prometheus 3.16 built from its module, Debian's Alertmanager 0.25 and
// promtool 2.42, and three raft-node processes (a Raft cluster, through a
// failover, a lost quorum and a dead node), all on 127.0.0.1, with the
// same collector, Prometheus and Alertmanager files, rendered alerts and
// dashboard this folder ships. Run it with `make e2e`.
//
// Built binaries are cached in .cache/bin at the top of the repository,
// keyed by version (the collector also by a hash of its module's main.go,
// go.mod and go.sum). The logs of every program go to
// examples/otel-collector/.e2e-logs/<time>/, which is removed when the
// test passes and kept (and named) when it fails.
//
// Its tests carry the e2e build tag, so `go test ./...` in this module
// builds them only with -tags e2e.
package e2e
