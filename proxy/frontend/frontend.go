package frontend

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServerOptions are a listener's limits. Zero fields take the defaults in
// the package documentation.
type ServerOptions struct {
	Addr              string
	MaxHeaderBytes    int
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration // 0: none (streamed uploads)
	WriteTimeout      time.Duration // 0: none (streamed responses)
	// StallTimeout ends a request whose client leaves its body silent, or
	// accepts no byte of the answer, this long (between two reads or two
	// writes that made progress, not the whole transfer); 0: none. The
	// gateway's default is DefaultStallTimeout.
	StallTimeout time.Duration
	IdleTimeout  time.Duration
	TLSConfig    *tls.Config
	// Logger receives the server's own errors (TLS handshakes, panics).
	Logger *slog.Logger
	// Registerer, when set, receives gateway_frontend_open_connections
	// labelled listener=Name.
	Registerer prometheus.Registerer
	Name       string
}

// Defaults.
const (
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultStallTimeout      = 60 * time.Second // nginx's client_body_timeout and send_timeout
)

// NewServer returns an *http.Server serving h with o's limits.
func NewServer(h http.Handler, o ServerOptions) *http.Server {
	o = o.withDefaults()
	if o.StallTimeout > 0 {
		h = &stallHandler{h: h, stall: o.StallTimeout, readTimeout: o.ReadTimeout, writeTimeout: o.WriteTimeout}
	}
	s := &http.Server{
		Addr:              o.Addr,
		Handler:           h,
		TLSConfig:         o.TLSConfig,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
	}
	if o.StallTimeout > 0 {
		// An HTTP/2 connection nothing can be written to for this long is
		// closed (the streams' own writes are stallHandler's).
		s.HTTP2 = &http.HTTP2Config{WriteByteTimeout: o.StallTimeout}
	}
	if o.Logger != nil {
		s.ErrorLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
	}
	if o.Registerer != nil {
		var open atomic.Int64
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "gateway_frontend_open_connections",
			Help:        "Open client connections of the listener.",
			ConstLabels: prometheus.Labels{"listener": o.Name},
		}, func() float64 { return float64(open.Load()) })
		if err := o.Registerer.Register(g); err == nil {
			s.ConnState = func(_ net.Conn, st http.ConnState) {
				switch st {
				case http.StateNew:
					open.Add(1)
				case http.StateHijacked, http.StateClosed:
					open.Add(-1)
				}
			}
		} else if o.Logger != nil {
			o.Logger.Warn("frontend: connection gauge not registered", "listener", o.Name, "err", err)
		}
	}
	return s
}

// TLSConfig returns the client-facing TLS configuration: TLS 1.2 at least,
// the certificate from getCert (internal/pki's reloader), and client
// certificates per clientAuth — "off", "optional" (verified when sent) or
// "required" — verified only against clientCAs, a dedicated pool: never the
// system roots.
func TLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), clientAuth string, clientCAs *x509.CertPool) (*tls.Config, error) {
	if getCert == nil {
		return nil, errors.New("frontend: TLS needs a certificate source")
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCert,
		// http/1.0 too: curl --http1.0 offers it alone, and crypto/tls refuses
		// a handshake whose client offers no protocol the server has.
		NextProtos: []string{"h2", "http/1.1", "http/1.0"},
	}
	switch clientAuth {
	case "", "off":
		cfg.ClientAuth = tls.NoClientCert
		return cfg, nil
	case "optional":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("frontend: client auth %q: want off, optional or required", clientAuth)
	}
	if clientCAs == nil {
		return nil, fmt.Errorf("frontend: client auth %q needs a client CA pool", clientAuth)
	}
	cfg.ClientCAs = clientCAs
	return cfg, nil
}

// Health serves /healthz (200 while the process serves) and /readyz (200
// once ready() is true, else 503), with a small JSON body. With the proxy:
// Health(p.Ready).
func Health(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil && ready() {
			writeStatus(w, http.StatusOK, `{"status":"ready"}`)
			return
		}
		writeStatus(w, http.StatusServiceUnavailable, `{"status":"not ready"}`)
	})
	return mux
}

func writeStatus(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}

// Metrics serves g in the Prometheus exposition format, for a separate
// (internal) listener.
func Metrics(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// withDefaults fills o's zero limits with the defaults.
func (o ServerOptions) withDefaults() ServerOptions {
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	o.ReadTimeout, o.WriteTimeout = max(o.ReadTimeout, 0), max(o.WriteTimeout, 0)
	o.StallTimeout = max(o.StallTimeout, 0)
	return o
}
