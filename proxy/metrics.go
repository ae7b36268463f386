package proxy

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serviceStats are one service's counters. The hot path only does atomic
// adds; the collector turns them into metrics at scrape time, walking the
// live table, so metrics of removed topologies disappear without label
// bookkeeping and a redeploy carries them over (adoptLocked).
type serviceStats struct {
	byClass    [6]atomic.Uint64 // 1xx..5xx, other
	backend    [numKinds]atomic.Uint64
	topo, name string
	// duration is made at the service's first request: a histogram costs
	// ~2 KiB, most of a compiled service's memory, and at 10k topologies
	// most services are idle. Not registered: collected through metrics.
	duration atomic.Pointer[durationHistogram]
}

type durationHistogram struct{ prometheus.Histogram }

var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newServiceStats(topo, svc string) *serviceStats {
	return &serviceStats{topo: topo, name: svc}
}

// histogram returns the service's duration histogram, making it once.
func (s *serviceStats) histogram() *durationHistogram {
	if h := s.duration.Load(); h != nil {
		return h
	}
	h := &durationHistogram{prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:        "gateway_request_duration_seconds",
		Help:        "Time from the request's arrival to the end of its response, by topology and service.",
		Buckets:     durationBuckets,
		ConstLabels: prometheus.Labels{"topology": s.topo, "service": s.name},
	})}
	if s.duration.CompareAndSwap(nil, h) {
		return h
	}
	return s.duration.Load()
}

func (s *serviceStats) observe(status int, d time.Duration, aborted bool) {
	c := status/100 - 1
	if c < 0 || c > 4 {
		c = 5
	}
	s.byClass[c].Add(1)
	if aborted {
		s.backend[kindAbort].Add(1)
	}
	s.histogram().Observe(d.Seconds())
}

func (s *serviceStats) backendError(kind int) { s.backend[kind].Add(1) }

var classNames = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// metrics is the proxy's prometheus.Collector. It is unchecked (Describe
// sends nothing) because the per-service histograms carry their labels as
// constant labels.
type metrics struct {
	p         *Proxy
	inflight  atomic.Int64
	unroutedC [6]atomic.Uint64 // by status class, requests matching no route
	refusedC  map[string]*atomic.Uint64

	requests, backendErrors, refused, unroutedD, generation, topologies,
	inflightD, backendUp, backendFailures, openConns, dials, wsConns, wsCeiling *prometheus.Desc
}

func newMetrics(p *Proxy) *metrics {
	m := &metrics{p: p, refusedC: map[string]*atomic.Uint64{}}
	for _, r := range refusalReasons {
		m.refusedC[r] = new(atomic.Uint64)
	}
	d := prometheus.NewDesc
	ts := []string{"topology", "service"}
	m.requests = d("gateway_requests_total", "Requests by topology, service and status class.", append(ts, "code"), nil)
	m.backendErrors = d("gateway_backend_errors_total", "Backend failures by topology, service and kind (connect, tls, timeout, failover_status, other, aborted, safe_mode: a namenode's safe-mode answer, retried or passed on).", append(ts, "kind"), nil)
	m.unroutedD = d("gateway_unrouted_requests_total", "Requests that matched no route or were refused before routing, by status class.", []string{"code"}, nil)
	m.refused = d("gateway_refused_paths_total", "Requests refused by path canonicalisation, by reason.", []string{"reason"}, nil)
	m.generation = d("gateway_routing_table_generation", "Generation of the live routing table.", nil, nil)
	m.topologies = d("gateway_topologies", "Topologies in the live routing table.", nil, nil)
	m.inflightD = d("gateway_inflight_requests", "Requests being served.", nil, nil)
	m.backendUp = d("gateway_backend_up", "1 when the backend URL is not cooling off.", append(ts, "url"), nil)
	m.backendFailures = d("gateway_backend_consecutive_failures", "Consecutive failures of the backend URL.", append(ts, "url"), nil)
	m.openConns = d("gateway_backend_open_connections", "Open connections to the backend origin.", []string{"origin"}, nil)
	m.dials = d("gateway_backend_connections_total", "Connections opened to the backend origin.", []string{"origin"}, nil)
	m.wsConns = d("gateway_websocket_connections", "Open proxied WebSocket connections.", nil, nil)
	m.wsCeiling = d("gateway_websocket_connections_max", "WebSocket connections the descriptor ceiling allows (two descriptors each, a reserve kept for HTTP); new upgrades past it get 503. The ceiling itself is process_max_fds.", nil, nil)
	return m
}

func (m *metrics) unrouted(status int, reason string) {
	c := status/100 - 1
	if c < 0 || c > 4 {
		c = 5
	}
	m.unroutedC[c].Add(1)
	if reason != "" {
		if ctr := m.refusedC[reason]; ctr != nil {
			ctr.Add(1)
		}
	}
}

// Describe sends nothing: an unchecked collector.
func (m *metrics) Describe(chan<- *prometheus.Desc) {}

// Collect walks the live table.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	c, g := prometheus.CounterValue, prometheus.GaugeValue
	mm := prometheus.MustNewConstMetric
	t := m.p.table.Load()
	ch <- mm(m.generation, g, float64(t.gen))
	ch <- mm(m.topologies, g, float64(t.len()))
	ch <- mm(m.inflightD, g, float64(m.inflight.Load()))
	ch <- mm(m.wsConns, g, float64(m.p.upgrades.count()))
	if m.p.fdCeiling > 0 {
		ch <- mm(m.wsCeiling, g, float64(max(0, (m.p.fdCeiling-fdReserve)/2)))
	}
	for i, n := range classNames {
		ch <- mm(m.unroutedD, c, float64(m.unroutedC[i].Load()), n)
	}
	for r, ctr := range m.refusedC {
		ch <- mm(m.refused, c, float64(ctr.Load()), r)
	}
	now := time.Now().UnixNano()
	for _, tp := range t.sorted() {
		for _, s := range tp.ordered {
			st := s.stats
			for i, n := range classNames {
				ch <- mm(m.requests, c, float64(st.byClass[i].Load()), tp.name, s.path, n)
			}
			for k, n := range kindNames {
				ch <- mm(m.backendErrors, c, float64(st.backend[k].Load()), tp.name, s.path, n)
			}
			if h := st.duration.Load(); h != nil {
				h.Collect(ch)
			}
			for _, b := range s.up.backends {
				up := 1.0
				if b.h.coolingOff(now) {
					up = 0
				}
				ch <- mm(m.backendUp, g, up, tp.name, s.path, b.configured)
				ch <- mm(m.backendFailures, g, float64(b.h.failures.Load()), tp.name, s.path, b.configured)
			}
		}
	}
	// Transports sharing an origin (other TLS settings or timeouts) are summed.
	type agg struct{ open, dials float64 }
	byOrigin := map[string]*agg{}
	for _, e := range m.p.pool.snapshot() {
		a := byOrigin[e.origin]
		if a == nil {
			a = &agg{}
			byOrigin[e.origin] = a
		}
		a.open += float64(e.open.Load())
		a.dials += float64(e.dials.Load())
	}
	for o, a := range byOrigin {
		ch <- mm(m.openConns, g, a.open, o)
		ch <- mm(m.dials, c, a.dials, o)
	}
}

var _ prometheus.Collector = (*metrics)(nil)
