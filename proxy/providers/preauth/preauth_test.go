package preauth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/securegw/gateway/internal/fedsig"
	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/internal/testpki"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/replay"
)

const fedSecret = "s3cret-shared-by-both-gateways!!"

// aliases and stores are the gateways' credential aliases and truststores.
type aliases map[string][]byte

func (a aliases) Resolve(_ context.Context, _, alias string) ([]byte, error) {
	v, ok := a[alias]
	if !ok {
		return nil, fmt.Errorf("alias %q not found", alias)
	}
	return v, nil
}

type stores map[string][]byte

func (s stores) TruststorePEM(_ context.Context, name string) ([]byte, error) {
	v, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("truststore %q not found", name)
	}
	return v, nil
}

// clock is a settable clock shared by the cloud gateway and its replay cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func caPEM(ca *testpki.CA) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// federation is an on-prem gateway (basic authentication) federating its
// webhdfs service to a cloud gateway (header-preauth) over two-way TLS,
// the cloud's backend recording what it receives.
type federation struct {
	onprem, cloud string // front URLs
	cloudRoots    *x509.CertPool
	onpremCert    *testpki.Leaf // the on-prem gateway's client certificate
	strangerCert  *testpki.Leaf // a certificate of the same CA not in allowed_clients
	clk           *clock
	logs          *testlog.Buffer
	backend       string
	wsBackend     string      // ws://…
	serverCA      *testpki.CA // the cloud's
	clientCA      *testpki.CA // on-prem's, for client certificates

	mu  sync.Mutex
	got []http.Header
}

// fedOpts vary the federation: the cloud's header-preauth params (nil:
// every validator), or its whole topology as Knox XML, its replay cache
// (nil: its own), and the on-prem gateway's federation headers.
type fedOpts struct {
	params   map[string]string
	knoxXML  string
	replay   chain.ReplayCache
	onpremFH proxy.Federation
}

func newFederation(t *testing.T, o fedOpts) *federation {
	t.Helper()
	if o.onpremFH == (proxy.Federation{}) {
		o.onpremFH.GroupsHeader = "SM_GROUPS"
	}
	f := &federation{clk: &clock{t: time.Now()}, logs: &testlog.Buffer{}}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.got = append(f.got, r.Header.Clone())
		f.mu.Unlock()
		_, _ = io.WriteString(w, "user="+r.Header.Get("X-Forwarded-User"))
	}))
	t.Cleanup(backend.Close)
	f.backend = backend.URL
	// A WebSocket backend that greets the user the cloud asserted.
	wsBackend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello "+r.Header.Get("X-Forwarded-User")))
		_, _, _ = c.ReadMessage()
	}))
	t.Cleanup(wsBackend.Close)
	f.wsBackend = "ws" + strings.TrimPrefix(wsBackend.URL, "http")
	f.serverCA, f.clientCA = testpki.NewCA(t, "cloud-server"), testpki.NewCA(t, "onprem-clients")
	f.onpremCert, f.strangerCert = f.clientCA.Client(t, "onprem-gw"), f.clientCA.Client(t, "stranger")
	f.cloudRoots = f.serverCA.Pool()
	f.cloud = f.addCloud(t, o)
	f.onprem = f.addOnprem(t, o, []string{f.cloud + "/gateway/aws/webhdfs"}, nil)
	return f
}

