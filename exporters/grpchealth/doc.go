// Package grpchealth tells gRPC health checkers (grpc-health-probe, a
// Kubernetes grpc probe, Envoy, a client's load balancer) about a node's
// cluster lifecycle, through grpc's own health.Server, as a Sink of an
// otellifecycle.Tracker.
//
// A node is worth sending requests to only while it is a serving member of
// its cluster: not while it starts or joins, not while it drains, not after
// it failed. gRPC's health server knows none of that (and reports "" as
// SERVING from the moment it is created); this sink keeps it in step with
// the tracker:
//
//	health := health.NewServer()
//	healthpb.RegisterHealthServer(grpcServer, health)
//	tracker, err := otellifecycle.New(otellifecycle.WithSinks(grpchealth.New(health)))
//	if err != nil {
//		return err
//	}
//	defer tracker.Close()
//
// New takes the service names to keep in step; no names means the whole
// server, "". New sets them NOT_SERVING at once, before the tracker exists
// (a new tracker is Starting), so no checker ever sees grpc's default
// SERVING. Then every transition sets them:
//
//	Phase          Status of the services
//	Starting       NOT_SERVING
//	Restarting     NOT_SERVING
//	Bootstrapping  NOT_SERVING
//	Joining        NOT_SERVING
//	Ready          SERVING
//	Draining       NOT_SERVING (before the node stops taking traffic, so a load balancer drains it)
//	Failed         NOT_SERVING
//	Stopping       server.Shutdown(): every service of the health server NOT_SERVING, frozen
//
// Stopping is final for the health server: Shutdown makes every service it
// knows NOT_SERVING, the ones this sink was not given too, and grpc ignores
// every later SetServingStatus, so later transitions change nothing. A
// service that wants to serve again after Stopping must call server.Resume()
// itself. Resume is grpc's: it makes every service SERVING at once, before
// the tracker says so; the sink's next transition sets the true status (the
// next Ready SERVING, anything else NOT_SERVING), so move the tracker right
// after Resume (to Starting, say) or call Resume only once the node is Ready
// again.
//
// Notify only sets statuses in memory (grpc's Watch streams get them through
// latest-value-wins channels, so a slow watcher never blocks it); it never
// blocks for long and always returns nil.
package grpchealth
