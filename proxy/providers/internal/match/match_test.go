package match_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/securegw/gateway/proxy/providers/internal/match"
)

func TestParseNames(t *testing.T) {
	tests := []struct {
		in       string
		contains []string
		absent   []string
		err      string
	}{
		{in: "alice, bob ,carol", contains: []string{"alice", "bob", "carol"}, absent: []string{"Alice", " bob", ""}},
		{in: "*", contains: []string{"anyone", ""}},
		{in: "alice,*", contains: []string{"zed"}},
		{in: "", err: "empty entry"},
		{in: "alice,,bob", err: "empty entry"},
		{in: "ali\nce", err: "control characters"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, err := match.ParseNames("p", tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), `param "p"`) {
					t.Fatalf("err %v, want %q naming the param", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.contains {
				if !n.Contains(s) || !n.ContainsAny([]string{"x", s}) {
					t.Errorf("%q not contained", s)
				}
			}
			for _, s := range tc.absent {
				if n.Contains(s) || n.ContainsAny([]string{s}) {
					t.Errorf("%q contained", s)
				}
			}
		})
	}
}

func TestParseAddrs(t *testing.T) {
	tests := []struct {
		in       string
		knox     bool
		contains []string
		absent   []string
		err      string
	}{
		{in: "10.0.0.0/8", contains: []string{"10.255.1.2", "::ffff:10.1.1.1"}, absent: []string{"11.0.0.1", "::1"}},
		{in: " 192.168.1.7 , 2001:db8::/32 ", contains: []string{"192.168.1.7", "2001:db8:1::5"}, absent: []string{"192.168.1.8", "2001:db9::1"}},
		{in: "10.1.2.3/8", contains: []string{"10.9.9.9"}},                                        // host bits masked
		{in: "::ffff:10.0.0.0/104", contains: []string{"10.3.3.3"}, absent: []string{"11.0.0.0"}}, // mapped range unmapped
		{in: "*", contains: []string{"1.2.3.4", "::1"}},
		{in: "192.168.*", knox: true, contains: []string{"192.168.200.1"}, absent: []string{"192.169.0.1"}},
		{in: "10.*", knox: true, contains: []string{"10.200.0.1"}, absent: []string{"11.0.0.1"}},
		{in: "192.168.*", err: "is not an IP address"}, // wildcards only where Knox had them
		{in: "10.0.0.0/33", err: `"10.0.0.0/33" is not a CIDR range`},
		{in: "2001:db8::/129", err: "is not a CIDR range"},
		{in: "gateway.example.com", err: "host names are not supported"},
		{in: "fe80::1%eth0", err: "not an IP address"},
		{in: "10.0.0.1,", err: "empty entry"},
		{in: "1.2.3.4.*", knox: true, err: "at most three octets"},
		{in: "300.*", knox: true, err: "not an IPv4 wildcard"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			a, err := match.ParseAddrs("p", tc.in, tc.knox)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), `param "p"`) {
					t.Fatalf("err %v, want %q naming the param", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.contains {
				if !a.Contains(netip.MustParseAddr(s)) {
					t.Errorf("%s not contained", s)
				}
			}
			for _, s := range tc.absent {
				if a.Contains(netip.MustParseAddr(s)) {
					t.Errorf("%s contained", s)
				}
			}
			if !a.Any && a.Contains(netip.Addr{}) {
				t.Error("the invalid address is contained")
			}
		})
	}
}
