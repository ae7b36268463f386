package match

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
)

// Names is a set of names, or any name ("*").
type Names struct {
	Any bool
	set map[string]struct{}
}

// ParseNames parses a comma-separated list of names or "*", the value of
// param. Entries are trimmed; an empty list, an empty entry or a name with
// control characters is an error.
func ParseNames(param, v string) (Names, error) {
	n := Names{set: map[string]struct{}{}}
	for e := range strings.SplitSeq(v, ",") {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			return Names{}, &chain.ParamError{Param: param, Reason: "empty entry in the list (use * for any)"}
		case e == "*":
			n.Any = true
		case HasControl(e):
			return Names{}, &chain.ParamError{Param: param, Reason: "a name contains control characters"}
		default:
			n.set[e] = struct{}{}
		}
	}
	return n, nil
}

// Contains reports whether name is in the set (always, for "*").
func (n Names) Contains(name string) bool {
	if n.Any {
		return true
	}
	_, ok := n.set[name]
	return ok
}

// ContainsAny reports whether one of names is in the set (always, for "*").
func (n Names) ContainsAny(names []string) bool {
	if n.Any {
		return true
	}
	for _, g := range names {
		if _, ok := n.set[g]; ok {
			return true
		}
	}
	return false
}

// Len is the number of names (not counting "*").
func (n Names) Len() int { return len(n.set) }

// Addrs is a set of address ranges, or any address ("*").
type Addrs struct {
	Any      bool
	prefixes []netip.Prefix
}

// ParseAddrs parses a comma-separated list of IP addresses, CIDR ranges
// (IPv4 or IPv6; host bits are masked off) or "*", the value of param.
// With knoxWildcards, an IPv4 prefix written Knox's way ("192.168.*") is
// read as the CIDR range it means (192.168.0.0/16). Host names, zones and
// anything else are errors.
func ParseAddrs(param, v string, knoxWildcards bool) (Addrs, error) {
	var a Addrs
	for e := range strings.SplitSeq(v, ",") {
		e = strings.TrimSpace(e)
		if e == "*" {
			a.Any = true
			continue
		}
		p, err := parsePrefix(e, knoxWildcards)
		if err != nil {
			return Addrs{}, &chain.ParamError{Param: param, Reason: err.Error()}
		}
		a.prefixes = append(a.prefixes, p)
	}
	return a, nil
}

func parsePrefix(e string, knoxWildcards bool) (netip.Prefix, error) {
	switch {
	case e == "":
		return netip.Prefix{}, fmt.Errorf("empty entry in the list (use * for any)")
	case knoxWildcards && strings.HasSuffix(e, ".*"):
		octets := strings.Split(strings.TrimSuffix(e, ".*"), ".")
		if len(octets) > 3 {
			return netip.Prefix{}, fmt.Errorf("%q: a wildcard address has at most three octets before .*", e)
		}
		full := strings.Join(octets, ".") + strings.Repeat(".0", 4-len(octets))
		a, err := netip.ParseAddr(full)
		if err != nil || !a.Is4() {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 wildcard address such as 192.168.*", e)
		}
		return netip.PrefixFrom(a, 8*len(octets)), nil
	case strings.Contains(e, "/"):
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range: %v", e, err)
		}
		return netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked(), nil
	default:
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range (host names are not supported)", e)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
}

// unmappedBits is p's length once its address is unmapped (::ffff:10.0.0.0/104 is 10.0.0.0/8).
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// Contains reports whether a is in one of the ranges (always, for "*"). An
// invalid address is in no range.
func (a Addrs) Contains(addr netip.Addr) bool {
	if a.Any {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Len is the number of ranges (not counting "*").
func (a Addrs) Len() int { return len(a.prefixes) }

// HasControl reports whether s has ASCII control characters.
func HasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
