package kerberos

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/chain/replay"
	"github.com/securegw/gateway/proxy/identity"
)

// Name is the provider's name (Knox's HadoopAuth with type=kerberos).
const Name = "kerberos"

// Param names; Knox's HadoopAuth names (without its config.prefix) are
// accepted as aliases.
const (
	ParamPrincipal       = "principal"
	ParamKeytab          = "keytab"
	ParamNameRules       = "name_rules"
	ParamClockSkew       = "clock_skew"
	ParamCookieValidity  = "cookie.validity"
	ParamCookieName      = "cookie.name"
	ParamCookieDomain    = "cookie.domain"
	ParamCookiePath      = "cookie.path"
	ParamSignatureSecret = "signature.secret"
)

// Defaults.
const (
	DefaultClockSkew      = 5 * time.Minute
	DefaultCookieValidity = 10 * time.Hour // Hadoop's token.validity
	DefaultCookieName     = "gateway.auth"
)

const (
	maxClockSkew      = time.Hour
	maxCookieValidity = 7 * 24 * time.Hour
	minSecretLen      = 16
	// maxTokenLen bounds a Negotiate token (base64); tickets with large
	// PACs stay well below it.
	maxTokenLen = 64 << 10
	// ownReplayCacheSize bounds the cache used when the gateway gives none.
	ownReplayCacheSize = 1 << 16
)

// challenge is the WWW-Authenticate value that asks for a Kerberos ticket.
const challenge = "Negotiate"

func init() {
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleAuthentication, New: newHandler})
}

// Handler authenticates requests with SPNEGO (Kerberos) tickets and, once a
// ticket was accepted, with its session cookie. It is safe for concurrent use.
type Handler struct {
	kt       *keytab.Keytab
	spn      *types.PrincipalName // nil: any principal of the keytab
	spnRealm string
	rules    *Rules
	skew     time.Duration
	clock    chain.Clock
	replay   chain.ReplayCache
	session  *sessions // nil: no cookie
	consumed []identity.Credential
	log      *slog.Logger
}

var (
	_ chain.Authenticator    = (*Handler)(nil)
	_ chain.CredentialReader = (*Handler)(nil)
)

