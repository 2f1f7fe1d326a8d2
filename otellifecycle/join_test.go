package otellifecycle_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

func TestDefaultJoinBackoffIsTheOriginsEightSteps(t *testing.T) {
	want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	got := otellifecycle.DefaultJoinBackoff()
	if !slices.Equal(got, want) {
		t.Fatalf("DefaultJoinBackoff = %v, want %v", got, want)
	}
	got[0] = time.Hour // a new slice each time
	if otellifecycle.DefaultJoinBackoff()[0] != 0 {
		t.Fatal("DefaultJoinBackoff returned a shared slice")
	}
}
