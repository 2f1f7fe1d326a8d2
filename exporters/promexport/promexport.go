// Package promexport serves a tracker's metrics (and anything else on the
// same MeterProvider) to Prometheus: an OpenTelemetry metric reader plus the
// http.Handler that Prometheus scrapes, on the service's own mux rather
// than a server of its own.
//
//	prom, err := promexport.New()
//	p, err := otelsetup.Setup(ctx, otelsetup.WithPrometheus(prom)) // or, without otelsetup:
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(prom.Reader()))
//	mux.Handle("/metrics", prom.Handler())
//
// By default the registry is new, not prometheus.DefaultRegisterer, so the
// exposition holds exactly what the MeterProvider measures; WithRegistry
// shares one with other collectors. The
// exporter's naming options pass through (WithNamespace, WithoutScopeInfo,
// WithTranslationStrategy). With the default strategy,
// cluster.lifecycle.state is exposed as cluster_lifecycle_state and the
// phase entries counter as cluster_lifecycle_phase_entries_total.
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
	reader  *otelprom.Exporter
	handler http.Handler
}

type config struct {
	registry *prometheus.Registry
	exporter []otelprom.Option
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
			c.registry = reg
		}
	})
}

// New returns an Exporter on a registry of its own unless an option says
// otherwise.
func New(opts ...Option) (*Exporter, error) {
	c := config{registry: prometheus.NewRegistry()}
	for _, o := range opts {
		o.apply(&c)
	}
	reader, err := otelprom.New(append([]otelprom.Option{otelprom.WithRegisterer(c.registry)}, c.exporter...)...)
	if err != nil {
		return nil, fmt.Errorf("promexport: %w", err)
	}
	return &Exporter{
		reader: reader,
		handler: promhttp.HandlerFor(c.registry, promhttp.HandlerOpts{
			EnableOpenMetrics: true,
			// A failing collector yields the rest, not a 500 for everything.
			ErrorHandling: promhttp.ContinueOnError,
		}),
	}, nil
}

// Reader is the metric reader to give the MeterProvider
// (sdkmetric.WithReader).
func (e *Exporter) Reader() sdkmetric.Reader { return e.reader }

// Handler serves the exposition; mount it at /metrics. A collector that
// fails leaves out its own series, not the others.
func (e *Exporter) Handler() http.Handler { return e.handler }
