// Every knob of the mixin. Override what your deployment needs, one line
// each, in your own jsonnet file:
//
//   (import 'mixin.libsonnet') + { _config+:: { lifecycleSelector: 'job="mysvc"' } }
//
// The fields are hidden (::), so they never reach the rendered files.
{
  _config+:: {
    // Which series are this deployment's: a PromQL label matcher list,
    // put in every selector of every alert and panel. One cluster per
    // selector: clusterSize and ClusterTooFewReadyNodes count the nodes it
    // selects. The default takes every lifecycle series there is.
    lifecycleSelector: 'job!=""',

    // The labels that tell one node from another. Through the collector or
    // Prometheus's OTLP receiver, job is service.namespace/service.name and
    // instance is service.instance.id; scraped directly, they are the
    // scrape job and the target's address. Per-node alerts are grouped by
    // these two, and the dashboard's $job and $instance choose from them.
    jobLabel: 'job',
    instanceLabel: 'instance',

    // How the metric names reached Prometheus. 'underscore' is what the
    // OpenTelemetry Prometheus exporter, the collector's Prometheus and
    // remote-write exporters, and Prometheus's OTLP receiver (with its
    // default translation_strategy UnderscoreEscapingWithSuffixes) give:
    // cluster_lifecycle_state. 'utf8' is Prometheus 3's OTLP receiver with
    // translation_strategy NoUTF8EscapingWithSuffixes: cluster.lifecycle.state
    // (selectors are then written {__name__="cluster.lifecycle.state"}).
    metricNaming: 'underscore',

    // The names of the lifecycle series, from metricNaming; each can be set
    // on its own. A tracker built with WithMetricName or the semantic
    // conventions' status shape exports its state under another name, and
    // its state attribute under another key (see stateLabel).
    stateMetric: self.metricName('cluster.lifecycle.state', ''),
    entriesMetric: self.metricName('cluster.lifecycle.phase.entries', '_total'),
    durationMetric: self.metricName('cluster.lifecycle.phase.duration', '_seconds'),  // a histogram: _bucket, _sum, _count
    joinAttemptMetric: self.metricName('cluster.lifecycle.join.attempt', ''),
    nodesMetric: self.metricName('cluster.lifecycle.nodes', ''),
    raftLeaderMetric: self.metricName('cluster.lifecycle.raft.leader', ''),
    raftLeaderChangesMetric: self.metricName('cluster.lifecycle.raft.leader.changes', '_total'),
    raftLastContactMetric: self.metricName('cluster.lifecycle.raft.last_contact', '_seconds'),
    raftServersMetric: self.metricName('cluster.lifecycle.raft.servers', ''),

    // The label that holds the phase on the state gauge, the entries
    // counter and the duration histogram (the tracker's
    // WithStateAttributeKey). The status shape uses cluster.lifecycle.state:
    // cluster_lifecycle_state as a Prometheus label, or, kept as it is by a
    // UTF-8 translation strategy, cluster.lifecycle.state (Prometheus 3
    // only: it is quoted in selectors and by clauses).
    stateLabel: 'state',
    raftSuffrageLabel: 'suffrage',

    // How many nodes one cluster should have Ready.
    clusterSize: 3,

    // A series whose newest sample is older than this (in seconds) is a
    // node that stopped reporting: it no longer counts as in any phase,
    // and ClusterNodeDown names it. It must exceed the time a live node's
    // sample can take to be replaced: the scrape interval for a scrape;
    // the nodes' export interval plus the scrape interval through the
    // collector's Prometheus exporter (with send_timestamps: true, so that
    // a sample keeps the time the node took it); the export interval when
    // pushed. The examples export every 5 s and scrape every 15 s: 20 s at
    // most, so 25.
    staleAfterSeconds: 25,

    // How long a node that stopped reporting must stay silent before
    // ClusterNodeDown fires, and how long after its last sample it is
    // still looked for: a node that has been gone longer is no longer
    // named (ClusterTooFewReadyNodes still counts it missing).
    nodeDownFor: '30s',
    nodeDownMemory: '1h',

    // ClusterNodeFailed fires for a failure within this window, however
    // brief; ClusterNodeFlapping counts phase entries over its own.
    failedWindow: '15m',
    flappingWindow: '15m',
    flappingThreshold: 10,
    joiningTooLongFor: '5m',
    tooFewReadyFor: '2m',

    // The severity label of each alert.
    criticalSeverity: 'critical',
    warningSeverity: 'warning',

    // The dashboard.
    dashboardUid: 'cluster-lifecycle',
    dashboardTitle: 'Cluster lifecycle',
    dashboardTags: ['lifecycle', 'cluster'],
    dashboardRefresh: '10s',
    dashboardFrom: 'now-30m',
    // The Raft row repeats once per job that exports the Raft engines'
    // series. Grafana draws a repeated row once even when no job does, so a
    // deployment without a Raft engine turns it off here.
    raftPanels: true,

    // metricName(otel, suffix) is the Prometheus name of an OpenTelemetry
    // instrument under metricNaming: the unit and type suffix appended,
    // and the dots escaped for 'underscore'.
    metricName(otel, suffix)::
      assert self.metricNaming == 'underscore' || self.metricNaming == 'utf8' :
             "_config.metricNaming must be 'underscore' or 'utf8', got %s" % self.metricNaming;
      (if self.metricNaming == 'utf8' then otel else std.strReplace(otel, '.', '_')) + suffix,
  },
}