// addCloud starts a cloud gateway: header pre-auth, identity asserted to
// the backend in X-Forwarded-User; it returns its front's URL.
func (f *federation) addCloud(t *testing.T, o fedOpts) string {
	t.Helper()
	cloud, err := proxy.New(proxy.Config{
		Resolver:    aliases{"fed-secret": []byte(fedSecret)},
		Truststores: stores{"onprem-clients": caPEM(f.clientCA)},
		Host:        chain.Host{Clock: f.clk, Replay: o.replay},
		Logger:      slog.New(slog.NewTextHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	params := map[string]string{
		"allowed_addresses": "127.0.0.0/8, ::1",
		"truststore":        "onprem-clients",
		"allowed_clients":   "CN=onprem-gw",
		"secret":            "${alias:fed-secret}",
		"groups_header":     "SM_GROUPS",
	}
	if o.params != nil {
		params = o.params
	}
	ct := &topology.Topology{Name: "aws", Providers: []topology.Provider{
		{Role: "federation", Name: "header-preauth", Params: params},
		{Role: "identity-assertion", Name: "default", Params: map[string]string{"header": "X-Forwarded-User", "groups_header": "X-Forwarded-Groups"}},
	}, Services: []topology.Service{{Path: "webhdfs", URLs: []string{f.backend + "/webhdfs"}},
		{Path: "ws", URLs: []string{f.wsBackend}, WebSocket: true}}}
	if o.knoxXML != "" {
		ct, err = topology.Parse([]byte(strings.ReplaceAll(o.knoxXML, "BACKEND", f.backend)), topology.FormatKnoxXML, "aws.xml", "")
		if err != nil {
			t.Fatal(err)
		}
	}
	deploy(t, cloud, ct)
	return f.cloudFront(t, cloud)
}

// cloudFront serves h over TLS with the cloud's certificate, asking for
// client certificates of on-prem's CA.
func (f *federation) cloudFront(t *testing.T, h http.Handler) string {
	cf := httptest.NewUnstartedServer(h)
	cf.TLS = &tls.Config{Certificates: []tls.Certificate{f.serverCA.Server(t, "127.0.0.1").TLS},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: f.clientCA.Pool()}
	cf.StartTLS()
	t.Cleanup(cf.Close)
	return cf.URL
}

// addOnprem starts an on-prem gateway: basic authentication, its webhdfs
// service federating to urls, signed with the same secret, presenting its
// client certificate; it returns its front's URL.
func (f *federation) addOnprem(t *testing.T, o fedOpts, urls []string, ha *topology.HA) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	onprem, err := proxy.New(proxy.Config{
		Resolver: aliases{"fed-secret": []byte(fedSecret),
			"gw-client": append(append([]byte{}, f.onpremCert.CertPEM...), f.onpremCert.KeyPEM...)},
		Truststores: stores{"cloud": caPEM(f.serverCA)},
		Federation:  o.onpremFH,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { onprem.Close() })
	deploy(t, onprem, &topology.Topology{Name: "onprem", Providers: []topology.Provider{
		{Role: "authentication", Name: "basic", Params: map[string]string{"user.alice": string(hash)}},
		{Role: "identity-assertion", Name: "default", Params: map[string]string{"group.principal.mapping": "alice=etl,analysts"}},
	}, Services: []topology.Service{{Path: "webhdfs", URLs: urls, HA: ha,
		Dispatch: &topology.Dispatch{Federate: true, FederationSecret: "fed-secret",
			UseTwoWayTLS: true, ClientCertificate: "gw-client", Truststore: "cloud"}},
		{Path: "ws", URLs: []string{"wss" + strings.TrimPrefix(f.cloud, "https") + "/gateway/aws/ws"}, WebSocket: true,
			Dispatch: &topology.Dispatch{Federate: true, FederationSecret: "fed-secret",
				UseTwoWayTLS: true, ClientCertificate: "gw-client", Truststore: "cloud"}}}})
	of := httptest.NewServer(onprem)
	t.Cleanup(of.Close)
	return of.URL
}

func deploy(t *testing.T, p *proxy.Proxy, tp *topology.Topology) {
	t.Helper()
	topology.Normalize(tp)
	c, err := p.Compile(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(c)
}

func (f *federation) last() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		return nil
	}
	return f.got[len(f.got)-1]
}

func (f *federation) backendCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

// do sends req with client (nil: the default one) and returns the status and body.
func do(t *testing.T, client *http.Client, req *http.Request) (int, string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cloudClient talks to the cloud gateway directly, presenting cert (nil: none).
func (f *federation) cloudClient(t *testing.T, cert *testpki.Leaf) *http.Client {
	cfg := &tls.Config{RootCAs: f.cloudRoots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestFederationCarriesTheUser(t *testing.T) {
	f := newFederation(t, fedOpts{})
	tests := []struct {
		name   string
		header http.Header
	}{
		{"plain", nil},
		// A client's copies of the federation headers never pass for the gateway's.
		{"client-sent identity headers", http.Header{"SM_USER": {"mallory"}, "Sm-User": {"root"}, "sm.user": {"x"},
			"SM_GROUPS": {"admin"}, fedsig.Header: {"v1 t=1 n=x s=y"}}},
		// Headers a client names in Connection are dropped before the gateway adds its own.
		{"Connection names the identity headers", http.Header{"Connection": {"SM_USER, sm_groups, X-Gateway-Signature"}, "SM_USER": {"mallory"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.onprem+"/gateway/onprem/webhdfs/v1/tmp?op=LISTSTATUS", nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			req.SetBasicAuth("alice", "alice-password")
			status, body := do(t, nil, req)
			if status != 200 || body != "user=alice" {
				t.Fatalf("got %d %q, want 200 user=alice", status, body)
			}
			h := f.last()
			if g := h.Get("X-Forwarded-Groups"); g != "etl,analysts" {
				t.Errorf("cloud backend saw groups %q, want etl,analysts", g)
			}
			for k := range h {
				switch strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k)) {
				case "sm-user", "sm-groups", "x-gateway-signature", "authorization":
					t.Errorf("the cloud backend received %s: %q", k, h[k])
				}
			}
		})
	}
}

func TestFederationWithoutUser(t *testing.T) {
	f := newFederation(t, fedOpts{})
	req, _ := http.NewRequest("GET", f.onprem+"/gateway/onprem/webhdfs/v1/tmp", nil)
	req.SetBasicAuth("alice", "wrong")
	if status, _ := do(t, nil, req); status != 401 {
		t.Fatalf("wrong password: %d, want 401", status)
	}
	if n := f.backendCalls(); n != 0 {
		t.Fatalf("the cloud backend was called %d times", n)
	}
}

// signed is a request straight to the cloud gateway as the on-prem one
// would send it, signed with secret at the given time.
func (f *federation) signed(t *testing.T, secret, method, target string, at time.Time) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(method, f.cloud+target, nil)
	s, err := fedsig.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	req.Header["SM_USER"] = []string{"alice"}
	req.Header[fedsig.Header] = []string{s.Sign(&fedsig.Request{Method: method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, User: "alice"}, at)}
	return req
}

func TestDirectRequestsToCloud(t *testing.T) {
	f := newFederation(t, fedOpts{})
	const path = "/gateway/aws/webhdfs/v1/tmp"
	trusted := f.cloudClient(t, f.onpremCert)
	tests := []struct {
		name      string
		client    *http.Client
		req       func(now time.Time) *http.Request
		status    int
		validator string // in the log
	}{
		{"signed by a trusted sender", trusted, func(now time.Time) *http.Request {
			return f.signed(t, fedSecret, "GET", path+"?op=OPEN", now)
		}, 200, ""},
		{"header name in another case", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path, now)
			r.Header["sm_user"], r.Header["SM_USER"] = r.Header["SM_USER"], nil
			delete(r.Header, "SM_USER")
			return r
		}, 200, ""},
		{"no identity header", trusted, func(time.Time) *http.Request {
			r, _ := http.NewRequest("GET", f.cloud+path, nil)
			return r
		}, 401, ""},
		{"forged header, no client certificate", f.cloudClient(t, nil), func(now time.Time) *http.Request {
			return f.signed(t, fedSecret, "GET", path, now)
		}, 403, "client-cert"},
		{"forged header, certificate not in allowed_clients", f.cloudClient(t, f.strangerCert), func(now time.Time) *http.Request {
			return f.signed(t, fedSecret, "GET", path, now)
		}, 403, "client-cert"},
		{"no signature", trusted, func(time.Time) *http.Request {
			r, _ := http.NewRequest("GET", f.cloud+path, nil)
			r.Header.Set("SM_USER", "alice")
			return r
		}, 403, "hmac"},
		{"wrong secret", trusted, func(now time.Time) *http.Request {
			return f.signed(t, "another-secret-of-enough-length", "GET", path, now)
		}, 403, "hmac"},
		{"signature over another method", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path, now)
			r.Method = "DELETE"
			return r
		}, 403, "hmac"},
		{"signature over another path", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path, now)
			r.URL.Path = "/gateway/aws/webhdfs/v1/etc"
			return r
		}, 403, "hmac"},
		{"signature over another query", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path+"?op=OPEN", now)
			r.URL.RawQuery = "op=DELETE"
			return r
		}, 403, "hmac"},
		{"signature for another user", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path, now)
			r.Header["SM_USER"] = []string{"admin"}
			return r
		}, 403, "hmac"},
		{"expired timestamp", trusted, func(now time.Time) *http.Request {
			return f.signed(t, fedSecret, "GET", path, now.Add(-2*time.Minute))
		}, 403, "hmac"},
		{"duplicated header", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path, now)
			r.Header["SM_USER"] = []string{"alice", "admin"}
			return r
		}, 403, "header"},
		{"underscore and dash spellings together", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path, now)
			r.Header["Sm-User"] = []string{"admin"}
			return r
		}, 403, "header"},
		{"Connection names the identity header", trusted, func(now time.Time) *http.Request {
			r := f.signed(t, fedSecret, "GET", path, now)
			r.Header.Set("Connection", "keep-alive, sm-user")
			return r
		}, 403, "header"},
		{"empty user", trusted, func(time.Time) *http.Request {
			r, _ := http.NewRequest("GET", f.cloud+path, nil)
			r.Header["SM_USER"] = []string{" "}
			return r
		}, 403, "header"},
	}
	var forbidden string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.backendCalls()
			logged := f.logs.Len()
			status, body := do(t, tc.client, tc.req(f.clk.Now()))
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			if reached := f.backendCalls() > before; reached != (status == 200) {
				t.Fatalf("backend reached: %v, status %d", reached, status)
			}
			if status != 403 {
				return
			}
			// The answer is the same whichever validator refused; the log says which.
			if forbidden == "" {
				forbidden = body
			}
			if body != forbidden || strings.Contains(body, tc.validator) {
				t.Errorf("403 body %q differs or names the validator (first was %q)", body, forbidden)
			}
			log := f.logs.String()[logged:]
			if !strings.Contains(log, "validator="+tc.validator) {
				t.Errorf("the log does not name validator %s: %s", tc.validator, log)
			}
			if strings.Contains(log, fedSecret) || strings.Contains(log, " s=") {
				t.Errorf("the log carries the secret or a signature: %s", log)
			}
		})
	}
}

