package kerberos_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/replay"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/providers/kerberos/krbtest"
)

// realm is a KDC with users alice and bob and the service HTTP/localhost,
// whose keytab is stored under the alias "http-keytab".
type realm struct {
	kdc      *krbtest.KDC
	keytab   []byte
	alice    string // passwords
	bob      string
	aliases  map[string][]byte
	logs     *testlog.Buffer
	topology string
}

func newRealm(t testing.TB) *realm {
	t.Helper()
	k := krbtest.Start(t, krbtest.Options{})
	r := &realm{kdc: k, alice: krbtest.Password(), bob: krbtest.Password(), logs: &testlog.Buffer{}, topology: "t"}
	k.AddUser(t, "alice", r.alice)
	k.AddUser(t, "bob", r.bob)
	r.keytab = k.AddService(t, "HTTP/localhost")
	r.aliases = map[string][]byte{"http-keytab": r.keytab}
	t.Cleanup(func() {
		for _, s := range []string{r.alice, r.bob} {
			if strings.Contains(r.logs.String(), s) {
				t.Errorf("a password appears in the provider's log")
			}
		}
	})
	return r
}

func (r *realm) params(extra map[string]string) map[string]string {
	p := map[string]string{"principal": "HTTP/localhost", "keytab": "${alias:http-keytab}"}
	maps.Copy(p, extra)
	for k, v := range p {
		if v == "" {
			delete(p, k)
		}
	}
	return p
}

// build compiles a chain of the given providers, as a deploy does.
func (r *realm) build(t testing.TB, host chain.Host, providers ...topology.Provider) (*chain.Chain, error) {
	t.Helper()
	c, err := chain.BuildWith(context.Background(), r.topology, providers, chain.Options{
		Resolve: func(_ context.Context, alias string) ([]byte, error) {
			if v, ok := r.aliases[alias]; ok {
				return v, nil
			}
			return nil, errors.New("no such alias")
		},
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Host:   host,
	})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func (r *realm) mustBuild(t testing.TB, params map[string]string) *chain.Chain {
	t.Helper()
	c, err := r.build(t, chain.Host{}, topology.Provider{Role: "authentication", Name: "kerberos", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type result struct {
	code       int
	challenges []string
	header     http.Header
	principal  *identity.Principal
}

func serve(c *chain.Chain, req *http.Request) result {
	w := httptest.NewRecorder()
	out := c.ServeInbound(w, req)
	res := result{code: w.Code, challenges: w.Header().Values("WWW-Authenticate"), header: w.Header()}
	if out != nil {
		res.code = 0
		res.principal, _ = identity.FromContext(out.Context())
	}
	return res
}

func request(authz string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/gateway/t/echo/x", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	return r
}

// tokenOpts shape a hand-made AP-REQ.
type tokenOpts struct {
	skew   time.Duration // added to the authenticator's time
	mutual bool          // GSS_C_MUTUAL_FLAG
	raw    bool          // a bare Kerberos token, not SPNEGO
	at     time.Time     // the authenticator's time, when not zero
}

// negotiate returns an Authorization value for the client's ticket to spn,
// with an authenticator made as o says, and the ticket's session key.
func negotiate(t testing.TB, cl *client.Client, spn string, o tokenOpts) (string, types.EncryptionKey, types.Authenticator) {
	t.Helper()
	tkt, key, err := cl.GetServiceTicket(spn)
	if err != nil {
		t.Fatalf("service ticket for %s: %v", spn, err)
	}
	return negotiateWith(t, cl.Credentials.Domain(), cl.Credentials.CName(), tkt, key, o)
}

func negotiateWith(t testing.TB, crealm string, cname types.PrincipalName, tkt messages.Ticket, key types.EncryptionKey, o tokenOpts) (string, types.EncryptionKey, types.Authenticator) {
	t.Helper()
	auth, err := types.NewAuthenticator(crealm, cname)
	if err != nil {
		t.Fatal(err)
	}
	if !o.at.IsZero() {
		auth.CTime, auth.Cusec = o.at.Truncate(time.Second), int(o.at.Sub(o.at.Truncate(time.Second))/time.Microsecond)
	}
	auth.CTime = auth.CTime.Add(o.skew)
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck[:4], 16)
	flags := uint32(gssapi.ContextFlagInteg | gssapi.ContextFlagConf)
	if o.mutual {
		flags |= gssapi.ContextFlagMutual
	}
	binary.LittleEndian.PutUint32(ck[20:24], flags)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	gss := asn1tools.AddASNAppTag(append(append(oid, 0x01, 0x00), b...), 0)
	if o.raw {
		return "Negotiate " + base64.StdEncoding.EncodeToString(gss), key, auth
	}
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: gss}}
	sb, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(sb), key, auth
}

func newReplay() *replay.Cache { return replay.New(1024, nil) }
