// prometheusAlerts: what pages an operator about a cluster's lifecycle.
local queries = import 'lib/queries.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local q = queries(c),
    local node = '{{ $labels.%s }}' % c.instanceLabel,
    groups+: [{
      name: 'cluster-lifecycle',
      rules: [
        // A node's lifecycle failed: it is Failed now, or it entered
        // Failed within failedWindow, however briefly. It fires at once: a
        // failure needs a look even if the node recovered by itself. The
        // state gauge is a sample, and a Failed shorter than the export
        // plus the scrape interval is never in it; the entries counter
        // (every phase at 0 from the tracker's creation) counts it.
        {
          alert: 'ClusterNodeFailed',
          expr: q.failedRecently + '\n',
          labels: { severity: c.criticalSeverity },
          annotations: {
            summary: 'Node %s is Failed or failed in the last %s' % [node, c.failedWindow],
            description: 'The cluster lifecycle of %s entered Failed. The reason is in the node\'s /cluster/status (lifecycle, or history for a failure it has left), in its log record "cluster lifecycle transition" with new=failed, and on its episode span (status Error).' % node,
          },
        },
        // A node stopped reporting without saying it was leaving: killed,
        // crashed, cut off, or its exporter stuck. Every pipeline shows it
        // the same way: its newest sample grows older than
        // staleAfterSeconds (scraped directly, its series go stale at once).
        {
          alert: 'ClusterNodeDown',
          expr: q.down,
          'for': c.nodeDownFor,
          labels: { severity: c.criticalSeverity },
          annotations: {
            summary: 'Node %s stopped reporting its lifecycle' % node,
            description: 'No lifecycle sample from %s for more than %ds, and its last phase was neither draining nor stopping: it died, hangs or cannot reach Prometheus. It counts as Ready nowhere.' % [node, c.staleAfterSeconds],
          },
        },
        // A node keeps trying to join. A healthy join takes seconds.
        {
          alert: 'ClusterNodeJoiningTooLong',
          expr: 'max by (%s) (%s) == 1\n' % [q.node, q.fresh(q.state('joining'))],
          'for': c.joiningTooLongFor,
          labels: { severity: c.warningSeverity },
          annotations: {
            summary: 'Node %s has been joining for %s' % [node, c.joiningTooLongFor],
            description: 'Join attempt {{ with printf `max(%s)` $labels.%s $labels.%s | query }}{{ . | first | value }}{{ end }} is still running: the seeds are unreachable or refuse it.' % [
              std.strReplace(q.sel(c.joinAttemptMetric, ['%s="%%s"' % c.jobLabel, '%s="%%s"' % c.instanceLabel]), '`', ''),
              c.jobLabel,
              c.instanceLabel,
            ],
          },
        },
        // A node changes phase too often: a node that fails, rejoins and
        // fails again. Counted from the phase entries (they add up to the
        // transitions), whose every series exists from 0, so brief
        // failures and first transitions count too.
        {
          alert: 'ClusterNodeFlapping',
          expr: 'sum by (%s) (increase(%s%s)) > %d\n' % [q.node, q.entries(), q.window(c.flappingWindow), c.flappingThreshold],
          labels: { severity: c.warningSeverity },
          annotations: {
            summary: 'Node %s is flapping' % node,
            description: '{{ $value | humanize }} lifecycle transitions in the last %s.' % c.flappingWindow,
          },
        },
        // Fewer nodes are Ready than the cluster should have. A node that
        // stopped reporting counts as not Ready.
        {
          alert: 'ClusterTooFewReadyNodes',
          expr: '%s < %d\n' % [q.readyNodes, c.clusterSize],
          'for': c.tooFewReadyFor,
          labels: { severity: c.criticalSeverity },
          annotations: {
            summary: 'Only {{ $value }} nodes are Ready',
            description: 'Fewer than %d cluster nodes (%s) have been Ready for %s.' % [c.clusterSize, c.lifecycleSelector, c.tooFewReadyFor],
          },
        },
      ],
    }],
  },
}
