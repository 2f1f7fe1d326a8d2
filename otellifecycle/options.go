package otellifecycle

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the options.
const (
	DefaultHistory      = 32
	DefaultSinkQueue    = 1024
	DefaultCloseTimeout = 5 * time.Second
	DefaultMetricName   = "cluster.lifecycle.state"
	DefaultStateKey     = "state"

	// maxHistory and maxSinkQueue keep a typo from reserving gigabytes.
	maxHistory   = 1 << 16
	maxSinkQueue = 1 << 20
)

// config is what the options build, for a Tracker or a Group. Its zero
// value is not meaningful; see defaultConfig.
type config struct {
	meterProvider   metric.MeterProvider
	tracerProvider  trace.TracerProvider
	loggerProvider  otellog.LoggerProvider
	logger          *slog.Logger
	sinks           []Sink
	history         int
	sinkQueue       int
	closeTimeout    time.Duration
	attrs           []attribute.KeyValue
	metricName      string
	stateKey        string
	now             func() time.Time
	policy          func(from, to State) error
	live            func(State) bool
	redact          bool
	group           *Group
	noTrackerSeries bool
	errs            []error
}

// Option configures a Tracker (see New). Options are applied in order; for
// options that set one value, the last wins. The interface is sealed: only
// this package's With* functions make Options.
//
// Which constructor an option fits is part of its type, so giving one to
// the wrong constructor does not compile. Options that shape a Group's
// metrics as well (WithMeterProvider, WithMetricName,
// WithStateAttributeKey, WithAttributes) are both an Option and a
// GroupOption; WithoutTrackerSeries is a GroupOption only:
//
//	otellifecycle.New(otellifecycle.WithoutTrackerSeries())    // does not compile
//	otellifecycle.NewGroup(otellifecycle.WithSinks(sink))       // does not compile
//	otellifecycle.NewGroup(otellifecycle.WithMetricName("x.y")) // compiles: fits both
type Option interface {
	apply(config) config
}

// GroupOption configures a Group (see NewGroup). Like Option it is sealed
// and applied in order, the last of the options that set one value winning.
type GroupOption interface {
	applyGroup(config) config
}

// optionFunc is an option of New only.
type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// groupOptionFunc is an option of NewGroup only.
type groupOptionFunc func(config) config

func (f groupOptionFunc) applyGroup(c config) config { return f(c) }

// SharedOption is an option that fits both New and NewGroup:
// WithMeterProvider, WithMetricName, WithStateAttributeKey and
// WithAttributes.
type SharedOption interface {
	Option
	GroupOption
}

// sharedOption is the one implementation of SharedOption.
type sharedOption func(config) config

func (f sharedOption) apply(c config) config      { return f(c) }
func (f sharedOption) applyGroup(c config) config { return f(c) }

var (
	_ Option      = sharedOption(nil)
	_ GroupOption = sharedOption(nil)
)

func (c config) fail(format string, args ...any) config {
	c.errs = append(c.errs, fmt.Errorf("otellifecycle: "+format, args...))
	return c
}

// WithMeterProvider sets where metrics go. Nil is ignored; the default is
// otel.GetMeterProvider().
//
// It fits both New and NewGroup. In New it is the provider of the
// tracker's own meter; in NewGroup, of the Group's one meter, which
// reports every member. A tracker made WithGroup reports through its
// Group's meter, so there its own WithMeterProvider has no effect.
func WithMeterProvider(p metric.MeterProvider) SharedOption {
	return sharedOption(func(c config) config {
		if p != nil {
			c.meterProvider = p
		}
		return c
	})
}

// WithTracerProvider sets where spans and span events go. Nil is ignored;
// the default is otel.GetTracerProvider().
func WithTracerProvider(p trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.tracerProvider = p
		}
		return c
	})
}

// WithLoggerProvider sets where OpenTelemetry log events go. Nil is
// ignored; the default is otel.GetLoggerProvider(), a no-op until one is
// set.
func WithLoggerProvider(p otellog.LoggerProvider) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.loggerProvider = p
		}
		return c
	})
}

// WithLogger sets the slog.Logger that gets one INFO record per transition.
// Nil is ignored; the default is slog.Default() at the time of New.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config {
		if l != nil {
			c.logger = l
		}
		return c
	})
}

// WithSinks adds sinks that get every transition, each from its own
// goroutine and bounded queue (see Sink). Nil sinks are an error.
func WithSinks(sinks ...Sink) Option {
	return optionFunc(func(c config) config {
		for i, s := range sinks {
			if s == nil {
				return c.fail("WithSinks: sink %d is nil", i)
			}
		}
		c.sinks = append(c.sinks, sinks...)
		return c
	})
}

// WithHistory sets how many transitions History and the status endpoint
// keep, newest last. 0 keeps none. Default 32.
func WithHistory(n int) Option {
	return optionFunc(func(c config) config {
		if n < 0 || n > maxHistory {
			return c.fail("WithHistory: n must be between 0 and %d, got %d", maxHistory, n)
		}
		c.history = n
		return c
	})
}

// WithSinkQueue sets how many transitions each sink's queue holds before
// the oldest is dropped (and counted in Stats). Default 1024.
func WithSinkQueue(n int) Option {
	return optionFunc(func(c config) config {
		if n < 1 || n > maxSinkQueue {
			return c.fail("WithSinkQueue: n must be between 1 and %d, got %d", maxSinkQueue, n)
		}
		c.sinkQueue = n
		return c
	})
}

