// Package promexport serves a tracker's metrics (and anything else on the
// same MeterProvider) to Prometheus: an OpenTelemetry metric reader plus the
// http.Handler that Prometheus scrapes, on a registry of their own.
//
//	prom, err := promexport.New()
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom.Reader()))
//	mux.Handle("/metrics", prom.Handler())
//
// By default the registry is new, not prometheus.DefaultRegisterer, so the
// exposition holds exactly what the MeterProvider measures; WithRegistry
// shares one with other collectors and WithGlobalRegistry uses the global
// one. The exporter's naming options pass through (WithNamespace,
// WithoutScopeInfo, WithTranslationStrategy). With the default strategy,
// cluster.lifecycle.state is exposed as cluster_lifecycle_state and the
// transitions counter as cluster_lifecycle_transitions_total.
package promexport

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Exporter is a metric reader and the handler that serves what it reads.
type Exporter struct {
	reader   *otelprom.Exporter
	handler  http.Handler
	gatherer prometheus.Gatherer
}

type config struct {
	registerer prometheus.Registerer
	gatherer   prometheus.Gatherer
	exporter   []otelprom.Option
}

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithNamespace prefixes every metric name with ns and an underscore.
func WithNamespace(ns string) Option {
	return optionFunc(func(c *config) { c.exporter = append(c.exporter, otelprom.WithNamespace(ns)) })
}

// WithoutScopeInfo leaves out the otel_scope_* labels.
func WithoutScopeInfo() Option {
	return optionFunc(func(c *config) { c.exporter = append(c.exporter, otelprom.WithoutScopeInfo()) })
}

// WithTranslationStrategy sets how OpenTelemetry names become Prometheus
// names (the exporter's default: underscores, with unit and type suffixes).
func WithTranslationStrategy(s otlptranslator.TranslationStrategyOption) Option {
	return optionFunc(func(c *config) { c.exporter = append(c.exporter, otelprom.WithTranslationStrategy(s)) })
}

// WithRegistry registers on reg and serves what reg gathers.
func WithRegistry(reg *prometheus.Registry) Option {
	return optionFunc(func(c *config) {
		if reg != nil {
			c.registerer, c.gatherer = reg, reg
		}
	})
}

// WithGlobalRegistry registers on prometheus.DefaultRegisterer and serves
// prometheus.DefaultGatherer, beside the Go and process collectors.
func WithGlobalRegistry() Option {
	return optionFunc(func(c *config) {
		c.registerer, c.gatherer = prometheus.DefaultRegisterer, prometheus.DefaultGatherer
	})
}

// New returns an Exporter on a registry of its own unless an option says
// otherwise.
func New(opts ...Option) (*Exporter, error) {
	c := config{}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.registerer == nil {
		reg := prometheus.NewRegistry()
		c.registerer, c.gatherer = reg, reg
	}
	reader, err := otelprom.New(append([]otelprom.Option{otelprom.WithRegisterer(c.registerer)}, c.exporter...)...)
	if err != nil {
		return nil, fmt.Errorf("promexport: %w", err)
	}
	return &Exporter{
		reader:   reader,
		gatherer: c.gatherer,
		handler: promhttp.HandlerFor(c.gatherer, promhttp.HandlerOpts{
			EnableOpenMetrics: true,
			// A failing collector yields the rest, not a 500 for everything.
			ErrorHandling: promhttp.ContinueOnError,
		}),
	}, nil
}

// Reader is the metric reader to give the MeterProvider
// (sdkmetric.WithReader).
func (e *Exporter) Reader() sdkmetric.Reader { return e.reader }

// Handler serves the exposition; mount it at /metrics.
func (e *Exporter) Handler() http.Handler { return e.handler }

// Gatherer is what Handler serves, for callers that gather themselves.
func (e *Exporter) Gatherer() prometheus.Gatherer { return e.gatherer }
