// grafanaDashboards: the "Cluster lifecycle" dashboard (Grafana's classic
// JSON model, schemaVersion 39), with $datasource, $job and $instance
// variables, and a Raft row for the nodes whose engine exports
// cluster_lifecycle_raft_*.
local promql = import 'lib/promql.libsonnet';
local queries = import 'lib/queries.libsonnet';

local phases = ['starting', 'restarting', 'bootstrapping', 'joining', 'ready', 'draining', 'stopping', 'failed'];
local colours = {
  starting: 'blue',
  restarting: 'purple',
  bootstrapping: 'light-blue',
  joining: 'yellow',
  ready: 'green',
  draining: 'orange',
  stopping: 'dark-orange',
  failed: 'red',
};

{
  grafanaDashboards+:: {
    local c = $._config,
    local datasource = { type: 'prometheus', uid: '${datasource}' },
    local q = queries(c, [promql.re(c.jobLabel, '$job'), promql.re(c.instanceLabel, '$instance')]),
    local raft = queries(c, [promql.re(c.jobLabel, '$raft_job'), promql.re(c.instanceLabel, '$instance')]),
    local legend = '{{%s}}' % c.instanceLabel,

    local target(expr, ref, legendFormat=legend, instant=false) = {
      datasource: datasource,
      expr: expr,
      legendFormat: legendFormat,
      refId: ref,
      [if instant then 'instant' else 'range']: true,
    },
    // Every option a panel type's model requires, at Grafana's defaults;
    // a panel changes only what it means to.
    local legendOptions = { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
    local tooltip = { mode: 'multi', sort: 'none' },
    local reduce = { calcs: ['lastNotNull'], values: false },
    local defaultOptions = {
      'state-timeline': { showValue: 'auto', rowHeight: 0.9, mergeValues: true, alignValue: 'left', legend: legendOptions, tooltip: tooltip },
      bargauge: {
        displayMode: 'basic',
        valueMode: 'color',
        namePlacement: 'auto',
        showUnfilled: true,
        sizing: 'auto',
        minVizWidth: 8,
        minVizHeight: 16,
        maxVizHeight: 300,
        orientation: 'horizontal',
        legend: legendOptions { showLegend: false },
        reduceOptions: reduce,
      },
      stat: {
        graphMode: 'none',
        colorMode: 'value',
        justifyMode: 'auto',
        textMode: 'value_and_name',
        wideLayout: true,
        showPercentChange: false,
        percentChangeColorMode: 'standard',
        orientation: 'auto',
        reduceOptions: reduce,
      },
      table: { frameIndex: 0, showHeader: true, showTypeIcons: false, cellHeight: 'sm', footer: { show: false, reducer: [], countRows: false } },
      timeseries: { legend: legendOptions, tooltip: tooltip },
    },
    local panel(type, title, description, targets, w=12, h=8, unit='short', custom={}, options={}, extra={}) = {
      type: type,
      title: title,
      description: description,
      datasource: datasource,
      targets: targets,
      fieldConfig: { defaults: { unit: unit } + (if custom == {} then {} else { custom: custom }) + extra, overrides: [] },
      options: std.mergePatch(defaultOptions[type], options),
      gridPos: { w: w, h: h },
    },
    // layout gives each panel an id and a place: left to right, rows of 24.
    local layout(panels, y0=0, id0=1) = std.foldl(
      function(acc, p)
        local x = if acc.x + p.gridPos.w > 24 then 0 else acc.x;
        local y = if acc.x + p.gridPos.w > 24 then acc.y + acc.h else acc.y;
        local h = if acc.x + p.gridPos.w > 24 then p.gridPos.h else std.max(acc.h, p.gridPos.h);
        acc {
          panels+: [p { id: std.length(acc.panels) + acc.id0, gridPos+: { x: x, y: y } }],
          x: x + p.gridPos.w,
          y: y,
          h: h,
        },
      panels,
      { panels: [], x: 0, y: y0, h: 0, id0: id0 }
    ),

    local phasePerNode = panel(
      'state-timeline',
      'Phase per node',
      'Each node\'s phase over time, one row per node, one colour per phase. A node that stops reporting (its newest sample older than %ds) shows no phase.' % c.staleAfterSeconds,
      [target(std.join('\n+ ', [
        'sum by (%s) (%s) * %d' % [q.node, q.fresh(q.state(phases[i])), i + 1]
        for i in std.range(0, std.length(phases) - 1)
      ]), 'A')],
      w=24,
      extra={
        color: { mode: 'thresholds' },
        thresholds: { mode: 'absolute', steps: [{ color: 'grey', value: null }] },
        mappings: [
          { type: 'value', options: { [std.toString(i + 1)]: { text: phases[i], color: colours[phases[i]], index: i } } }
          for i in std.range(0, std.length(phases) - 1)
        ],
      },
    ),

    local nodesPerPhase = panel(
      'bargauge',
      'Nodes per phase',
      'How many nodes are in each phase now. A node that stopped reporting counts in none.',
      [target('sum by (%s) (%s)' % [q.stateLabel, q.fresh(q.state())], 'A', '{{%s}}' % c.stateLabel, instant=true)],
      extra={ min: 0, decimals: 0 },
    ),

    local failures = panel(
      'timeseries',
      'Failures in the last %s' % c.failedWindow,
      'How many times each node entered Failed in the last %s, however briefly: counted from the phase entries, not sampled from the state gauge, so a failure shorter than a scrape shows. The reason is in the node\'s /cluster/status history, its logs and its episode span.' % c.failedWindow,
      [target('sum by (%s) (increase(%s%s))' % [q.node, q.entries('failed'), q.window(c.failedWindow)], 'A')],
      custom={ drawStyle: 'bars', fillOpacity: 80 },
      extra={ min: 0, color: { mode: 'fixed', fixedColor: 'red' } },
    ),

    local transitions = panel(
      'timeseries',
      'Transitions per minute',
      'How often each node changes phase, counted from the phase entries (every phase from 0), so brief phases count too. A steady non-zero rate is a flapping node.',
      [target('sum by (%s) (rate(%s[$__rate_interval])) * 60' % [q.node, q.entries()], 'A')],
    ),

    local timeToJoin = panel(
      'stat',
      'Time to join',
      'How long joins took over the dashboard\'s time range, from the first attempt to leaving Joining (retries included), all nodes together: the median and the 90th percentile, from the duration histogram\'s buckets (so as fine as its bounds: 0.1, 0.25, 1, 2.5, 10, 30, 120 and 600 s).',
      [
        target('histogram_quantile(0.5, sum by (le) (increase(%s[$__range])))' % q.duration('_bucket', 'joining'), 'A', 'p50', instant=true),
        target('histogram_quantile(0.9, sum by (le) (increase(%s[$__range])))' % q.duration('_bucket', 'joining'), 'B', 'p90', instant=true),
      ],
      w=6,
      unit='s',
    ),

    local timeFailed = panel(
      'table',
      'Time in Failed',
      'Per node, over the dashboard\'s time range: the failures it has left (count and total seconds, from the duration histogram, which records a stint when it ends) and, for a node Failed now, how long it has been (from the state gauge: the time since it was last seen in another phase, as fine as the query step).',
      [
        target('sum by (%s) (increase(%s[$__range]))' % [q.node, q.duration('_count', 'failed')], 'A', 'completed', instant=true) { format: 'table' },
        target('sum by (%s) (increase(%s[$__range]))' % [q.node, q.duration('_sum', 'failed')], 'B', 'seconds', instant=true) { format: 'table' },
        target(
          '(time() - max by (%(node)s) (max_over_time(timestamp(%(notFailed)s == 0)[$__range:$__interval])))\nand on (%(node)s)\n(max by (%(node)s) (%(failed)s) == 1)' % {
            node: q.node,
            notFailed: q.state('failed'),
            failed: q.fresh(q.state('failed')),
          },
          'C',
          'failed now, for',
          instant=true
        ) { format: 'table' },
      ],
      w=18,
      unit='s',
    ),

    local timeInPhase = panel(
      'timeseries',
      'Time in phase, 90th percentile',
      'The 90th percentile of how long a phase lasted, by phase, for the stints that ended in each interval. By default the tracker records joining and failed.',
      [target('histogram_quantile(0.9, sum by (%s, le) (rate(%s[$__rate_interval])))' % [q.stateLabel, q.duration('_bucket')], 'A', '{{%s}}' % c.stateLabel)],
      unit='s',
    ),

    local joinAttempts = panel(
      'timeseries',
      'Join attempts',
      'The join attempt each joining node is on (from 0), observed only while a node is joining.',
      [target('max by (%s) (%s)' % [q.node, q.fresh(q.sel(c.joinAttemptMetric))], 'A')],
      custom={ drawStyle: 'points', pointSize: 6 },
      extra={ decimals: 0 },
    ),

    local clusterSize = panel(
      'timeseries',
      'Cluster size seen by each node',
      'The member count each Ready node reports. Nodes that disagree for long see different clusters.',
      [target('max by (%s) (%s)' % [q.node, q.fresh(q.sel(c.nodesMetric))], 'A')],
      extra={ decimals: 0 },
    ),

    local raftPanels = [
      panel(
        'state-timeline',
        'Raft leader',
        'Which node leads: 1 on the leader, 0 elsewhere (cluster_lifecycle_raft_leader).',
        [target('max by (%s) (%s)' % [raft.node, raft.sel(c.raftLeaderMetric)], 'A')],
        extra={
          color: { mode: 'thresholds' },
          thresholds: { mode: 'absolute', steps: [{ color: 'grey', value: null }, { color: 'green', value: 1 }] },
          mappings: [{ type: 'value', options: { '0': { text: 'follower', index: 0 }, '1': { text: 'leader', index: 1 } } }],
        },
        options={ showValue: 'never', legend: { showLegend: false } },
      ),
      panel(
        'timeseries',
        'Raft leader changes',
        'Leaders each node has seen elected, per interval. More than one now and then is an unstable cluster.',
        [target('sum by (%s) (increase(%s[$__rate_interval]))' % [raft.node, raft.sel(c.raftLeaderChangesMetric)], 'A')],
        custom={ drawStyle: 'bars', fillOpacity: 80 },
        extra={ min: 0, decimals: 0 },
      ),
      panel(
        'timeseries',
        'Raft last contact',
        'Seconds since the leader last reached each follower (0 on the leader). A follower whose contact grows is cut off.',
        [target('max by (%s) (%s)' % [raft.node, raft.sel(c.raftLastContactMetric)], 'A')],
        unit='s',
      ),
      panel(
        'timeseries',
        'Raft servers by suffrage',
        'Voters and nonvoters in the configuration each node holds. Nodes that disagree have not caught up.',
        [target('max by (%s, %s) (%s)' % [raft.node, promql.label(c.raftSuffrageLabel), raft.sel(c.raftServersMetric)], 'A', '%s {{%s}}' % [legend, c.raftSuffrageLabel])],
        extra={ decimals: 0 },
      ),
    ],

    local main = layout([phasePerNode, nodesPerPhase, failures, transitions, timeInPhase, timeToJoin, timeFailed, joinAttempts, clusterSize]),
    local mainBottom = main.y + main.h,
    local raftRow = {
      type: 'row',
      title: 'Raft ($raft_job)',
      collapsed: false,
      repeat: 'raft_job',
      id: std.length(main.panels) + 1,
      gridPos: { h: 1, w: 24, x: 0, y: mainBottom },
      panels: [],
    },
    local raftBody = layout(raftPanels, mainBottom + 1, raftRow.id + 1),

    local variable(name, label, query, hide=0, all=true) = {
      type: 'query',
      name: name,
      label: label,
      datasource: datasource,
      query: { query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
      definition: query,
      refresh: 2,
      sort: 1,
      hide: hide,
      multi: all,
      includeAll: all,
      [if all then 'allValue']: '.+',
      options: [],
    },

    'cluster-lifecycle.json': {
      uid: c.dashboardUid,
      title: c.dashboardTitle,
      tags: c.dashboardTags,
      timezone: 'browser',
      schemaVersion: 39,
      version: 1,
      refresh: c.dashboardRefresh,
      editable: true,
      time: { from: c.dashboardFrom, to: 'now' },
      annotations: { list: [] },
      templating: {
        list: [
          {
            type: 'datasource',
            name: 'datasource',
            label: 'Data source',
            query: 'prometheus',
            options: [],
            refresh: 1,
            hide: 0,
          },
          variable('job', 'Job', 'label_values(%s, %s)' % [promql.selector(c.stateMetric, [c.lifecycleSelector]), c.jobLabel]),
          variable('instance', 'Instance', 'label_values(%s, %s)' % [promql.selector(c.stateMetric, [c.lifecycleSelector, promql.re(c.jobLabel, '$job')]), c.instanceLabel]),
        ] + if c.raftPanels then [
          variable('raft_job', 'Raft job', 'label_values(%s, %s)' % [promql.selector(c.raftLeaderMetric, [c.lifecycleSelector, promql.re(c.jobLabel, '$job')]), c.jobLabel], hide=2) {
            multi: true,
            includeAll: true,
            current: { text: ['All'], value: ['$__all'] },
          },
        ] else [],
      },
      panels: main.panels + if c.raftPanels then [raftRow] + raftBody.panels else [],
    },
  },
}
