package identity_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/securegw/gateway/proxy/identity"
)

func TestCredentialStrip(t *testing.T) {
	tests := []struct {
		name       string
		cred       identity.Credential
		target     string
		header     http.Header
		wantQuery  string
		wantHeader http.Header
	}{
		{"header, any case", identity.HeaderCredential("x-api-key"), "/?a=1",
			http.Header{"X-Api-Key": {"s1", "s2"}, "Authorization": {"Basic x"}}, "a=1",
			http.Header{"Authorization": {"Basic x"}}},
		{"Authorization", identity.Authorization, "/",
			http.Header{"Authorization": {"Basic x"}, "Cookie": {"a=1"}}, "",
			http.Header{"Cookie": {"a=1"}}},
		{"cookie among others", identity.CookieCredential("sso"), "/",
			http.Header{"Cookie": {"a=1; sso=tok; b=2", "sso=again", "c=3;sso=x"}}, "",
			http.Header{"Cookie": {"a=1; b=2", "c=3"}}},
		{"cookie: a name that only contains it stays", identity.CookieCredential("sso"), "/",
			http.Header{"Cookie": {"my-sso=1; sso2=2; xsso=3"}}, "",
			http.Header{"Cookie": {"my-sso=1; sso2=2; xsso=3"}}},
		{"cookie: last one gone, header gone", identity.CookieCredential("sso"), "/",
			http.Header{"Cookie": {"sso=tok"}, "X": {"y"}}, "",
			http.Header{"X": {"y"}}},
		{"query among others, kept as sent", identity.QueryCredential("access_token"), "/?a=%2F&access_token=t&b=&access_token=u&c",
			http.Header{}, "a=%2F&b=&c", http.Header{}},
		{"query: encoded name", identity.QueryCredential("access_token"), "/?access%5Ftoken=t&x=1",
			http.Header{}, "x=1", http.Header{}},
		{"query: name differs in case: another parameter", identity.QueryCredential("access_token"), "/?ACCESS_TOKEN=t",
			http.Header{}, "ACCESS_TOKEN=t", http.Header{}},
		{"query: only parameter", identity.QueryCredential("t"), "/?t=1",
			http.Header{}, "", http.Header{}},
		{"empty name: nothing", identity.Credential{Kind: identity.CredentialHeader}, "/?a=1",
			http.Header{"Authorization": {"x"}}, "a=1", http.Header{"Authorization": {"x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Header = tc.header
			tc.cred.Strip(r)
			if r.URL.RawQuery != tc.wantQuery {
				t.Errorf("query %q, want %q", r.URL.RawQuery, tc.wantQuery)
			}
			if len(r.Header) != len(tc.wantHeader) {
				t.Errorf("header %v, want %v", r.Header, tc.wantHeader)
			}
			for k, v := range tc.wantHeader {
				if !slices.Equal(r.Header[k], v) {
					t.Errorf("header %s: %q, want %q", k, r.Header[k], v)
				}
			}
		})
	}
}

func TestCredentialStripNoAllocation(t *testing.T) {
	r := httptest.NewRequest("GET", "/?a=1&b=2", nil)
	r.Header = http.Header{"Cookie": {"a=1; b=2"}, "Accept": {"*/*"}}
	creds := []identity.Credential{identity.Authorization, identity.CookieCredential("sso"), identity.QueryCredential("token")}
	if n := testing.AllocsPerRun(100, func() {
		for _, c := range creds {
			c.Strip(r)
		}
	}); n != 0 {
		t.Fatalf("%v allocations when the request carries none of the credentials", n)
	}
}

func TestCredentialString(t *testing.T) {
	for c, want := range map[identity.Credential]string{
		identity.Authorization:               "header Authorization",
		identity.CookieCredential("sso"):     "cookie sso",
		identity.QueryCredential("token"):    "query parameter token",
		{Kind: 0, Name: "x"}:                 "unknown x",
		identity.HeaderCredential("x-token"): "header X-Token",
	} {
		if got := c.String(); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
