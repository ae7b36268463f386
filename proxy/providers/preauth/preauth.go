package preauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/securegw/gateway/internal/fedsig"
	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/providers/internal/match"
	"github.com/securegw/gateway/proxy/route"
)

// Name is the provider's name (Knox's HeaderPreAuth, as knox.go maps it).
const Name = "header-preauth"

// DefaultHeader is the identity header read by default, as Knox's.
const DefaultHeader = "SM_USER"

// DefaultClockSkew is max_clock_skew's default.
const DefaultClockSkew = time.Minute

func init() {
	// Before the password and token providers (priority 0): a trusted
	// sender's request carries no other credential.
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleFederation, Priority: 50, New: newPreAuth})
}

// The validators, in the order they run: cheapest first.
const (
	vIP         = "ip"
	vClientCert = "client-cert"
	vHMAC       = "hmac"
)

// knoxMethods maps Knox's preauth.validation.method values to ours
// ("" for Knox's default, which validates nothing).
var knoxMethods = map[string]string{
	"preauth.ip.validation":      vIP,
	"preauth.default.validation": "",
}

// paramOf is the param each validator needs.
var paramOf = map[string]string{vIP: "allowed_addresses", vClientCert: "allowed_clients", vHMAC: "secret"}

type handler struct {
	header, groups string // as configured, for IdentityHeaders
	hNorm, gNorm   string // lower case, '-' for '_' and '.'
	sigNorm        string

	ip      *match.Addrs
	roots   *x509.CertPool
	clients map[string]struct{}
	certs   verifiedCerts
	hmac    *fedsig.Verifier
	now     func() time.Time
	log     *slog.Logger
}

var (
	_ chain.Authenticator   = (*handler)(nil)
	_ chain.IdentityHeaders = (*handler)(nil)
)