func newHandler(ctx context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{
		chain.P(ParamPrincipal, "kerberos.principal"),
		chain.P(ParamKeytab, "kerberos.keytab"),
		chain.P(ParamNameRules, "kerberos.name.rules"),
		chain.P(ParamClockSkew),
		chain.P(ParamCookieValidity),
		chain.P(ParamCookieName),
		chain.P(ParamCookieDomain, "cookie.domain"),
		chain.P(ParamCookiePath, "cookie.path"),
		chain.P(ParamSignatureSecret, "signature.secret"),
	})
	if err != nil {
		return nil, err
	}
	h := &Handler{clock: c.Host.Clock, replay: c.Host.Replay, log: c.Logger}
	if h.clock == nil {
		h.clock = chain.SystemClock{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.replay == nil {
		h.replay = replay.New(ownReplayCacheSize, h.clock)
	}
	if h.kt, err = readKeytab(ctx, c, p); err != nil {
		return nil, err
	}
	if err := h.readPrincipal(p); err != nil {
		return nil, err
	}
	rules, _ := p.Raw(ParamNameRules)
	if h.rules, err = ParseRules(rules, h.spnRealm); err != nil {
		return nil, p.Errorf(ParamNameRules, "%v", err)
	}
	if h.skew, err = p.Duration(ParamClockSkew, DefaultClockSkew, time.Second, maxClockSkew); err != nil {
		return nil, err
	}
	h.consumed = []identity.Credential{identity.Authorization}
	if h.session, err = newSessions(ctx, c, p); err != nil {
		return nil, err
	}
	if h.session != nil {
		h.consumed = append(h.consumed, identity.CookieCredential(h.session.name))
	}
	return h, nil
}

// readKeytab reads the keytab param: ${alias:NAME}, the alias holding the
// keytab file's bytes.
func readKeytab(ctx context.Context, c chain.Config, p *chain.Reader) (*keytab.Keytab, error) {
	raw, ok := p.Raw(ParamKeytab)
	if !ok {
		return nil, p.Errorf(ParamKeytab, "is required: ${alias:NAME}, the alias holding the keytab (gatewayctl alias create NAME --from-file FILE.keytab)")
	}
	v := strings.TrimSpace(raw)
	if !strings.HasPrefix(v, "${alias:") || !strings.HasSuffix(v, "}") || strings.Count(v, "${") != 1 {
		return nil, p.Errorf(ParamKeytab, "must be ${alias:NAME}: keytabs are stored as aliases (gatewayctl alias create NAME --from-file FILE.keytab), never read from files")
	}
	b, err := c.Expand(ctx, p.As(ParamKeytab), v)
	if err != nil {
		return nil, err
	}
	kt := keytab.New()
	if err := kt.Unmarshal([]byte(b)); err != nil {
		return nil, p.Errorf(ParamKeytab, "the alias does not hold a keytab: %v", err)
	}
	if len(kt.Entries) == 0 {
		return nil, p.Errorf(ParamKeytab, "the keytab holds no keys")
	}
	return kt, nil
}

// readPrincipal reads the service principal ("HTTP/gw.example.test", with
// or without @REALM; "*" for any principal of the keytab) and checks that
// the keytab holds keys for it.
func (h *Handler) readPrincipal(p *chain.Reader) error {
	v, err := p.Required(ParamPrincipal)
	if err != nil {
		return err
	}
	v = strings.TrimSpace(v)
	first := h.kt.Entries[0].Principal
	if v == "*" {
		h.spnRealm = first.Realm
		return nil
	}
	pn, realm := types.ParseSPNString(v)
	if pn.PrincipalNameString() == "" || strings.ContainsAny(v, " \t") {
		return p.Errorf(ParamPrincipal, "%q is not a principal name (HTTP/host or HTTP/host@REALM, or *)", v)
	}
	found := false
	for _, e := range h.kt.Entries {
		if strings.Join(e.Principal.Components, "/") == pn.PrincipalNameString() && (realm == "" || realm == e.Principal.Realm) {
			found = true
			if realm == "" {
				realm = e.Principal.Realm
			}
			break
		}
	}
	if !found {
		return p.Errorf(ParamPrincipal, "the keytab holds no key for %q", v)
	}
	h.spn, h.spnRealm = &pn, realm
	return nil
}

// Credentials is what the provider reads: the Authorization header and the
// session cookie, which the gateway removes from requests to backends.
func (h *Handler) Credentials() []identity.Credential { return h.consumed }

// Authenticate checks a Negotiate token, else the session cookie. Without
// either (or with an NTLM token sent as Negotiate), not mine, with the
// Negotiate challenge; a bad token is refused with it.
func (h *Handler) Authenticate(r *http.Request) chain.Outcome {
	auth := r.Header.Get("Authorization")
	token, isNeg := negotiateToken(auth)
	if !isNeg {
		if h.session != nil {
			if p := h.session.verify(r, h.clock.Now(), h.consumed); p != nil {
				return chain.Authenticate(p)
			}
		}
		return chain.Pass(challenge)
	}
	if isNTLM(token) {
		// A Windows client without a ticket: let another provider (Basic)
		// have it, and offer every challenge.
		return chain.Pass(challenge)
	}
	res, err := h.accept(token)
	if err != nil {
		h.log.Info("kerberos: Negotiate token refused", "err", err, "remote", r.RemoteAddr)
		return chain.Refuse(http.StatusUnauthorized, "invalid credentials", challenge)
	}
	name, err := h.rules.ShortName(res.client)
	if err != nil {
		h.log.Info("kerberos: principal not mapped", "err", err, "remote", r.RemoteAddr)
		return chain.Refuse(http.StatusUnauthorized, "invalid credentials", challenge)
	}
	p := &identity.Principal{Name: name, AuthenticatedAs: name, Provider: Name, Consumed: h.consumed, Expires: res.expires}
	o := chain.Authenticate(p)
	if res.reply != "" {
		o.Header = http.Header{"Www-Authenticate": {challenge + " " + res.reply}}
	}
	if h.session != nil {
		c := h.session.issue(r, name, res.client, h.clock.Now(), res.expires)
		if o.Header == nil {
			o.Header = http.Header{}
		}
		o.Header.Add("Set-Cookie", c.String())
	}
	return o
}

// negotiateToken returns the token of an Authorization value of the
// Negotiate scheme (any case), and whether it is of that scheme.
func negotiateToken(v string) (string, bool) {
	const scheme = "negotiate"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	rest := v[len(scheme):]
	if rest != "" && rest[0] != ' ' {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// isNTLM reports whether a Negotiate token is NTLMSSP (base64 of
// "NTLMSSP\x00" starts with "TlRMTVNTUA").
func isNTLM(token string) bool { return strings.HasPrefix(token, "TlRMTVNTUA") }

var errBadToken = errors.New("malformed Negotiate token")

// decodeToken decodes a Negotiate token's base64.
func decodeToken(token string) ([]byte, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: empty or longer than %d bytes", errBadToken, maxTokenLen)
	}
	b, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadToken, err)
	}
	return b, nil
}

func randomKey(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}
