package topologypb

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/securegw/gateway/internal/topology"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// ToProto converts t to its management API form. Zero durations become
// absent fields; providers are enabled unless they say otherwise.
func ToProto(t *topology.Topology) *gatewayv1.Topology {
	if t == nil {
		return nil
	}
	pt := &gatewayv1.Topology{Name: t.Name, Description: t.Description}
	for _, p := range t.Providers {
		pt.Providers = append(pt.Providers, &gatewayv1.Provider{
			Role:    p.Role,
			Name:    p.Name,
			Enabled: p.IsEnabled(),
			Params:  maps.Clone(p.Params),
		})
	}
	for _, s := range t.Services {
		ps := &gatewayv1.Service{
			Role:      s.Role,
			Path:      s.Path,
			Urls:      slices.Clone(s.URLs),
			Params:    maps.Clone(s.Params),
			Websocket: s.WebSocket,
		}
		if d := s.Dispatch; d != nil {
			ps.Dispatch = &gatewayv1.Dispatch{
				UseTwoWayTls:          d.UseTwoWayTLS,
				ClientCertificate:     d.ClientCertificate,
				Truststore:            d.Truststore,
				InsecureSkipVerify:    d.InsecureSkipVerify,
				DialTimeout:           durationToProto(d.DialTimeout),
				TlsHandshakeTimeout:   durationToProto(d.TLSHandshakeTimeout),
				ResponseHeaderTimeout: durationToProto(d.ResponseHeaderTimeout),
				IdleTimeout:           durationToProto(d.IdleTimeout),
				MaxBodyBytes:          d.MaxBodyBytes,
				Classname:             d.Classname,
				FederationHeader:      d.FederationHeader,
				Federate:              d.Federate,
				FederationSecret:      d.FederationSecret,
				ForwardCredentials:    d.ForwardCredentials,
				AllowTrace:            d.AllowTrace,
			}
		}
		if h := s.HA; h != nil {
			ph := &gatewayv1.HighAvailability{
				MaxFailures:         clampInt32(h.MaxFailures),
				Cooloff:             durationToProto(h.Cooloff),
				HealthCheckPath:     h.HealthCheckPath,
				HealthCheckInterval: durationToProto(h.HealthCheckInterval),
				FailoverOnStandby:   h.FailoverOnStandby,
				SafeModeRetries:     clampInt32(h.SafeModeRetries),
				SafeModeRetrySleep:  durationToProto(h.SafeModeRetrySleep),
			}
			for _, st := range h.FailoverStatuses {
				ph.FailoverStatuses = append(ph.FailoverStatuses, clampInt32(st))
			}
			ps.Ha = ph
		}
		pt.Services = append(pt.Services, ps)
	}
	return pt
}

// FromProto converts a management API topology to the model and normalizes
// it. It fails on nil elements and invalid durations; other checks are
// Validate's.
func FromProto(pt *gatewayv1.Topology) (*topology.Topology, error) {
	if pt == nil {
		return nil, errors.New("converting topology from the API: nil topology")
	}
	t, err := fromProto(pt)
	if err != nil {
		return nil, fmt.Errorf("converting topology %q from the API: %w", pt.GetName(), err)
	}
	topology.Normalize(t)
	return t, nil
}

func fromProto(pt *gatewayv1.Topology) (*topology.Topology, error) {
	t := &topology.Topology{Name: pt.GetName(), Description: pt.GetDescription()}
	for i, pp := range pt.GetProviders() {
		if pp == nil {
			return nil, fmt.Errorf("providers[%d] is null", i)
		}
		p := topology.Provider{Role: pp.GetRole(), Name: pp.GetName(), Params: maps.Clone(pp.GetParams())}
		if !pp.GetEnabled() {
			p.Enabled = new(false)
		}
		t.Providers = append(t.Providers, p)
	}
	for i, ps := range pt.GetServices() {
		if ps == nil {
			return nil, fmt.Errorf("services[%d] is null", i)
		}
		f := fmt.Sprintf("services[%d]", i)
		s := topology.Service{
			Role:      ps.GetRole(),
			Path:      ps.GetPath(),
			URLs:      slices.Clone(ps.GetUrls()),
			Params:    maps.Clone(ps.GetParams()),
			WebSocket: ps.GetWebsocket(),
		}
		if pd := ps.GetDispatch(); pd != nil {
			d := &topology.Dispatch{
				UseTwoWayTLS:       pd.GetUseTwoWayTls(),
				ClientCertificate:  pd.GetClientCertificate(),
				Truststore:         pd.GetTruststore(),
				InsecureSkipVerify: pd.GetInsecureSkipVerify(),
				MaxBodyBytes:       pd.GetMaxBodyBytes(),
				Classname:          pd.GetClassname(),
				FederationHeader:   pd.GetFederationHeader(),
				Federate:           pd.GetFederate(),
				FederationSecret:   pd.GetFederationSecret(),
				ForwardCredentials: pd.GetForwardCredentials(),
				AllowTrace:         pd.GetAllowTrace(),
			}
			var err error
			for _, c := range []struct {
				name string
				src  *durationpb.Duration
				dst  *topology.Duration
			}{
				{"dial_timeout", pd.GetDialTimeout(), &d.DialTimeout},
				{"tls_handshake_timeout", pd.GetTlsHandshakeTimeout(), &d.TLSHandshakeTimeout},
				{"response_header_timeout", pd.GetResponseHeaderTimeout(), &d.ResponseHeaderTimeout},
				{"idle_timeout", pd.GetIdleTimeout(), &d.IdleTimeout},
			} {
				if *c.dst, err = durationFromProto(c.src); err != nil {
					return nil, fmt.Errorf("%s.dispatch.%s: %w", f, c.name, err)
				}
			}
			s.Dispatch = d
		}
		if ph := ps.GetHa(); ph != nil {
			h := &topology.HA{MaxFailures: int(ph.GetMaxFailures()), HealthCheckPath: ph.GetHealthCheckPath(), FailoverOnStandby: ph.GetFailoverOnStandby(),
				SafeModeRetries: int(ph.GetSafeModeRetries())}
			for _, st := range ph.GetFailoverStatuses() {
				h.FailoverStatuses = append(h.FailoverStatuses, int(st))
			}
			var err error
			if h.Cooloff, err = durationFromProto(ph.GetCooloff()); err != nil {
				return nil, fmt.Errorf("%s.ha.cooloff: %w", f, err)
			}
			if h.HealthCheckInterval, err = durationFromProto(ph.GetHealthCheckInterval()); err != nil {
				return nil, fmt.Errorf("%s.ha.health_check_interval: %w", f, err)
			}
			if h.SafeModeRetrySleep, err = durationFromProto(ph.GetSafeModeRetrySleep()); err != nil {
				return nil, fmt.Errorf("%s.ha.safe_mode_retry_sleep: %w", f, err)
			}
			s.HA = h
		}
		t.Services = append(t.Services, s)
	}
	return t, nil
}

func durationToProto(d topology.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d.D())
}

func durationFromProto(d *durationpb.Duration) (topology.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, err
	}
	// CheckValid accepts about ±10,000 years; time.Duration holds ±292.
	v := d.AsDuration()
	if int64(v/time.Second) != d.GetSeconds() {
		return 0, fmt.Errorf("duration %ds is out of range", d.GetSeconds())
	}
	return topology.Duration(v), nil
}

// clampInt32 converts n, saturating; Validate keeps real values in range.
func clampInt32(n int) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32))
}
