package clientcert

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/providers/internal/match"
)

// Name is the provider's name (Knox's ClientCert, as knox.go maps it).
const Name = "client-cert"

// Priority runs it before the other authentication providers (password or
// token ones, priority 0; anonymous, -1000).
const Priority = 100

func init() {
	// Knox documents ClientCert under role authentication; knox.go maps it
	// under federation. It is the same provider in both roles.
	for _, role := range []chain.Role{chain.RoleAuthentication, chain.RoleFederation} {
		chain.Register(chain.Factory{Name: Name, Role: role, Priority: Priority, New: newClientCert})
	}
}

type source int

const (
	fromCN source = iota
	fromDN
	fromEmail
	fromDNS
	fromURI
)

var sources = map[string]source{"cn": fromCN, "dn": fromDN, "san-email": fromEmail, "san-dns": fromDNS, "san-uri": fromURI}

type handler struct {
	from         source
	groupsFromOU bool
	optional     bool
}

var _ chain.Inbound = (*handler)(nil)

func newClientCert(_ context.Context, c chain.Config) (chain.Handler, error) {
	p := c.Params
	if err := p.Allow("principal_from", "groups_from_ou", "optional"); err != nil {
		return nil, err
	}
	h := &handler{}
	if v, ok := p["principal_from"]; ok {
		s, ok := sources[strings.ToLower(strings.TrimSpace(v))]
		if !ok {
			return nil, &chain.ParamError{Param: "principal_from", Reason: fmt.Sprintf("%q: must be cn, dn, san-email, san-dns or san-uri", v)}
		}
		h.from = s
	}
	var err error
	if h.groupsFromOU, err = p.Bool("groups_from_ou", false); err != nil {
		return nil, err
	}
	if h.optional, err = p.Bool("optional", false); err != nil {
		return nil, err
	}
	return h, nil
}

// ServeInbound establishes the principal from the verified client
// certificate. A request already carrying a principal is left as it is.
func (h *handler) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	if _, ok := identity.FromContext(r.Context()); ok {
		return r
	}
	// Only a chain the TLS stack verified against the front's client
	// truststore counts: PeerCertificates alone (client auth "request")
	// are whatever the client sent.
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		if h.optional {
			return r
		}
		chain.WriteError(w, http.StatusUnauthorized, "a verified client certificate is required")
		return nil
	}
	leaf := r.TLS.VerifiedChains[0][0]
	name := h.principal(leaf)
	if name == "" || match.HasControl(name) {
		chain.WriteError(w, http.StatusUnauthorized, "the client certificate names no usable principal")
		return nil
	}
	pr := &identity.Principal{Name: name, AuthenticatedAs: name, Provider: Name}
	if h.groupsFromOU {
		for _, ou := range leaf.Subject.OrganizationalUnit {
			if ou != "" && !match.HasControl(ou) {
				pr.Groups = append(pr.Groups, ou)
			}
		}
	}
	return identity.WithPrincipal(r, pr)
}

// principal is the name the certificate gives, "" when it has none (the
// first SAN of the kind asked for).
func (h *handler) principal(c *x509.Certificate) string {
	switch h.from {
	case fromDN:
		return c.Subject.String()
	case fromEmail:
		if len(c.EmailAddresses) > 0 {
			return c.EmailAddresses[0]
		}
	case fromDNS:
		if len(c.DNSNames) > 0 {
			return c.DNSNames[0]
		}
	case fromURI:
		if len(c.URIs) > 0 {
			return c.URIs[0].String()
		}
	default:
		return c.Subject.CommonName
	}
	return ""
}
