// The mixin as it comes, every knob at its default.
import '../mixin.libsonnet'
