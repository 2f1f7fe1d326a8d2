// A deployment on Prometheus 3's OTLP receiver with the UTF-8 translation
// strategy NoUTF8EscapingWithSuffixes: the gauge is cluster.lifecycle.state.
(import '../mixin.libsonnet') + {
  _config+:: {
    lifecycleSelector: 'job="mysvc"',
    metricNaming: 'utf8',
  },
}
