// A deployment on Prometheus 3's OTLP receiver with a UTF-8 translation
// strategy (NoUTF8EscapingWithSuffixes: cluster.lifecycle.state), whose
// trackers export the semantic conventions' status shape
// (cluster.lifecycle.status{cluster.lifecycle.state="…"}).
(import '../mixin.libsonnet') + {
  _config+:: {
    lifecycleSelector: 'job="mysvc"',
    metricNaming: 'utf8',
    stateMetric: 'cluster.lifecycle.status',
    stateLabel: 'cluster.lifecycle.state',
  },
}
