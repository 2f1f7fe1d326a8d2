// This example's deployment of the monitoring mixin: the nodes' series
// carry job="raft-node" on every pipeline (service.name through the
// collector or OTLP, the scrape job's name scraped directly), and the
// cluster has three nodes. `make mixin` renders it into alerts.yml and
// grafana/dashboards/.
(import '../../mixin/mixin.libsonnet') + {
  _config+:: {
    lifecycleSelector: 'job="raft-node"',
    clusterSize: 3,
  },
}
