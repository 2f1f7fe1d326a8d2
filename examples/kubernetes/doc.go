// Package kubernetes holds the tests of the manifests beside it, which run
// examples/raft-node as a three-node StatefulSet: raft-node.yaml, the gRPC
// probe patch raft-node-grpc-probes.yaml and the Dockerfile that builds the
// image they run. A misspelled field, a flag raft-node no longer defines or
// a probe path it no longer serves would otherwise show only in someone's
// cluster, as a pod that never becomes Ready or a setting silently ignored.
//
// The tests need no cluster. Each YAML document is decoded into its
// Kubernetes type (k8s.io/api) as strictly as the API server's field
// validation decodes it: unknown, duplicate and wrongly-cased fields,
// values of the wrong type and unknown kinds are errors. The gRPC patch is
// applied as kubectl patch applies a strategic merge patch, and the result
// must pass every check the original passes. The checks then hold the
// manifests to raft-node's source (its flags and HTTP routes, read with
// go/parser), to each other (ports, names, seeds, env references, the
// Service that governs the StatefulSet) and to the timings the README
// explains: the startup probe outlasts the join backoff, the grace period
// holds the preStop sleep, the drain and the stop, and -admin is never set.
//
// It is a module of its own so that only it requires Kubernetes' packages.
// The package has no code: only this documentation and the tests.
package kubernetes
