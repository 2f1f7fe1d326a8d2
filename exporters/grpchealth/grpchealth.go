package grpchealth

import (
	"context"
	"strings"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Sink keeps services of a grpc health.Server in step with a tracker's
// lifecycle (see the package documentation for the table). Create it with
// New; it is safe for concurrent use.
type Sink struct {
	server   *health.Server
	services []string
}

// New returns a Sink for the named services of server ("" when none is
// named: the whole server) and sets them NOT_SERVING at once. server must
// not be nil.
func New(server *health.Server, services ...string) *Sink {
	if server == nil {
		panic("grpchealth: New: server is nil")
	}
	if len(services) == 0 {
		services = []string{""}
	}
	s := &Sink{server: server, services: append([]string(nil), services...)}
	s.set(healthpb.HealthCheckResponse_NOT_SERVING)
	return s
}

// String names the sink in the tracker's reports.
func (s *Sink) String() string {
	return "grpchealth(" + strings.Join(s.services, ",") + ")"
}

// Notify sets the services' status for t.To: SERVING when Ready,
// NOT_SERVING otherwise, and Stopping shuts the health server down. It
// always returns nil.
func (s *Sink) Notify(_ context.Context, t otellifecycle.Transition) error {
	switch t.To.Phase {
	case otellifecycle.Ready:
		s.set(healthpb.HealthCheckResponse_SERVING)
	case otellifecycle.Stopping:
		// Every service NOT_SERVING, and grpc ignores later changes until
		// someone calls Resume.
		s.server.Shutdown()
	default:
		s.set(healthpb.HealthCheckResponse_NOT_SERVING)
	}
	return nil
}

func (s *Sink) set(status healthpb.HealthCheckResponse_ServingStatus) {
	for _, name := range s.services {
		s.server.SetServingStatus(name, status)
	}
}
