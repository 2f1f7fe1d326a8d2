package otellifecycle

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
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
	memberSpans     bool
	detailed        bool
	status          bool
	noSpanEvents    bool
	shaping         []string // the metric-shaping SharedOptions given, by name
	errs            []error
}

// Option configures a Tracker (see New). Options are applied in order; for
// options that set one value, the last wins. The interface is sealed: only
// this package's With* functions make Options.
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

// SharedOption is an option that fits both New and NewGroup. Which
// constructor an option fits is part of its type, so an option given to
// the wrong one does not compile:
//
//	otellifecycle.New(otellifecycle.WithoutTrackerSeries())    // does not compile: a GroupOption
//	otellifecycle.NewGroup(otellifecycle.WithSinks(sink))       // does not compile: an Option
//	otellifecycle.NewGroup(otellifecycle.WithMetricName("x.y")) // compiles: a SharedOption
//
// The SharedOptions shape a tracker's metrics: WithMeterProvider,
// WithMetricName, WithStateAttributeKey, WithStatusMetric,
// WithDetailedMetrics, and WithAttributes. Given to New, they shape the
// tracker's own metrics; given to NewGroup, the metrics of every member,
// which all report through the Group's one registration. So a member
// (New with WithGroup) takes none of them but WithAttributes, whose
// attributes (a shard id) are added to its series after the Group's (a
// node id): New fails, naming them, when a member is given the others.
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

// shapes marks c as shaped by the SharedOption name, which a member of a
// Group may not take (see SharedOption).
func (c config) shapes(name string) config {
	c.shaping = append(c.shaping, name)
	return c
}

func (c config) fail(format string, args ...any) config {
	c.errs = append(c.errs, fmt.Errorf("otellifecycle: "+format, args...))
	return c
}

// WithMeterProvider sets where metrics go. Nil is ignored; the default is
// otel.GetMeterProvider().
func WithMeterProvider(p metric.MeterProvider) SharedOption {
	return sharedOption(func(c config) config {
		if p != nil {
			c.meterProvider = p
		}
		return c.shapes("WithMeterProvider")
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
// A tracker's attributes are on every metric point, every span, every
// OpenTelemetry log record and slog record, and the status endpoint's
// "attributes". A Group's are on every metric point it reports, its
// aggregates' and every member's, before the member's own.
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

// WithMetricName renames the state gauge (default
// "cluster.lifecycle.state"). With "nodedb.cluster.state" the Prometheus
// exposition has the nodedb_cluster_state{state="…"} series of the Rust
// tracker this package descends from.
func WithMetricName(name string) SharedOption {
	return sharedOption(func(c config) config {
		if !instrumentName.MatchString(name) {
			return c.fail("WithMetricName: %q is not a valid instrument name (want %s)", name, instrumentName)
		}
		c.metricName = name
		return c.shapes("WithMetricName")
	})
}

// WithStateAttributeKey renames the attribute that carries the phase's
// label (default "state"), on the state gauge, the phase entries and the
// phase durations, and a Group's cluster.lifecycle.count.
func WithStateAttributeKey(key string) SharedOption {
	return sharedOption(func(c config) config {
		if !attribute.Key(key).Defined() {
			return c.fail("WithStateAttributeKey: key must not be empty")
		}
		c.stateKey = key
		return c.shapes("WithStateAttributeKey")
	})
}

// Names of WithStatusMetric's instrument and attribute.
const (
	StatusMetricName = "cluster.lifecycle.status"
	StatusStateKey   = "cluster.lifecycle.state"
)

// WithStatusMetric reports the state in the shape of OpenTelemetry's
// semantic conventions for status metrics (semantic-conventions v1.44.0,
// docs/how-to-write-conventions/status-metrics.md): an UpDownCounter named
// cluster.lifecycle.status (StatusMetricName), unit "1", with the
// attribute cluster.lifecycle.state (StatusStateKey), every state reported
// at every collection, 1 for the current one and 0 for the others. Its sum
// over a fleet counts the nodes in each state. The attribute key is the
// phase entries' and durations' too, so one key joins them all. In
// Prometheus it is cluster_lifecycle_status{cluster_lifecycle_state="ready"}.
//
// The default stays the one-hot observable gauge cluster.lifecycle.state
// {state=…}, the Rust tracker's shape, which existing dashboards read.
// WithMetricName and WithStateAttributeKey given after WithStatusMetric
// rename its instrument and attribute.
func WithStatusMetric() SharedOption {
	return sharedOption(func(c config) config {
		c.status = true
		c.metricName = StatusMetricName
		c.stateKey = StatusStateKey
		return c.shapes("WithStatusMetric")
	})
}

// WithDetailedMetrics adds what the default leaves out for the sake of
// series: the transitions counter cluster.lifecycle.transitions{from, to}
// (up to 64 series per tracker), and durations of every phase, not only
// Joining and Failed, on 18 finer buckets, 5 ms to an hour (21 series per
// phase). With it one tracker may cost up to 250 series, against at most
// 40 by default (see the package documentation, "Series").
func WithDetailedMetrics() SharedOption {
	return sharedOption(func(c config) config {
		c.detailed = true
		return c.shapes("WithDetailedMetrics")
	})
}

// WithoutSpanEvents leaves out the span event cluster.lifecycle.transition,
// on the episode span and on the caller's span, and keeps everything else
// of the trace (the episode and phase spans, their attributes, links and
// status). The transition is then one event, the OpenTelemetry log record
// of the same name: use it where events go through the Logs API, as
// OpenTelemetry now recommends, and where a bridge that turns log events
// into span events (in an SDK or a collector) would otherwise duplicate
// every one.
func WithoutSpanEvents() Option {
	return optionFunc(func(c config) config {
		c.noSpanEvents = true
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

// checkMember fails when a member of a Group is given metric-shaping
// options, which the Group's own options decide (see SharedOption).
func (c config) checkMember() config {
	if c.group != nil && len(c.shaping) > 0 {
		c = c.fail("WithGroup: a member reports through its Group's metrics, so %s would have no effect: give them to NewGroup",
			strings.Join(c.shaping, ", "))
	}
	return c
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
