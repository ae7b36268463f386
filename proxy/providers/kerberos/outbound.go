package kerberos

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/securegw/gateway/proxy/chain"
)

// RoleDispatch is the role of the outbound provider: how the gateway
// authenticates itself to backends.
const RoleDispatch chain.Role = "dispatch"

// Params of the dispatch provider (besides principal and keytab).
const (
	ParamKDC = "kdc"
	ParamSPN = "spn"
)

func init() {
	chain.Register(chain.Factory{Name: Name, Role: RoleDispatch, New: newOutbound})
}

// Outbound authenticates the gateway to Kerberized backends: every request
// to a backend carries "Authorization: Negotiate …", a SPNEGO token for the
// backend's service principal (HTTP/HOST of the backend URL, or the spn
// param) made with the gateway's own keytab. The end user travels as
// Hadoop's doAs, which the identity-assertion provider sets
// (query_param: doAs): Hadoop's proxy-user pattern. Safe for concurrent
// use.
type Outbound struct {
	cl  *client.Client
	spn string // "" : HTTP/ + the backend's host
	log *slog.Logger
}

var _ chain.Outbound = (*Outbound)(nil)

func newOutbound(ctx context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{chain.P(ParamPrincipal), chain.P(ParamKeytab), chain.P(ParamKDC), chain.P(ParamSPN)})
	if err != nil {
		return nil, err
	}
	kt, err := readKeytab(ctx, c, p)
	if err != nil {
		return nil, err
	}
	v, err := p.Required(ParamPrincipal)
	if err != nil {
		return nil, err
	}
	pn, realm := types.ParseSPNString(strings.TrimSpace(v))
	if realm == "" {
		realm = kt.Entries[0].Principal.Realm
	}
	if !validConfigToken(realm) {
		return nil, p.Errorf(ParamPrincipal, "realm %q is not valid", realm)
	}
	if _, _, err := kt.GetEncryptionKey(pn, realm, 0, 18); err != nil {
		if _, _, err := kt.GetEncryptionKey(pn, realm, 0, 17); err != nil {
			return nil, p.Errorf(ParamPrincipal, "the keytab holds no AES key for %s@%s", pn.PrincipalNameString(), realm)
		}
	}
	kdcs := p.List(ParamKDC, nil)
	if len(kdcs) == 0 {
		return nil, p.Errorf(ParamKDC, "is required: the KDCs of %s, host:port separated by commas", realm)
	}
	for _, k := range kdcs {
		if _, port, err := net.SplitHostPort(k); err != nil || port == "" || !validConfigToken(k) {
			return nil, p.Errorf(ParamKDC, "%q is not host:port", k)
		}
	}
	o := &Outbound{log: c.Logger}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.spn, err = p.String(ParamSPN, ""); err != nil {
		return nil, err
	}
	if o.spn != "" && !validConfigToken(o.spn) {
		return nil, p.Errorf(ParamSPN, "%q is not a principal name", o.spn)
	}
	conf := fmt.Sprintf("[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"+
		" udp_preference_limit = 1\n\n[realms]\n %s = {\n", realm, realm)
	for _, k := range kdcs {
		conf += "  kdc = " + k + "\n"
	}
	conf += " }\n"
	cfg, err := config.NewFromString(conf)
	if err != nil {
		return nil, p.Errorf(ParamKDC, "%v", err)
	}
	// The login happens on the first request, not at deploy: a KDC that is
	// down does not stop the topology from deploying.
	o.cl = client.NewWithKeytab(pn.PrincipalNameString(), realm, kt, cfg, client.DisablePAFXFAST(true))
	return o, nil
}

// validConfigToken refuses what could break out of a krb5.conf line.
func validConfigToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n{}=#;\"'\\")
}

// RewriteOutbound sets the request's Authorization header to a SPNEGO
// token for the backend. When no token can be made (the KDC is down) the
// request goes without one, and the backend answers 401.
func (o *Outbound) RewriteOutbound(out, _ *http.Request) {
	v, err := o.Authorization(out)
	if err != nil {
		o.log.Warn("kerberos: no ticket for the backend", "err", err, "backend", out.URL.Host)
		out.Header.Del("Authorization")
		return
	}
	out.Header.Set("Authorization", v)
}

// Authorization returns "Negotiate <token>" for the backend of out: a new
// authenticator on the service ticket, which the client caches until it
// expires.
func (o *Outbound) Authorization(out *http.Request) (string, error) {
	spn := o.spn
	if spn == "" {
		spn = "HTTP/" + out.URL.Hostname()
	}
	if err := o.cl.AffirmLogin(); err != nil {
		return "", fmt.Errorf("logging in to the KDC: %w", err)
	}
	tkt, key, err := o.cl.GetServiceTicket(spn)
	if err != nil {
		return "", fmt.Errorf("service ticket for %s: %w", spn, err)
	}
	auth, err := types.NewAuthenticator(o.cl.Credentials.Domain(), o.cl.Credentials.CName())
	if err != nil {
		return "", err
	}
	ck := make([]byte, 24) // RFC 4121 §4.1.1: no channel bindings
	binary.LittleEndian.PutUint32(ck[:4], 16)
	binary.LittleEndian.PutUint32(ck[20:24], gssapi.ContextFlagInteg|gssapi.ContextFlagConf)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		return "", err
	}
	gss, err := krb5APReqToken(req)
	if err != nil {
		return "", err
	}
	return spnegoInit(gss)
}

// Close ends the client's sessions.
func (o *Outbound) Close() error {
	o.cl.Destroy()
	return nil
}
