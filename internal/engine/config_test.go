package engine_test

import (
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/lifecyclekit/lifecycle/internal/engine"
	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// apply applies sets to the Config of a module named "lifecyclex".
func apply(sets ...func(engine.Config) engine.Config) engine.Config {
	c := engine.NewConfig("lifecyclex")
	for _, set := range sets {
		c = set(c)
	}
	return c
}

// Every invalid value is an error that names the module and the option;
// none is ignored, and none changes the value it would have set.
func TestInvalidOptionsAreErrorsNamingModuleAndOption(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(engine.Config) engine.Config
		want string
	}{
		{"zero leaderless timeout", engine.LeaderlessTimeout(0), "lifecyclex: WithLeaderlessTimeout: must be > 0, got 0s"},
		{"negative poll interval", engine.PollInterval(-time.Second), "lifecyclex: WithPollInterval: must be > 0, got -1s"},
		{"no join delay", engine.JoinBackoff(nil), "lifecyclex: WithJoinBackoff: at least one delay is needed"},
		{"negative join delay", engine.JoinBackoff([]time.Duration{0, -time.Millisecond}), "lifecyclex: WithJoinBackoff: delay 1 must be ≥ 0, got -1ms"},
	} {
		c := apply(tc.set)
		if err := c.Err(); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if !slices.Equal(c.JoinBackoff, otellifecycle.DefaultJoinBackoff()) || c.LeaderlessTimeout != 0 || c.PollInterval != 0 {
			t.Errorf("%s: the invalid value was set: %+v", tc.name, c)
		}
	}
}

// Errors come one per invalid option, in the order of the options, and a
// Config without them has none; a valid option after an invalid one does
// not hide it.
func TestErrIsEveryInvalidOptionInOrder(t *testing.T) {
	if err := apply(engine.PollInterval(time.Second)).Err(); err != nil {
		t.Errorf("valid options: %v", err)
	}
	err := apply(engine.PollInterval(0), engine.LeaderlessTimeout(-1), engine.LeaderlessTimeout(time.Second)).Err()
	want := "lifecyclex: WithPollInterval: must be > 0, got 0s\nlifecyclex: WithLeaderlessTimeout: must be > 0, got -1ns"
	if err == nil || err.Error() != want {
		t.Errorf("%v, want %q", err, want)
	}
}

// Valid values are set, the last of those that set one value winning;
// WithAttributes adds; the caller's slices are copied when the option is
// made, so changing them afterwards changes nothing.
func TestValidOptionsSetTheirValue(t *testing.T) {
	delays := []time.Duration{0, time.Second}
	a, b := attribute.String("a", "1"), attribute.String("b", "2")
	attrs := []attribute.KeyValue{a}
	mp := noop.NewMeterProvider()
	sets := []func(engine.Config) engine.Config{
		engine.LeaderlessTimeout(time.Minute), engine.LeaderlessTimeout(time.Second),
		engine.PollInterval(time.Millisecond),
		engine.JoinBackoff(delays),
		engine.MeterProvider(mp),
		engine.Attributes(attrs), engine.Attributes([]attribute.KeyValue{b}),
	}
	delays[1], attrs[0] = time.Hour, b
	c := apply(sets...)
	if c.Err() != nil || c.LeaderlessTimeout != time.Second || c.PollInterval != time.Millisecond ||
		!slices.Equal(c.JoinBackoff, []time.Duration{0, time.Second}) || c.MeterProvider != mp ||
		!slices.Equal(c.Attributes, []attribute.KeyValue{a, b}) || c.Package != "lifecyclex" {
		t.Errorf("%+v", c)
	}
}
