package otellifecycle_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// BenchmarkStatusHandler: one GET /cluster/status with a full default
// history (32 transitions) and two attributes.
func BenchmarkStatusHandler(b *testing.B) {
	tr := newTracker(b, otellifecycle.WithAttributes(attribute.String("node.id", "n1"), attribute.Int("shard", 7)))
	for i := range otellifecycle.DefaultHistory {
		tr.ToJoining(b.Context(), uint32(i))
	}
	tr.ToFailed(b.Context(), `peer said "no" <b>`)
	h := tr.StatusHandler()
	req := httptest.NewRequest(http.MethodGet, "/cluster/status", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