func TestReplayedSignatureRefused(t *testing.T) {
	f := newFederation(t, fedOpts{})
	c := f.cloudClient(t, f.onpremCert)
	req := f.signed(t, fedSecret, "POST", "/gateway/aws/webhdfs/v1/tmp?op=CREATE", f.clk.Now())
	if status, body := do(t, c, req); status != 200 {
		t.Fatalf("first use: %d %s", status, body)
	}
	again, _ := http.NewRequest("POST", req.URL.String(), nil)
	again.Header = req.Header.Clone()
	if status, _ := do(t, c, again); status != 403 {
		t.Fatalf("replay: %d, want 403", status)
	}
	if !strings.Contains(f.logs.String(), "nonce already used") {
		t.Fatalf("the log does not say the nonce was replayed: %s", f.logs.String())
	}
}

func TestStaleFederatedRequest(t *testing.T) {
	// The cloud's clock runs 5 minutes ahead of the on-prem gateway's: its
	// signatures are refused as expired.
	f := newFederation(t, fedOpts{})
	f.clk.set(time.Now().Add(5 * time.Minute))
	req, _ := http.NewRequest("GET", f.onprem+"/gateway/onprem/webhdfs/v1/tmp", nil)
	req.SetBasicAuth("alice", "alice-password")
	if status, body := do(t, nil, req); status != 403 {
		t.Fatalf("got %d %s, want 403", status, body)
	}
}

