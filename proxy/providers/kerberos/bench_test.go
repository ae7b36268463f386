package kerberos_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/replay"
)

// tokenSource makes Negotiate values for one cached service ticket, as a
// client does for each request: a new authenticator each time.
type tokenSource struct {
	crealm string
	cname  types.PrincipalName
	tkt    messages.Ticket
	key    types.EncryptionKey
}

func newTokenSource(b testing.TB, cl *client.Client) *tokenSource {
	tkt, key, err := cl.GetServiceTicket("HTTP/localhost")
	if err != nil {
		b.Fatal(err)
	}
	return &tokenSource{crealm: cl.Credentials.Domain(), cname: cl.Credentials.CName(), tkt: tkt, key: key}
}

func (s *tokenSource) next() (string, error) {
	auth, err := types.NewAuthenticator(s.crealm, s.cname)
	if err != nil {
		return "", err
	}
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck[:4], 16)
	binary.LittleEndian.PutUint32(ck[20:24], gssapi.ContextFlagInteg|gssapi.ContextFlagConf)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: ck}
	req, err := messages.NewAPReq(s.tkt, s.key, auth)
	if err != nil {
		return "", err
	}
	rb, err := req.Marshal()
	if err != nil {
		return "", err
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	gss := asn1tools.AddASNAppTag(append(append(oid, 0x01, 0x00), rb...), 0)
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: gss}}
	sb, err := st.Marshal()
	if err != nil {
		return "", err
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(sb), nil
}

// BenchmarkGateway measures authenticated requests through the proxy over
// loopback HTTP (keep-alive, 16 requests in flight per CPU): an anonymous
// topology, Kerberos with a new Negotiate token on every request (the
// client makes its authenticator inline; BenchmarkClientToken is that
// cost alone), and Kerberos with the session cookie after one Negotiate.
// make bench (scripts/bench/sections/kerberos.sh) reports the ratios.
func BenchmarkGateway(b *testing.B) {
	r := newRealm(b)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello from the backend\n") }))
	b.Cleanup(backend.Close)
	// Each Negotiate leaves a key in the replay cache for clock_skew (5m):
	// the default cache (65,536 keys) would fill up within a run on a fast
	// machine and then refuse (fail closed).
	p, err := proxy.New(proxy.Config{Resolver: aliasResolver(r.aliases), Host: chain.Host{Replay: replay.New(1<<21, nil)}})
	if err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(p)
	b.Cleanup(func() { front.Close(); p.Close() })
	svc := []topology.Service{{Path: "echo", URLs: []string{backend.URL}}}
	assert := topology.Provider{Role: "identity-assertion", Name: "default", Params: map[string]string{"header": "X-Forwarded-User"}}
	for name, auth := range map[string]topology.Provider{
		"anon":   {Role: "authentication", Name: "anonymous"},
		"krb":    {Role: "authentication", Name: "kerberos", Params: r.params(map[string]string{"cookie.validity": "0"})},
		"cookie": {Role: "authentication", Name: "kerberos", Params: r.params(nil)},
	} {
		c, err := p.Compile(context.Background(), &topology.Topology{Name: name, Providers: []topology.Provider{auth, assert}, Services: svc})
		if err != nil {
			b.Fatal(err)
		}
		p.Apply(c)
	}
	base := strings.Replace(front.URL, "127.0.0.1", "localhost", 1) + "/gateway/"
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	cl := r.kdc.Login(b, "alice", r.alice)
	src := newTokenSource(b, cl)

	first, err := src.next()
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"cookie/echo/", nil)
	req.Header.Set("Authorization", first)
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != 200 || len(cookies) != 1 {
		b.Fatalf("first Negotiate: %d, cookies %v", resp.StatusCode, cookies)
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value

	run := func(b *testing.B, url string, set func(*http.Request) error) {
		b.SetParallelism(16)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if err := set(req); err != nil {
					b.Error(err)
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Error(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
			}
		})
	}
	b.Run("anonymous", func(b *testing.B) {
		run(b, base+"anon/echo/", func(*http.Request) error { return nil })
	})
	b.Run("negotiate", func(b *testing.B) {
		run(b, base+"krb/echo/", func(req *http.Request) error {
			v, err := src.next()
			req.Header.Set("Authorization", v)
			return err
		})
	})
	b.Run("cookie", func(b *testing.B) {
		run(b, base+"cookie/echo/", func(req *http.Request) error {
			req.Header.Set("Cookie", cookie)
			return nil
		})
	})
}

// BenchmarkClientToken is what making one Negotiate token costs the
// client in BenchmarkGateway/negotiate.
func BenchmarkClientToken(b *testing.B) {
	r := newRealm(b)
	src := newTokenSource(b, r.kdc.Login(b, "alice", r.alice))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.next(); err != nil {
			b.Fatal(err)
		}
	}
}
