// prometheusRules: the mixin needs no recording rules. Every expression
// reads the raw series, a handful per node, so the dashboard works on any
// Prometheus without loading anything; the field is here for the mixin
// convention and for a deployment that wants to add its own.
{
  prometheusRules+:: {
    groups+: [],
  },
}