func newPreAuth(ctx context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{
		chain.P("header", "preauth.custom.header"),
		chain.P("groups_header", "preauth.custom.group.header"),
		chain.P("validation", "preauth.validation.method"),
		chain.P("allowed_addresses", "preauth.ip.addresses"),
		chain.P("truststore"),
		chain.P("allowed_clients"),
		chain.P("secret"),
		chain.P("max_clock_skew"),
		chain.P("allow_unvalidated"),
	})
	if err != nil {
		return nil, err
	}
	h := &handler{now: c.Host.Clock.Now, log: c.Logger}
	if h.header, err = headerParam(p, "header", DefaultHeader); err != nil {
		return nil, err
	}
	if h.groups, err = headerParam(p, "groups_header", ""); err != nil {
		return nil, err
	}
	h.hNorm, h.gNorm, h.sigNorm = norm(h.header), norm(h.groups), norm(fedsig.Header)
	if h.gNorm == h.hNorm || h.hNorm == h.sigNorm || h.gNorm == h.sigNorm {
		return nil, p.Errorf("groups_header", "the identity, groups and signature (%s) headers must differ", fedsig.Header)
	}
	validators, err := validatorsOf(p)
	if err != nil {
		return nil, err
	}
	unvalidated, err := p.Bool("allow_unvalidated", false)
	if err != nil {
		return nil, err
	}
	switch {
	case len(validators) == 0 && !unvalidated:
		return nil, p.Errorf("validation", "header pre-authentication without a validator trusts anyone who sends the header: "+
			"set allowed_addresses (ip), truststore and allowed_clients (client-cert) or secret (hmac), or allow_unvalidated: true")
	case len(validators) == 0:
		c.Logger.Warn("header pre-authentication without a validator: anyone who can reach the gateway can send the header", "header", h.header)
	case unvalidated:
		return nil, p.Errorf("allow_unvalidated", "contradicts the validators given (%s)", strings.Join(validators, ", "))
	}
	for _, v := range validators {
		switch v {
		case vIP:
			a, err := match.ParseAddrs(p.As("allowed_addresses"), strings.Join(p.List("allowed_addresses", nil), ","), true)
			if err != nil {
				return nil, err
			}
			if a.Any {
				return nil, p.Errorf("allowed_addresses", "* allows every address: list the senders' addresses")
			}
			h.ip = &a
		case vClientCert:
			if h.clients, err = clients(p); err != nil {
				return nil, err
			}
			if h.roots, err = roots(ctx, c, p); err != nil {
				return nil, err
			}
		case vHMAC:
			if h.hmac, err = verifier(ctx, c, p); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

func headerParam(p *chain.Reader, name, def string) (string, error) {
	v, err := p.String(name, def)
	if err != nil || v == "" {
		return v, err
	}
	return chain.HeaderName(p.As(name), v)
}

// validatorsOf returns the validators asked for, in running order: those
// listed in validation, else those whose param is given. A listed one
// without its param, or a param given for one not listed, is an error.
func validatorsOf(p *chain.Reader) ([]string, error) {
	want := map[string]bool{}
	if p.Has("validation") {
		for _, m := range p.List("validation", nil) {
			v := strings.ToLower(m)
			if k, ok := knoxMethods[v]; ok {
				v = k
			}
			switch v {
			case "":
			case vIP, vClientCert, vHMAC:
				want[v] = true
			default:
				return nil, p.Errorf("validation", "%q: the validators are ip, client-cert and hmac", m)
			}
		}
		for _, v := range []string{vIP, vClientCert, vHMAC} {
			if want[v] && !p.Has(paramOf[v]) {
				return nil, p.Errorf("validation", "validator %s needs param %s", v, paramOf[v])
			}
			if !want[v] && p.Has(paramOf[v]) {
				return nil, p.Errorf(paramOf[v], "is given but validation does not list %s", v)
			}
		}
	} else {
		for _, v := range []string{vIP, vClientCert, vHMAC} {
			want[v] = p.Has(paramOf[v])
		}
	}
	if want[vClientCert] != p.Has("truststore") {
		if p.Has("truststore") {
			return nil, p.Errorf("truststore", "is only used by the client-cert validator (allowed_clients)")
		}
		return nil, p.Errorf("allowed_clients", "the client-cert validator needs the truststore the certificates must chain to (param truststore)")
	}
	if !want[vHMAC] && p.Has("max_clock_skew") {
		return nil, p.Errorf("max_clock_skew", "is only used by the hmac validator (secret)")
	}
	var out []string
	for _, v := range []string{vIP, vClientCert, vHMAC} {
		if want[v] {
			out = append(out, v)
		}
	}
	return out, nil
}

func roots(ctx context.Context, c chain.Config, p *chain.Reader) (*x509.CertPool, error) {
	name, err := p.Required("truststore")
	if err != nil {
		return nil, err
	}
	if c.Truststore == nil {
		return nil, p.Errorf("truststore", "%q: the gateway holds no truststores", name)
	}
	pem, err := c.Truststore(ctx, name)
	if err != nil {
		return nil, p.Errorf("truststore", "%q: %v", name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, p.Errorf("truststore", "%q holds no PEM certificate", name)
	}
	return pool, nil
}

func clients(p *chain.Reader) (map[string]struct{}, error) {
	raw, _ := p.Raw("allowed_clients")
	set := map[string]struct{}{}
	for e := range strings.SplitSeq(raw, ";") {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			continue
		case e == "*":
			return nil, p.Errorf("allowed_clients", "* allows every certificate of the truststore: list the senders' subjects or SANs")
		case match.HasControl(e):
			return nil, p.Errorf("allowed_clients", "an entry contains control characters")
		}
		set[e] = struct{}{}
	}
	if len(set) == 0 {
		return nil, p.Errorf("allowed_clients", "lists no subject or SAN")
	}
	return set, nil
}

func verifier(ctx context.Context, c chain.Config, p *chain.Reader) (*fedsig.Verifier, error) {
	secret, err := p.Secret(ctx, "secret", "")
	if err != nil {
		return nil, err
	}
	if raw, _ := p.Raw("secret"); !strings.HasPrefix(strings.TrimSpace(raw), "${alias:") {
		return nil, p.Errorf("secret", "must be a credential alias, ${alias:NAME} (gatewayctl alias create NAME)")
	}
	skew, err := p.Duration("max_clock_skew", DefaultClockSkew, time.Second, time.Hour)
	if err != nil {
		return nil, err
	}
	if c.Host.Replay == nil {
		return nil, p.Errorf("secret", "the gateway keeps no replay cache: signatures could be replayed")
	}
	v, err := fedsig.NewVerifier([]byte(secret), skew, c.Host.Replay)
	if err != nil {
		// The error tells the secret's length, never its content.
		return nil, p.Errorf("secret", "%v", err)
	}
	return v, nil
}

// IdentityHeaders are stripped from every request to a backend.
func (h *handler) IdentityHeaders() []string {
	out := []string{h.header, fedsig.Header}
	if h.groups != "" {
		out = append(out, h.groups)
	}
	return out
}

// refusedMsg is the one answer a refused sender gets, whichever check failed.
const refusedMsg = "pre-authenticated identity refused"

// Authenticate trusts the identity header when every validator accepts
// the sender.
func (h *handler) Authenticate(r *http.Request) chain.Outcome {
	user, found, err := h.single(r.Header, h.hNorm)
	if !found {
		return chain.Pass("")
	}
	if err == nil && (user == "" || match.HasControl(user)) {
		err = errors.New("empty user or control characters in it")
	}
	var groups string
	if err == nil && h.groups != "" {
		groups, _, err = h.single(r.Header, h.gNorm)
		if err == nil && match.HasControl(groups) {
			err = errors.New("control characters in the groups header")
		}
	}
	if err == nil {
		err = h.connectionNamesIdentity(r.Header)
	}
	if err != nil {
		return h.refuse(r, "header", err)
	}
	if h.ip != nil {
		info, _ := route.FromContext(r.Context())
		if info == nil || !h.ip.Contains(info.Client) {
			return h.refuse(r, vIP, errors.New("source address not in allowed_addresses"))
		}
	}
	if h.roots != nil {
		if err := h.checkCert(r); err != nil {
			return h.refuse(r, vClientCert, err)
		}
	}
	p := &identity.Principal{Name: user, AuthenticatedAs: user, Provider: Name}
	if h.hmac != nil {
		sig, found, err := h.single(r.Header, h.sigNorm)
		if err == nil && !found {
			err = errors.New("no signature")
		}
		if err == nil {
			err = h.hmac.Verify(sig, &fedsig.Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, User: user, Groups: groups}, h.now())
		}
		if err != nil {
			return h.refuse(r, vHMAC, err)
		}
		p.Consumed = consumed
	}
	if groups != "" {
		for g := range strings.SplitSeq(groups, ",") {
			if g = strings.TrimSpace(g); g != "" {
				p.Groups = append(p.Groups, g)
			}
		}
	}
	return chain.Authenticate(p)
}

var consumed = []identity.Credential{identity.HeaderCredential(fedsig.Header)}

func (h *handler) refuse(r *http.Request, validator string, err error) chain.Outcome {
	client := ""
	if info, ok := route.FromContext(r.Context()); ok && info.Client.IsValid() {
		client = info.Client.String()
	}
	h.log.Warn("header pre-authentication refused", "validator", validator, "err", err,
		"client", client, "request_id", r.Header.Get("X-Request-Id"))
	return chain.Refuse(http.StatusForbidden, refusedMsg, "")
}

// single returns the one value of the header whose normalised name is n:
// found is false when there is none; two values, or two spellings of the
// name, are an error.
func (h *handler) single(hd http.Header, n string) (v string, found bool, err error) {
	for k, vs := range hd {
		if !normEqual(k, n) {
			continue
		}
		if found || len(vs) != 1 {
			return "", true, fmt.Errorf("header %s given more than once", n)
		}
		v, found = strings.TrimSpace(vs[0]), true
	}
	return v, found, nil
}

// connectionNamesIdentity refuses a Connection header naming one of the
// identity headers: a hop-by-hop identity is not one a sender vouches for.
func (h *handler) connectionNamesIdentity(hd http.Header) error {
	for _, v := range hd["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if normEqual(tok, h.hNorm) || normEqual(tok, h.sigNorm) || (h.gNorm != "" && normEqual(tok, h.gNorm)) {
				return fmt.Errorf("the Connection header names %s", tok)
			}
		}
	}
	return nil
}

