// The expressions the alerts and the dashboard share, built from _config.
// extra is a list of matchers added to the deployment's selector (the
// dashboard's $job and $instance; none for the alerts).
local promql = import 'promql.libsonnet';

function(c, extra=[]) {
  local q = self,
  local base = [c.lifecycleSelector] + extra,

  node:: promql.by([c.jobLabel, c.instanceLabel]),
  stateLabel:: promql.label(c.stateLabel),

  sel(metric, matchers=[]):: promql.selector(metric, base + matchers),
  state(phase=null):: q.sel(c.stateMetric, if phase == null then [] else [promql.eq(c.stateLabel, phase)]),
  entries(phase=null):: q.sel(c.entriesMetric, if phase == null then [] else [promql.eq(c.stateLabel, phase)]),
  duration(part, phase=null):: q.sel(c.durationMetric + part, if phase == null then [] else [promql.eq(c.stateLabel, phase)]),

  // fresh keeps the samples of selector whose newest sample is younger
  // than staleAfterSeconds: a node that stopped reporting is in no phase.
  // Scraped directly, its series go stale at the first failed scrape;
  // pushed, or through the collector's Prometheus exporter, they would
  // otherwise read as their last value for Prometheus's 5 minute lookback
  // (the exporter even for its metric_expiration first).
  fresh(selector):: '%s and (time() - timestamp(%s) < %d)' % [selector, selector, c.staleAfterSeconds],

  // window is a range over the last d, the sample exactly d ago
  // included. Prometheus 3 made ranges left-open, (t-d, t], where 2 read
  // [t-d, t]; a millisecond more gives both the same samples, so that
  // rules fire alike on either (d is a duration of whole seconds or more).
  window(d):: '[%s1ms]' % d,

  // failedRecently is the ClusterNodeFailed condition: Failed now, or an
  // entry into Failed within failedWindow, however brief, one series per
  // node. Each clause covers a case the others miss:
  //  1. the state gauge: Failed now;
  //  2. increase() over the window: every entry counted by a sample in
  //     the window, across a counter reset (a restarted node);
  //  3. a counter above 0 on a series younger than the window: a node
  //     whose very first sample already counts a failure.
  failedRecently::
    local e = q.entries('failed');
    std.join('\nor\n', [
      'max by (%s) (%s) == 1' % [q.node, q.fresh(q.state('failed'))],
      'sum by (%s) (increase(%s%s)) > 0' % [q.node, e, q.window(c.failedWindow)],
      'max by (%s) (%s > 0 unless %s offset %s)' % [q.node, e, e, c.failedWindow],
    ]),

  // down is a node seen within nodeDownMemory that reports no more, and
  // whose last word was not that it was leaving (Draining, Stopping).
  down::
    |||
      (
        group by (%(node)s) (last_over_time(%(any)s[%(memory)s]))
        unless on (%(node)s)
        group by (%(node)s) (%(fresh)s)
      )
      unless on (%(node)s)
      group by (%(node)s) (last_over_time(%(leaving)s[%(memory)s]) == 1)
    ||| % {
      node: q.node,
      // One phase's series is enough: every node reports all of them.
      any: q.state('ready'),
      fresh: q.fresh(q.state('ready')),
      memory: c.nodeDownMemory,
      leaving: q.sel(c.stateMetric, [promql.re(c.stateLabel, 'draining|stopping')]),
    },

  // readyNodes is how many nodes are Ready now (0 when none are).
  readyNodes:: '(sum(%s) or vector(0))' % q.fresh(q.state('ready')),
}
