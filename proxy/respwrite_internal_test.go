package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// The origins index answers alike whether it keeps its origins in a slice
// (at most smallOrigins) or a map (more): every backend maps to its
// service, the longest base path first, hosts of a host map included, and
// an origin no service has is unknown.
func TestOriginsLookupSmallAndLarge(t *testing.T) {
	// n services of two origins each, and the host map's two: 2n+2 origins.
	for _, n := range []int{1, smallOrigins/2 - 1, smallOrigins / 2, 3 * smallOrigins} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var svcs []*service
			for i := range n {
				s := &service{path: fmt.Sprintf("s%d", i), up: &upstream{}}
				for _, raw := range []string{
					fmt.Sprintf("http://h%d.example:%d/base", i, 8000+i),
					fmt.Sprintf("https://h%d.example/base/deeper", i),
				} {
					b, err := parseBackend(raw)
					if err != nil {
						t.Fatal(err)
					}
					s.up.backends = append(s.up.backends, b)
				}
				svcs = append(svcs, s)
			}
			// A second service on the first origin, under a longer base.
			deep := &service{path: "deep", up: &upstream{}}
			b, err := parseBackend("http://h0.example:8000/base/deep")
			if err != nil {
				t.Fatal(err)
			}
			deep.up.backends = []*backend{b}
			svcs = append(svcs, deep)
			o := buildOrigins(svcs, map[string]string{"internal0": "h0.example"})
			if small := o.routes == nil; small != (2*n+2 <= smallOrigins) {
				t.Fatalf("%d origins: kept in a slice: %v", 2*n+2, small)
			}
			cases := []struct {
				url, svc, rest string
				known          bool
			}{
				{"http://h0.example:8000/base/x", "s0", "/x", true},
				{"http://H0.EXAMPLE:8000/base/deep/y", "deep", "/y", true},
				{"ws://h0.example:8000/base", "s0", "", true},
				{"https://h0.example/base/deeper/z", "s0", "/z", true},
				{"https://h0.example:443/base/deeper", "s0", "", true},
				{"//h0.example:8000/base/q", "s0", "/q", true},
				{"http://internal0:8000/base/x", "s0", "/x", true},
				{fmt.Sprintf("http://h%d.example:%d/base/last", n-1, 8000+n-1), fmt.Sprintf("s%d", n-1), "/last", true},
				// Other spellings of the same origins (webhost).
				{"http://H0.Example.:08000/base/x", "s0", "/x", true},
				{"https://h0.example.:0443/base/deeper/z", "s0", "/z", true},
				{"http://internal0.:8000/base/x", "s0", "/x", true},
				{"http://h0.example..:8000/base/x", "", "", false},
				{"http://h0.example:8000/other", "", "", true},
				{"http://h0.example:1/base/x", "", "", false},
				{"http://elsewhere.example:8000/base/x", "", "", false},
				{"ftp://internal0/x", "", "", true},
			}
			for _, tc := range cases {
				u, err := url.Parse(tc.url)
				if err != nil {
					t.Fatal(err)
				}
				r, rest, found, known := o.lookup(u, nil)
				got := ""
				if found {
					got = r.svc.path
				}
				if got != tc.svc || rest != tc.rest || known != tc.known {
					t.Errorf("%s: service %q rest %q known %v, want %q %q %v", tc.url, got, rest, known, tc.svc, tc.rest, tc.known)
				}
			}
		})
	}
}

// X-Forwarded-Proto is read one way for links and for the port backends
// are told: its first element, http in any case, anything else https.
func TestForwardedScheme(t *testing.T) {
	for proto, want := range map[string]string{
		"http": "http", "HTTP": "http", " Http , https": "http", "https": "https", "HTTPS": "https",
		"https, http": "https", "": "https", "ws": "https", "http2": "https",
	} {
		if got := forwardedScheme(proto); got != want {
			t.Errorf("forwardedScheme(%q) = %q, want %q", proto, got, want)
		}
		out := &http.Request{Header: http.Header{"X-Forwarded-Proto": {proto}}}
		if got := publicScheme(out); got != want {
			t.Errorf("publicScheme with X-Forwarded-Proto %q = %q, want %q", proto, got, want)
		}
	}
}