func TestValidatorsCombineWithAND(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		status int
	}{
		{"ip only, allowed (IPv6 list too)", map[string]string{"allowed_addresses": "::1, 127.0.0.1"}, 200},
		{"ip only, refused", map[string]string{"allowed_addresses": "10.0.0.0/8, fd00::/8"}, 403},
		{"Knox ip validation with wildcards", map[string]string{"preauth.validation.method": "preauth.ip.validation", "preauth.ip.addresses": "127.0.*"}, 200},
		{"ip refused though certificate and signature are good", map[string]string{"allowed_addresses": "192.0.2.0/24",
			"truststore": "onprem-clients", "allowed_clients": "CN=onprem-gw", "secret": "${alias:fed-secret}"}, 403},
		{"client-cert by SAN, refused", map[string]string{"truststore": "onprem-clients", "allowed_clients": "gw.example.org; CN=other"}, 403},
		{"client-cert by subject", map[string]string{"truststore": "onprem-clients", "allowed_clients": "CN=onprem-gw"}, 200},
		{"unvalidated, explicitly", map[string]string{"allow_unvalidated": "true"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFederation(t, fedOpts{params: tc.params})
			req, _ := http.NewRequest("GET", f.onprem+"/gateway/onprem/webhdfs/v1/x", nil)
			req.SetBasicAuth("alice", "alice-password")
			if status, body := do(t, nil, req); status != tc.status {
				t.Fatalf("got %d %s, want %d", status, body, tc.status)
			}
		})
	}
}

