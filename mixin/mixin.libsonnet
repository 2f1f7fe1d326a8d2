// The cluster lifecycle monitoring mixin: alerts and a dashboard for any
// service that exports the lifecycle series of
// github.com/lifecyclekit/lifecycle (through the OpenTelemetry Prometheus
// exporter, the collector, or Prometheus's OTLP receiver).
//
//   prometheusAlerts    {groups: [...]}, a Prometheus rule file
//   prometheusRules     {groups: []}: no recording rules are needed
//   grafanaDashboards   {"cluster-lifecycle.json": dashboard}
//
// Every knob is a hidden _config field (config.libsonnet); the one every
// deployment sets is its selector:
//
//   (import 'mixin.libsonnet') + { _config+:: { lifecycleSelector: 'job="mysvc"' } }
(import 'config.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'rules.libsonnet')
+ (import 'dashboards.libsonnet')