// checkCert verifies the sender's client certificate against the
// provider's truststore and allowed_clients. An accepted certificate is
// remembered for the connection's later requests (verifiedCerts).
func (h *handler) checkCert(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return errors.New("no client certificate (is proxy.client_auth optional or required?)")
	}
	leaf, now := r.TLS.PeerCertificates[0], h.now()
	if h.certs.ok(leaf, now) {
		return nil
	}
	opts := x509.VerifyOptions{Roots: h.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if len(r.TLS.PeerCertificates) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return fmt.Errorf("client certificate %q not trusted by the provider's truststore: %w", leaf.Subject.String(), err)
	}
	if err := h.allowed(leaf); err != nil {
		return err
	}
	until := leaf.NotAfter
	for _, c := range chains[0] {
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	h.certs.add(leaf, until)
	return nil
}

// allowed checks the certificate's subject and SANs against allowed_clients.
func (h *handler) allowed(leaf *x509.Certificate) error {
	if _, ok := h.clients[leaf.Subject.String()]; ok {
		return nil
	}
	for _, names := range [][]string{leaf.DNSNames, leaf.EmailAddresses} {
		for _, n := range names {
			if _, ok := h.clients[n]; ok {
				return nil
			}
		}
	}
	for _, u := range leaf.URIs {
		if _, ok := h.clients[u.String()]; ok {
			return nil
		}
	}
	for _, ip := range leaf.IPAddresses {
		if _, ok := h.clients[ip.String()]; ok {
			return nil
		}
	}
	return fmt.Errorf("client certificate %q is not in allowed_clients", leaf.Subject.String())
}

// verifiedCerts remembers the client certificates the handler accepted,
// until the earliest expiry of their chain: every request of a keep-alive
// connection carries the same parsed leaf (*x509.Certificate), so later
// requests skip the chain verification (tens of microseconds). Keys are
// pointers held by the map, so none is reused while remembered. Bounded:
// full, it starts over. A truststore or allowed_clients change compiles a
// new handler with an empty cache.
type verifiedCerts struct {
	mu sync.Mutex
	m  map[*x509.Certificate]time.Time
}

const maxVerifiedCerts = 1024

func (v *verifiedCerts) ok(leaf *x509.Certificate, now time.Time) bool {
	v.mu.Lock()
	until, found := v.m[leaf]
	v.mu.Unlock()
	return found && now.Before(until)
}

func (v *verifiedCerts) add(leaf *x509.Certificate, until time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerifiedCerts {
		v.m = make(map[*x509.Certificate]time.Time)
	}
	v.m[leaf] = until
}

// norm is a header name in lower case with '-' for '_' and '.'.
func norm(name string) string {
	if name == "" {
		return ""
	}
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if c == '_' || c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

// normEqual compares a header name with a norm()ed one.
func normEqual(k, n string) bool {
	if len(k) != len(n) || n == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_' || c == '.':
			c = '-'
		}
		if c != n[i] {
			return false
		}
	}
	return true
}