func TestDeployRefusals(t *testing.T) {
	p, err := proxy.New(proxy.Config{Resolver: aliases{"fed-secret": []byte(fedSecret), "short": []byte("short")},
		Truststores: stores{"empty": []byte("no pem here")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"no validator", nil, "without a validator"},
		{"Knox default validation", map[string]string{"preauth.validation.method": "preauth.default.validation"}, "without a validator"},
		{"unknown validator", map[string]string{"validation": "ldap"}, `"ldap": the validators are`},
		{"listed without its param", map[string]string{"validation": "ip,hmac", "allowed_addresses": "10.0.0.1"}, "validator hmac needs param secret"},
		{"param without its validator", map[string]string{"validation": "ip", "allowed_addresses": "10.0.0.1", "secret": "${alias:fed-secret}"}, "validation does not list hmac"},
		{"bad CIDR", map[string]string{"allowed_addresses": "10.0.0.0/33"}, "not a CIDR range"},
		{"host name", map[string]string{"allowed_addresses": "onprem.example.org"}, "host names are not supported"},
		{"any address", map[string]string{"allowed_addresses": "*"}, "allows every address"},
		{"secret in clear", map[string]string{"secret": "0123456789abcdef0123"}, "must be a credential alias"},
		{"short secret", map[string]string{"secret": "${alias:short}"}, "at least 16 bytes"},
		{"missing alias", map[string]string{"secret": "${alias:nope}"}, "nope"},
		{"certificate without truststore", map[string]string{"allowed_clients": "CN=x"}, "needs the truststore"},
		{"truststore without clients", map[string]string{"truststore": "empty"}, "only used by the client-cert validator"},
		{"truststore without certificates", map[string]string{"truststore": "empty", "allowed_clients": "CN=x"}, "holds no PEM certificate"},
		{"any client", map[string]string{"truststore": "empty", "allowed_clients": "*"}, "every certificate"},
		{"skew without hmac", map[string]string{"allowed_addresses": "10.0.0.1", "max_clock_skew": "30s"}, "only used by the hmac validator"},
		{"unvalidated with validators", map[string]string{"allowed_addresses": "10.0.0.1", "allow_unvalidated": "true"}, "contradicts"},
		{"same header twice", map[string]string{"allowed_addresses": "10.0.0.1", "groups_header": "sm-user"}, "must differ"},
		{"bad header name", map[string]string{"allowed_addresses": "10.0.0.1", "header": "SM USER"}, "not a valid header name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := &topology.Topology{Name: "aws", Providers: []topology.Provider{{Role: "federation", Name: "header-preauth", Params: tc.params}},
				Services: []topology.Service{{Path: "s", URLs: []string{"http://127.0.0.1:1"}}}}
			_, err := p.Compile(context.Background(), tp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile = %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), fedSecret) {
				t.Fatalf("the error carries the secret: %v", err)
			}
		})
	}
}