// WithCloseTimeout bounds how long Close waits for sinks to drain their
// queues. Default 5s.
func WithCloseTimeout(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d <= 0 {
			return c.fail("WithCloseTimeout: must be > 0, got %v", d)
		}
		c.closeTimeout = d
		return c
	})
}

// WithAttributes adds attributes that identify what is tracked (a node id,
// a shard id). Keys must be valid and must not collide with the state
// attribute key (see WithStateAttributeKey).
//
// It fits both New and NewGroup. In New they identify the tracker: they
// are on every metric point, every span, every OpenTelemetry log record
// and the status endpoint's "attributes". In NewGroup they identify the
// group (a node id): they are on every metric point the Group reports,
// its aggregates' and every member's. A member's own WithAttributes (a
// shard id) are added to its series after the Group's.
func WithAttributes(attrs ...attribute.KeyValue) SharedOption {
	return sharedOption(func(c config) config {
		for _, kv := range attrs {
			if !kv.Valid() {
				return c.fail("WithAttributes: invalid attribute %q", kv.Key)
			}
		}
		c.attrs = append(c.attrs, attrs...)
		return c
	})
}

// instrumentName is OpenTelemetry's instrument name syntax.
var instrumentName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_./-]{0,254}$`)

// WithMetricName renames the one-hot state gauge (default
// "cluster.lifecycle.state"). With "nodedb.cluster.state" the Prometheus
// exposition has the origin's nodedb_cluster_state{state="…"} series.
//
// It fits both New and NewGroup. In New it names the tracker's own gauge;
// in NewGroup, the gauge every member of the Group reports on. A tracker
// made WithGroup reports on its Group's gauge, so there its own
// WithMetricName has no effect.
func WithMetricName(name string) SharedOption {
	return sharedOption(func(c config) config {
		if !instrumentName.MatchString(name) {
			return c.fail("WithMetricName: %q is not a valid instrument name (want %s)", name, instrumentName)
		}
		c.metricName = name
		return c
	})
}

// WithStateAttributeKey renames the state gauge's attribute (default
// "state").
//
// It fits both New and NewGroup. In New it is the key of the tracker's own
// gauge; in NewGroup, of the gauge every member reports on and of the
// Group's cluster.lifecycle.count. A tracker made WithGroup reports with
// its Group's key (its WithAttributes must not collide with that one), so
// there its own WithStateAttributeKey has no effect.
func WithStateAttributeKey(key string) SharedOption {
	return sharedOption(func(c config) config {
		if !attribute.Key(key).Defined() {
			return c.fail("WithStateAttributeKey: key must not be empty")
		}
		c.stateKey = key
		return c
	})
}

// WithClock sets the clock used to time transitions. Nil is ignored.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c config) config {
		if now != nil {
			c.now = now
		}
		return c
	})
}

// WithTransitionPolicy installs a check that runs before every transition,
// inside the writers' critical section. Returning nil allows it; returning
// an error rejects it: the state does not change, Set returns the error,
// the To* methods report it through otel.Handle, a WARN record is logged,
// and Stats().Rejected counts it. To only flag a transition, log from the
// policy and return nil. The default allows any → any, as operators need
// (a force-bootstrap after Failed is legal).
func WithTransitionPolicy(policy func(from, to State) error) Option {
	return optionFunc(func(c config) config {
		c.policy = policy
		return c
	})
}

// WithLiveness decides what /livez reports as live. The default is every
// phase but Failed, so a supervisor restarts a node whose lifecycle failed.
// Nil is ignored.
func WithLiveness(live func(State) bool) Option {
	return optionFunc(func(c config) config {
		if live != nil {
			c.live = live
		}
		return c
	})
}

// checkStateKey fails when an attribute would collide with the state
// attribute of the gauge the tracker reports to.
func (c config) checkStateKey(key string) config {
	for _, kv := range c.attrs {
		if string(kv.Key) == key {
			c = c.fail("WithAttributes: key %q is the state attribute key; rename one with WithStateAttributeKey", kv.Key)
		}
	}
	return c
}

// Redacted is what the status endpoint and the verbose probes show instead
// of a failure reason under WithRedactedStatus.
const Redacted = "<redacted>"

// WithRedactedStatus keeps failure reasons out of what the tracker serves
// over HTTP: StatusHandler and the verbose probes show the reason as
// Redacted. Reasons may hold hostnames, addresses or secrets; logs, spans,
// log events and sinks still get them in full.
func WithRedactedStatus() Option {
	return optionFunc(func(c config) config {
		c.redact = true
		return c
	})
}

// defaultConfig is the configuration before any option.
func defaultConfig() config {
	return config{
		history:      DefaultHistory,
		sinkQueue:    DefaultSinkQueue,
		closeTimeout: DefaultCloseTimeout,
		metricName:   DefaultMetricName,
		stateKey:     DefaultStateKey,
		now:          time.Now,
		live:         func(s State) bool { return s.Phase != Failed },
	}
}

// trackerConfig applies New's options, in order, to the defaults.
func trackerConfig(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// groupConfig applies NewGroup's options, in order, to the defaults.
func groupConfig(opts []GroupOption) config {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			c = o.applyGroup(c)
		}
	}
	return c
}
