package hostmap

import (
	"context"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
)

// Name and Role of the provider.
const (
	Name = "static"
	Role = chain.Role("hostmap")
)

func init() {
	chain.Register(chain.Factory{Name: Name, Role: Role, New: newHostMap})
}

// hostRE is a DNS name (letters, digits, '-', '_', '.').
var hostRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$`)

// hostMap maps internal host names to external ones.
type hostMap struct{ external map[string]string }

var _ chain.HostMap = (*hostMap)(nil)

func (h *hostMap) ExternalHosts() map[string]string { return h.external }

func newHostMap(_ context.Context, c chain.Config) (chain.Handler, error) {
	m := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		externals, err := hosts(k, k)
		if err != nil {
			return nil, err
		}
		internals, err := hosts(k, c.Params[k])
		if err != nil {
			return nil, err
		}
		for _, in := range internals {
			if prev, dup := m[in]; dup && prev != externals[0] {
				return nil, &chain.ParamError{Param: k, Reason: fmt.Sprintf("internal host %q is mapped to %q already", in, prev)}
			}
			m[in] = externals[0]
		}
	}
	if len(m) == 0 {
		return nil, nil // nothing to map
	}
	return &hostMap{external: m}, nil
}

// hosts splits a comma-separated list of host names, lower-cased.
func hosts(param, list string) ([]string, error) {
	var out []string
	for h := range strings.SplitSeq(list, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if net.ParseIP(h) == nil && !hostRE.MatchString(h) {
			return nil, &chain.ParamError{Param: param, Reason: fmt.Sprintf("%q is not a host name (no scheme, port or path)", truncate(h))}
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, &chain.ParamError{Param: param, Reason: "names no host"}
	}
	return out, nil
}

func truncate(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
