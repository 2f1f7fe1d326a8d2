// Package otellifecycle makes a clustered service's lifecycle observable
// the OpenTelemetry way.
//
// It descends from a Rust tracker (ClusterLifecycleTracker, in a database
// server): that tracker's phase labels, JSON shape and log and systemd
// STATUS= texts are kept here byte for byte, so dashboards, alerts and
// scripts written against it keep working; everything else goes beyond it.
//
// # Who reads the lifecycle, and why
//
// A node of a database, a broker or a control plane goes through phases:
// it starts, bootstraps a new cluster or joins an existing one (perhaps
// after several attempts), becomes ready, drains and stops, and sometimes
// fails. Many readers need that one fact, each in its own form:
//
//   - an operator in Grafana or Prometheus wants a one-hot gauge
//     (cluster_lifecycle_state{state="ready"} 1) and alerts on it;
//   - an operator in Jaeger wants to see cluster formation as a waterfall:
//     how long each join attempt took, and why the episode failed;
//   - a post-mortem wants one log record per transition;
//   - Kubernetes wants /readyz and /livez, systemd wants READY=1 and STATUS=;
//   - the service's own code wants Current(), IsReady() and WaitReady().
//
// A service holds one Tracker and calls a To* method at each phase change.
// The Tracker fans that fact out, consistently and cheaply, to all of them.
//
// # Phases
//
//	Phase          label          payload           Detail (log detail, systemd STATUS=)
//	Starting       starting       –                 starting
//	Restarting     restarting     –                 restart
//	Bootstrapping  bootstrapping  –                 bootstrapping new cluster
//	Joining        joining        Attempt (from 0)  joining cluster (attempt N)
//	Ready          ready          Nodes             ready (N nodes)
//	Draining       draining       –                 draining
//	Stopping       stopping       –                 stopping
//	Failed         failed         Reason            failed: <reason>
//
// Transitions are any → any on purpose: after a failure an operator may
// force a bootstrap, so Joining{3} → Failed → Joining{0} → Ready{3} is a
// legal path. WithTransitionPolicy can reject transitions a service
// considers impossible.
//
// # Consistency
//
// Readers never lock: Current and IsReady are one atomic load. Writers are
// serialized, and everything a transition produces (history, the slog
// record, metrics, span events, log events, subscriber and sink deliveries)
// is produced inside one critical section, so every reader sees the same
// order, the order of Transition.Seq (1, 2, 3 … with no gaps). The state
// gauge reads one snapshot per collection, so no collection ever shows
// zero or two phases at 1. The slog log and every sink also get the
// initial state, as Seq 0, when the tracker is created: a destination
// knows the state from the moment it is attached.
//
// # Shutdown
//
// Move to Stopping when the service stops (that ends the last episode
// span), then close the tracker and shut the telemetry providers down, in
// either order. Close makes the MeterProvider export first (its ForceFlush,
// within WithCloseTimeout), so the natural
//
//	defer providers.Shutdown(ctx)
//	defer tracker.Close()
//
// (Close runs first) still exports the final state.
//
// Nothing slow can hold a transition up: subscribers get bounded channels
// that drop their oldest entry when full, and sinks are fed through their
// own bounded queues by their own goroutines. Every loss is counted in
// Stats.
//
// # Telemetry
//
// The meter, tracer and logger are named ScopeName. Providers default to
// the global ones, as in every contrib instrumentation; this package
// depends only on the OpenTelemetry API, and the caller chooses the SDK
// and exporters (see the exporters/ modules of this repository:
// otelsetup, promexport, sdnotify).
//
//	Metric                            Instrument              Unit          Attributes
//	cluster.lifecycle.state           Int64ObservableGauge    {state}       state (every label, one-hot)
//	cluster.lifecycle.phase.entries   Int64ObservableCounter  {entry}       state (the phase entered; all 8, from 0)
//	cluster.lifecycle.phase.duration  Float64Histogram        s             state (the phase left): Joining and Failed
//	cluster.lifecycle.join.attempt    Int64ObservableGauge    {attempt}     – (observed while joining)
//	cluster.lifecycle.nodes           Int64ObservableGauge    {node}        – (observed while ready)
//
// One attribute key, state (WithStateAttributeKey renames it), joins them
// all. WithAttributes (a node id, a shard id) are added to every point.
//
// The phase-entries counter is for alerts on brief states and for rates
// of change: the state gauge is a sample, and a Failed that lasts less
// than the export plus the scrape interval is never seen in it. Every
// phase's entry series exists at 0 from the tracker's creation, so
// Prometheus's increase() sees even the first failure (a counter series
// that appears already at 1 has no increase). The initial Starting is not
// an entry, so the entries add up to the transitions. Counts are kept by
// the tracker (one atomic add per transition) and observed at each
// collection as a monotonic cumulative sum: they export exactly as a
// synchronous counter would, without an SDK aggregation on the
// transition's path.
//
// The duration histogram times a phase from entering it until leaving it
// for another phase: a join's retries (Joining{0} → Joining{1} …) are one
// join, and Ready{3} → Ready{4} does not leave Ready. By default it times
// the two durations operators ask about, how long a join takes and how
// long a failure lasts, on 8 buckets fitted to a lifecycle (0.1, 0.25, 1,
// 2.5, 10, 30, 120 and 600 s), enough for a p90 of the time to join.
//
// Traces: an episode span "cluster.lifecycle" covers the way from Starting
// (or from leaving Ready) to an outcome: Ready, Failed (status Error, with
// the reason) or Stopping. Each phase on the way is a child span
// "cluster.lifecycle.<label>", ended by the next transition, so a trace
// viewer draws cluster formation as a waterfall. Each transition adds the
// span event "cluster.lifecycle.transition" (attributes
// cluster.lifecycle.from, .to, .detail, .seq and the payload .attempt,
// .nodes or .reason) to its episode, and to the recording span in the
// caller's context. Each episode is a new trace linked to the previous
// one. ContextWithPhase lets work done during a phase (a join request)
// appear inside it.
//
// Logs: one slog INFO record per transition, message "cluster lifecycle
// transition", attributes prev, new, detail and seq (and, first, one
// "cluster lifecycle initial state" record for the state the tracker
// starts in); and one OpenTelemetry log record, event name
// "cluster.lifecycle.transition", with the event's attributes and
// WithAttributes, in the trace context of the episode. OpenTelemetry moves
// events to the Logs API; where a bridge would turn that log event into a
// span event too, WithoutSpanEvents leaves the span events out, so each
// transition is one event.
//
// # Series
//
// A node's whole lifecycle, joins retried, failures, drains and stops
// included, costs at most 40 series in Prometheus with the default
// options: the state (8), the entries (8), the two payload gauges, and 11
// per timed phase (8 buckets, +Inf, sum and count). Explicit buckets, not
// an exponential histogram: through the OpenTelemetry Prometheus exporter's
// text exposition, which Prometheus 2 and the collector's Prometheus
// exporter read, an exponential histogram keeps only its count and sum, and
// no quantile can be taken (BENCHMARKS.md, "Series per node", has the
// evidence). WithDetailedMetrics adds the transitions counter
// cluster.lifecycle.transitions{from, to} (up to 64 series) and times every
// phase on 18 finer buckets (21 series per phase): up to 250 series, 198
// for the same life. The counter is left out by default because the
// entries already count each phase entered, which is what alerts and
// rates need; the pairs say where each came from, which the traces and
// logs say too.
//
// WithStatusMetric reports the state in the shape of OpenTelemetry's
// semantic conventions for status metrics instead: an UpDownCounter
// cluster.lifecycle.status with the attribute cluster.lifecycle.state,
// which also keys the entries and durations.
//
// Through the OpenTelemetry Prometheus exporter these are
// cluster_lifecycle_state, cluster_lifecycle_phase_entries_total,
// cluster_lifecycle_phase_duration_seconds, cluster_lifecycle_join_attempt
// and cluster_lifecycle_nodes (and cluster_lifecycle_transitions_total, or
// cluster_lifecycle_status). WithMetricName("nodedb.cluster.state") gives
// the nodedb_cluster_state{state="…"} series of the Rust tracker.
//
// # Many trackers
//
// A node may track one lifecycle per shard. Trackers made WithGroup(g)
// share the Group's one metric registration, so N trackers cost one
// callback that walks N snapshots; each keeps its own attributes (a shard
// id). The Group also keeps cluster.lifecycle.count, how many trackers are
// in each phase, incrementally, so it costs the same to collect for ten
// trackers or a million; WithoutTrackerSeries keeps only the aggregates,
// and its members keep no spans. A tracker leaves its group when it is
// closed. NewGroup takes GroupOptions, New takes Options: see SharedOption
// for the options that fit both.
//
// # HTTP
//
// StatusHandler serves the state, its Seq, when it was entered and the
// recent history as JSON; ReadyHandler, LiveHandler and StartupHandler
// are Kubernetes probes (readiness, liveness, and a startup probe that
// passes from the first Ready on). They are plain http.Handlers for any mux. WithRedactedStatus
// keeps failure reasons (which may name hosts or hold secrets) out of
// them, and only out of them.
//
// # Untrusted text
//
// Failure reasons come from errors and can hold anything. They are
// normalized once on entry (see MaxReasonBytes): one line of valid UTF-8,
// at most 1024 bytes. No reason can add a line to a log record or an
// sd_notify datagram, or break a JSON body or an exposition.
package otellifecycle
