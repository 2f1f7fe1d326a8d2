package engine

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/lifecyclekit/lifecycle/otellifecycle"
)

// Config is what an engine module's options build. A module's Option is
// sealed in the module (an unexported apply(Config) Config); its With*
// functions are the setters below, so that every module validates an
// option the same way and names it in the same words.
type Config struct {
	// Package names the module in the errors: "lifecycleraft".
	Package string

	LeaderlessTimeout time.Duration
	PollInterval      time.Duration
	JoinBackoff       []time.Duration
	MeterProvider     metric.MeterProvider // nil: the tracker's
	Attributes        []attribute.KeyValue // added to the tracker's

	errs []error // one per invalid option, naming it
}

// NewConfig is the Config of module pkg before its options:
// otellifecycle.DefaultJoinBackoff, and no leaderless timeout or poll
// interval, which the module sets to its own exported defaults.
func NewConfig(pkg string) Config {
	return Config{Package: pkg, JoinBackoff: otellifecycle.DefaultJoinBackoff()}
}

// Invalid records the error of an invalid option; format starts with the
// option's name, and the error with the module's.
func (c Config) Invalid(format string, args ...any) Config {
	c.errs = append(slices.Clip(c.errs), fmt.Errorf(c.Package+": "+format, args...))
	return c
}

// Err is every invalid option's error, joined in the order the options
// came, or nil: the constructor's error.
func (c Config) Err() error { return errors.Join(c.errs...) }

// LeaderlessTimeout is WithLeaderlessTimeout: d must be > 0.
func LeaderlessTimeout(d time.Duration) func(Config) Config {
	return func(c Config) Config {
		if d <= 0 {
			return c.Invalid("WithLeaderlessTimeout: must be > 0, got %v", d)
		}
		c.LeaderlessTimeout = d
		return c
	}
}

// PollInterval is WithPollInterval: d must be > 0.
func PollInterval(d time.Duration) func(Config) Config {
	return func(c Config) Config {
		if d <= 0 {
			return c.Invalid("WithPollInterval: must be > 0, got %v", d)
		}
		c.PollInterval = d
		return c
	}
}

// JoinBackoff is WithJoinBackoff: at least one delay, none negative. It
// copies delays at once, so the caller's slice is the caller's again.
func JoinBackoff(delays []time.Duration) func(Config) Config {
	delays = slices.Clone(delays)
	return func(c Config) Config {
		if len(delays) == 0 {
			return c.Invalid("WithJoinBackoff: at least one delay is needed")
		}
		for i, d := range delays {
			if d < 0 {
				return c.Invalid("WithJoinBackoff: delay %d must be ≥ 0, got %v", i, d)
			}
		}
		c.JoinBackoff = delays
		return c
	}
}

// MeterProvider is WithMeterProvider: nil means the tracker's.
func MeterProvider(p metric.MeterProvider) func(Config) Config {
	return func(c Config) Config {
		c.MeterProvider = p
		return c
	}
}

// Attributes is WithAttributes: each call adds to the previous ones. It
// copies attrs at once.
func Attributes(attrs []attribute.KeyValue) func(Config) Config {
	attrs = slices.Clone(attrs)
	return func(c Config) Config {
		c.Attributes = append(slices.Clone(c.Attributes), attrs...)
		return c
	}
}