// Seed 001's cloud topology in Knox XML, with Knox's validation params and
// a custom header: converted to ours, it works with an on-prem gateway
// whose federation.header is aws_header.
const knoxCloud = `<topology>
    <gateway>
        <provider>
            <role>federation</role>
            <name>HeaderPreAuth</name>
            <enabled>true</enabled>
            <param><name>preauth.custom.header</name><value>aws_header</value></param>
            <param><name>preauth.custom.group.header</name><value>aws_groups</value></param>
            <param><name>preauth.validation.method</name><value>preauth.ip.validation</value></param>
            <param><name>preauth.ip.addresses</name><value>127.0.0.*,::1</value></param>
        </provider>
        <provider>
            <role>identity-assertion</role><name>Default</name><enabled>true</enabled>
            <param><name>header</name><value>X-Forwarded-User</value></param>
            <param><name>groups_header</name><value>X-Forwarded-Groups</value></param>
        </provider>
    </gateway>
    <service><role>WEBHDFS</role><url>BACKEND/webhdfs</url></service>
</topology>`

func TestKnoxHeaderPreAuth(t *testing.T) {
	f := newFederation(t, fedOpts{knoxXML: knoxCloud, onpremFH: proxy.Federation{Header: "aws_header", GroupsHeader: "aws_groups"}})
	req, _ := http.NewRequest("GET", f.onprem+"/gateway/onprem/webhdfs/v1/tmp?op=LISTSTATUS", nil)
	req.SetBasicAuth("alice", "alice-password")
	if status, body := do(t, nil, req); status != 200 || body != "user=alice" {
		t.Fatalf("got %d %q, want 200 user=alice", status, body)
	}
	if g := f.last().Get("X-Forwarded-Groups"); g != "etl,analysts" {
		t.Fatalf("groups %q, want etl,analysts", g)
	}
	// SM_USER is not the header of this topology: a request with it alone is not pre-authenticated.
	direct, _ := http.NewRequest("GET", f.cloud+"/gateway/aws/webhdfs/v1/tmp", nil)
	direct.Header.Set("SM_USER", "alice")
	if status, _ := do(t, f.cloudClient(t, nil), direct); status != 401 {
		t.Fatalf("SM_USER to a topology reading aws_header: %d, want 401", status)
	}
}

// A certificate accepted once is remembered for its connection, but not
// past its expiry.
func TestCertificateExpiresWhileRemembered(t *testing.T) {
	f := newFederation(t, fedOpts{params: map[string]string{"truststore": "onprem-clients", "allowed_clients": "CN=onprem-gw"}})
	get := func() int {
		req, _ := http.NewRequest("GET", f.onprem+"/gateway/onprem/webhdfs/v1/x", nil)
		req.SetBasicAuth("alice", "alice-password")
		status, _ := do(t, nil, req)
		return status
	}
	for i := 0; i < 2; i++ {
		if s := get(); s != 200 {
			t.Fatalf("request %d: %d, want 200", i, s)
		}
	}
	f.clk.set(time.Now().Add(25 * time.Hour)) // testpki certificates are valid for 24h
	if s := get(); s != 403 {
		t.Fatalf("after the certificate expired: %d, want 403", s)
	}
}

// Several cloud gateways of one cluster share the replay cache: a
// signature accepted by one is refused by the other.
func TestReplayToAnotherGatewayOfTheCluster(t *testing.T) {
	shared := replay.New(1024, nil)
	f := newFederation(t, fedOpts{replay: shared})
	second := f.addCloud(t, fedOpts{replay: shared})
	c := f.cloudClient(t, f.onpremCert)
	req := f.signed(t, fedSecret, "GET", "/gateway/aws/webhdfs/v1/tmp", time.Now())
	again := req.Clone(req.Context())
	again.URL, _ = url.Parse(second + req.URL.Path)
	if status, body := do(t, c, req); status != 200 {
		t.Fatalf("first gateway: %d %s", status, body)
	}
	if status, _ := do(t, c, again); status != 403 {
		t.Fatalf("the same signature at the second gateway: %d, want 403", status)
	}
}

