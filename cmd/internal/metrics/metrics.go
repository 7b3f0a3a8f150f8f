// Package metrics exposes omsd's Prometheus metrics: HTTP latency per
// route, command outcomes, event store append latency, projection lag and
// the Go runtime. It owns its registry (no global state), so tests and
// several omsd instances in one process do not collide.
package metrics

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/omsonline/oms/events/eventstore"
	"github.com/omsonline/oms/projections/runner"
)

// Metrics holds the collectors.
type Metrics struct {
	reg      *prometheus.Registry
	http     *prometheus.HistogramVec
	commands *prometheus.CounterVec
	appends  *prometheus.HistogramVec
}

// New creates the registry with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.http = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "oms_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oms_commands_total", Help: "Commands by name and outcome (ok, rejected, conflict, forbidden, invalid, error).",
	}, []string{"command", "outcome"})
	m.appends = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "oms_eventstore_append_duration_seconds", Help: "Latency of appends to the event store.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"outcome"})
	m.reg.MustRegister(m.http, m.commands, m.appends)
	return m
}

// Registry is the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveAppend is an eventstore.Options.OnAppend hook.
func (m *Metrics) ObserveAppend(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.appends.WithLabelValues(outcome).Observe(d.Seconds())
}

// RouteKey is the c.Locals key under which a middleware that answers
// before routing (the authorization matrix refusing a request) leaves the
// route template it matched, so that the refusal is counted on its route.
type RouteKey struct{}

// Middleware records latency by route template (never by raw path, so
// ids do not explode the label space) and the outcome of commands.
func (m *Metrics) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			if fe, ok := err.(*fiber.Error); ok {
				status = fe.Code
			} else if status < 400 {
				status = fiber.StatusInternalServerError
			}
		}
		route := c.Route().Path
		if r, ok := c.Locals(RouteKey{}).(string); ok {
			route = r
		}
		if route == "" || route == "/" && c.Path() != "/" {
			// A method no route takes (405) or no route at all: one
			// label, never "" (ops QA) nor a mount point.
			route = "unmatched"
		}
		// Fiber's method and path strings point into the request buffer,
		// which the connection's next request overwrites; a label keeps
		// its string for good, so it gets a constant or a copy.
		method := methodLabel(c.Method())
		route = strings.Clone(route)
		m.http.WithLabelValues(method, route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		if method == fiber.MethodPost && strings.HasPrefix(route, "/api/v1/applications") {
			m.commands.WithLabelValues(commandName(route, c), outcome(status)).Inc()
		}
		return err
	}
}

// methodLabel is the method as one of fiber's constants, which outlive
// the request; anything else is "other" (and a label set that cannot grow
// with whatever clients send).
func methodLabel(m string) string {
	for _, known := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
		fiber.MethodDelete, fiber.MethodOptions, fiber.MethodConnect, fiber.MethodTrace} {
		if m == known {
			return known
		}
	}
	return "other"
}

func commandName(route string, c *fiber.Ctx) string {
	if route == "/api/v1/applications" {
		return "submit"
	}
	if i := strings.LastIndexByte(route, '/'); i >= 0 {
		return route[i+1:]
	}
	return route
}

func outcome(status int) string {
	switch {
	case status < 300:
		return "ok"
	case status == 409:
		return "conflict"
	case status == 401 || status == 403:
		return "forbidden"
	case status == 400 || status == 413 || status == 415 || status == 422:
		return "invalid"
	case status < 500:
		return "rejected"
	default:
		return "error"
	}
}

// Handler serves /metrics.
func (m *Metrics) Handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// WatchProjections registers the projection lag gauges, computed at scrape
// time from the runner and the event store head.
func (m *Metrics) WatchProjections(r Projections, events *eventstore.Store) {
	m.reg.MustRegister(&lagCollector{r: r, events: events,
		pos:     prometheus.NewDesc("oms_projection_position", "The $all position a projection has flushed.", []string{"projection"}, nil),
		behind:  prometheus.NewDesc("oms_projection_events_behind", "Events a projection has yet to apply (capped at 100000).", []string{"projection"}, nil),
		seconds: prometheus.NewDesc("oms_projection_seconds_behind", "Write time of the newest event minus that of the last event the projection applied.", []string{"projection"}, nil),
		head:    prometheus.NewDesc("oms_eventstore_head_position", "Position of the newest event in $all.", nil, nil),
	})
}

// Projections is what the lag gauges read.
type Projections interface {
	Names() []string
	Lag(name string) (runner.Lag, bool)
	Behind(ctx context.Context, name string, head uint64) uint64
}

type lagCollector struct {
	r                          Projections
	events                     *eventstore.Store
	pos, behind, seconds, head *prometheus.Desc
}

func (l *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.pos
	ch <- l.behind
	ch <- l.seconds
	ch <- l.head
}

func (l *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	headPos, headTime, ok, err := l.events.HeadTime(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(l.head, prometheus.GaugeValue, float64(headPos))
	for _, name := range l.r.Names() {
		lag, _ := l.r.Lag(name)
		ch <- prometheus.MustNewConstMetric(l.pos, prometheus.GaugeValue, float64(lag.Position), name)
		var behind uint64
		var secs float64
		if ok && headPos > lag.Position {
			behind = l.r.Behind(ctx, name, headPos)
			if !lag.LastCreated.IsZero() {
				secs = headTime.Sub(lag.LastCreated).Seconds()
			} else {
				secs = time.Since(headTime).Seconds()
			}
		}
		ch <- prometheus.MustNewConstMetric(l.behind, prometheus.GaugeValue, float64(behind), name)
		ch <- prometheus.MustNewConstMetric(l.seconds, prometheus.GaugeValue, max(secs, 0), name)
	}
}
