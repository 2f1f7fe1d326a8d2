// Package compose holds the tests of ../docker-compose.yaml, the full stack
// for people with Docker, run where there is no Docker engine: nobody
// would otherwise notice that the file no longer loads, or that it
// publishes a port the configs moved away from, until a user's
// `docker compose up` fails or shows an empty dashboard.
//
// The file is loaded by compose-go, the loader `docker compose` itself
// uses, with schema validation, interpolation and the consistency check
// on, so a misspelled key fails here as it would there. The tests then
// check what needs no engine, against the files the stack runs with:
//
//   - every bind mount exists in the repository, and each program's config
//     path (collector.yaml, jaeger.yaml, prometheus.yml and its rule files,
//     alertmanager.yml, Grafana's provisioning and dashboards) is mounted
//     where its command reads it;
//   - every address one program gives another names a service and the port
//     that service's config listens on: the nodes' OTLP endpoint, the
//     collector's Jaeger endpoint, Prometheus's scrape targets (and those of
//     prometheus-direct.yml) and Alertmanager, Grafana's data source; and
//     the ports the top comment tells people to open are published;
//   - the nodes (examples/raft-node, one per container) use only flags
//     raft-node defines, advertise their service names, list each other as
//     seeds, keep Raft state in a volume of their own, and report healthy
//     through their own /readyz;
//   - the start order: the nodes after the one build and the collector,
//     and no node waiting for another's readiness (after a restart of the
//     whole stack none is Ready until a quorum runs).
//
// It is a module of its own so that compose-go is required by nothing
// else. The package has no code: only this documentation and the tests.
package compose