// A failover to the next cloud gateway sends a new signature: the first
// gateway recorded the nonce in the cluster's replay cache before its
// backend failed.
func TestFailoverResigns(t *testing.T) {
	shared := replay.New(1024, nil)
	f := newFederation(t, fedOpts{replay: shared})
	v, err := fedsig.NewVerifier([]byte(fedSecret), time.Minute, shared)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var downErrs []error
	down := f.cloudFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A cloud gateway whose backend is down: it verified (and
		// recorded) the signature, then answers 503.
		err := v.Verify(r.Header.Get(fedsig.Header), &fedsig.Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			User: r.Header.Get("SM_USER"), Groups: r.Header.Get("SM_GROUPS")}, time.Now())
		mu.Lock()
		downErrs = append(downErrs, err)
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	onprem := f.addOnprem(t, fedOpts{onpremFH: proxy.Federation{GroupsHeader: "SM_GROUPS"}},
		[]string{down + "/gateway/aws/webhdfs", f.cloud + "/gateway/aws/webhdfs"}, &topology.HA{FailoverStatuses: []int{503}})
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", onprem+"/gateway/onprem/webhdfs/v1/tmp", nil)
		req.SetBasicAuth("alice", "alice-password")
		if status, body := do(t, nil, req); status != 200 || body != "user=alice" {
			t.Fatalf("request %d: %d %q, want 200 user=alice", i, status, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(downErrs) == 0 {
		t.Fatal("no request went to the failing gateway first")
	}
	for _, err := range downErrs {
		if err != nil {
			t.Fatalf("the failing gateway saw a bad signature: %v", err)
		}
	}
}

func TestFederatedURLsShareOnePath(t *testing.T) {
	p, err := proxy.New(proxy.Config{Resolver: aliases{"fed-secret": []byte(fedSecret)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	tp := &topology.Topology{Name: "onprem", Providers: []topology.Provider{{Role: "authentication", Name: "anonymous"}},
		Services: []topology.Service{{Path: "webhdfs", URLs: []string{"http://cloud-a:8443/gateway/aws/webhdfs", "http://cloud-b:8443/gateway/gcp/webhdfs"},
			Dispatch: &topology.Dispatch{Federate: true, FederationSecret: "fed-secret"}}}}
	if _, err := p.Compile(context.Background(), tp); err == nil || !strings.Contains(err.Error(), "must share one path") {
		t.Fatalf("Compile = %v, want a refusal of URLs with different paths", err)
	}
	tp.Services[0].URLs[1] = "http://cloud-b:8443/gateway/aws/webhdfs/"
	if _, err := p.Compile(context.Background(), tp); err != nil {
		t.Fatalf("URLs with one path: %v", err)
	}
}

// A WebSocket crosses the federation as the user: the on-prem gateway signs
// the upgrade, the cloud's chain pre-authenticates it before any backend
// connection, and its backend sees alice. Straight to the cloud with a
// forged header, the upgrade is refused with 403.
func TestWebSocketCrossesTheFederation(t *testing.T) {
	f := newFederation(t, fedOpts{})
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:alice-password")))
	h.Set("SM_USER", "admin") // a client's own never passes
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.onprem, "http")+"/gateway/onprem/ws", h)
	if err != nil {
		t.Fatalf("upgrade through on-prem: %v (%v)", err, resp)
	}
	defer c.Close()
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "hello alice" {
		t.Fatalf("first message %q, %v; want hello alice", msg, err)
	}

	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: f.cloudRoots, Certificates: []tls.Certificate{f.onpremCert.TLS}}}
	forged := http.Header{}
	forged.Set("SM_USER", "alice")
	_, resp, err = d.Dial("wss"+strings.TrimPrefix(f.cloud, "https")+"/gateway/aws/ws", forged)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("forged upgrade straight to the cloud: %v %v, want 403", err, resp)
	}
}
