// PromQL text for names that may not be legacy Prometheus names: a metric
// or label name with a dot (kept by a UTF-8 translation strategy) must be
// quoted. {__name__="a.b"} reads on every Prometheus; a quoted label name
// ("a.b"="x", by ("a.b")) needs Prometheus 3.
local letters = std.stringChars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_');
local digits = std.stringChars('0123456789');

local legal(name, extra) =
  std.length(name) > 0
  && std.member(letters + extra, name[0])
  && std.all([std.member(letters + digits + extra, c) for c in std.stringChars(name)]);

{
  // label is a label name as PromQL needs it written.
  label(name):: if legal(name, []) then name else std.escapeStringJson(name),

  // by is a by/on list: by(['job', 'instance']) is 'job, instance'.
  by(names):: std.join(', ', [self.label(n) for n in names]),

  // selector is metric{matchers...}, or {__name__="metric", matchers...} for
  // a name PromQL cannot write bare. matchers are strings; '' is skipped.
  selector(metric, matchers)::
    local ms = [m for m in matchers if m != ''];
    if legal(metric, [':']) then
      '%s{%s}' % [metric, std.join(', ', ms)]
    else
      '{%s}' % std.join(', ', ['__name__=%s' % std.escapeStringJson(metric)] + ms),

  // eq is the matcher label="value" (value is a PromQL string literal).
  eq(name, value):: '%s=%s' % [self.label(name), std.escapeStringJson(value)],
  re(name, value):: '%s=~%s' % [self.label(name), std.escapeStringJson(value)],
}
