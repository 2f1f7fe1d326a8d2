package otelsetup_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// receiver is an in-process OTLP endpoint that keeps what it is sent:
// the collector's own gRPC services, or its HTTP/protobuf paths.
type receiver struct {
	mu      sync.Mutex
	spans   []string               // span names
	metrics []string               // metric names
	events  []string               // log record event names
	res     []*resourcepb.Resource // every resource seen
	headers []http.Header          // HTTP requests' headers
}

func (r *receiver) traces(req *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		r.res = append(r.res, rs.GetResource())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, s.GetName())
			}
		}
	}
}

func (r *receiver) metricsIn(req *colmetrics.ExportMetricsServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rm := range req.GetResourceMetrics() {
		r.res = append(r.res, rm.GetResource())
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				r.metrics = append(r.metrics, m.GetName())
			}
		}
	}
}

func (r *receiver) logs(req *collogs.ExportLogsServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rl := range req.GetResourceLogs() {
		r.res = append(r.res, rl.GetResource())
		for _, sl := range rl.GetScopeLogs() {
			for _, l := range sl.GetLogRecords() {
				r.events = append(r.events, l.GetEventName())
			}
		}
	}
}

type snapshot struct {
	spans, metrics, events []string
	res                    []*resourcepb.Resource
	headers                []http.Header
}

func (r *receiver) got() snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return snapshot{append([]string(nil), r.spans...), append([]string(nil), r.metrics...),
		append([]string(nil), r.events...), append([]*resourcepb.Resource(nil), r.res...), append([]http.Header(nil), r.headers...)}
}

type traceSvc struct {
	coltrace.UnimplementedTraceServiceServer
	r *receiver
}

func (s traceSvc) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	s.r.traces(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

type metricsSvc struct {
	colmetrics.UnimplementedMetricsServiceServer
	r *receiver
}

func (s metricsSvc) Export(_ context.Context, req *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	s.r.metricsIn(req)
	return &colmetrics.ExportMetricsServiceResponse{}, nil
}

type logsSvc struct {
	collogs.UnimplementedLogsServiceServer
	r *receiver
}

func (s logsSvc) Export(_ context.Context, req *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	s.r.logs(req)
	return &collogs.ExportLogsServiceResponse{}, nil
}

// listen listens on addr, a loopback address.
func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// grpcReceiver serves OTLP/gRPC on a loopback port and returns its address.
func grpcReceiver(t testing.TB) (*receiver, string) {
	return grpcReceiverOn(t, listen(t, "127.0.0.1:0"))
}

// grpcReceiverOn serves OTLP/gRPC on lis and returns its address.
func grpcReceiverOn(t testing.TB, lis net.Listener) (*receiver, string) {
	r := &receiver{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, traceSvc{r: r})
	colmetrics.RegisterMetricsServiceServer(srv, metricsSvc{r: r})
	collogs.RegisterLogsServiceServer(srv, logsSvc{r: r})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return r, lis.Addr().String()
}

// httpReceiver serves OTLP/HTTP (protobuf) on a loopback port and returns
// its base URL.
func httpReceiver(t testing.TB) (*receiver, string) {
	return httpReceiverOn(t, listen(t, "127.0.0.1:0"))
}

// httpReceiverOn serves OTLP/HTTP (protobuf), in plain text, on lis and
// returns its base URL.
func httpReceiverOn(t testing.TB, lis net.Listener) (*receiver, string) {
	r := &receiver{}
	decode := func(w http.ResponseWriter, req *http.Request, msg proto.Message) bool {
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		body, err := io.ReadAll(req.Body)
		if err != nil || req.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, msg) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return false
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		return true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		var m coltrace.ExportTraceServiceRequest
		if decode(w, req, &m) {
			r.traces(&m)
		}
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		var m colmetrics.ExportMetricsServiceRequest
		if decode(w, req, &m) {
			r.metricsIn(&m)
		}
	})
	mux.HandleFunc("POST /v1/logs", func(w http.ResponseWriter, req *http.Request) {
		var m collogs.ExportLogsServiceRequest
		if decode(w, req, &m) {
			r.logs(&m)
		}
	})
	srv := &httptest.Server{Listener: lis, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func attr(res *resourcepb.Resource, key string) string {
	for _, kv := range res.GetAttributes() {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}
