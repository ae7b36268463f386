package clientcert

import (
	"context"
	"crypto/x509"
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

var _ chain.Authenticator = (*handler)(nil)

func newClientCert(_ context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{chain.P("principal_from"), chain.P("groups_from_ou"), chain.P("optional")})
	if err != nil {
		return nil, err
	}
	h := &handler{}
	if p.Has("principal_from") {
		v, _ := p.Raw("principal_from")
		s, ok := sources[strings.ToLower(strings.TrimSpace(v))]
		if !ok {
			return nil, p.Errorf("principal_from", "%q: must be cn, dn, san-email, san-dns or san-uri", v)
		}
		h.from = s
	}
	if h.groupsFromOU, err = p.Bool("groups_from_ou", false); err != nil {
		return nil, err
	}
	if h.optional, err = p.Bool("optional", false); err != nil {
		return nil, err
	}
	return h, nil
}

// Authenticate establishes the principal from the verified client
// certificate. Without one it refuses the request (401), or, when the
// provider is optional, passes it on to the next provider.
func (h *handler) Authenticate(r *http.Request) chain.Outcome {
	// Only a chain the TLS stack verified against the front's client
	// truststore counts: PeerCertificates alone (client auth "request")
	// are whatever the client sent.
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		if h.optional {
			return chain.Pass("")
		}
		return chain.Refuse(http.StatusUnauthorized, "a verified client certificate is required", "")
	}
	leaf := r.TLS.VerifiedChains[0][0]
	name := h.principal(leaf)
	if name == "" || match.HasControl(name) {
		return chain.Refuse(http.StatusUnauthorized, "the client certificate names no usable principal", "")
	}
	// Nothing to consume: the certificate is part of the TLS connection,
	// which ends at the gateway.
	pr := &identity.Principal{Name: name, AuthenticatedAs: name, Provider: Name, Expires: leaf.NotAfter}
	if h.groupsFromOU {
		for _, ou := range leaf.Subject.OrganizationalUnit {
			if ou != "" && !match.HasControl(ou) {
				pr.Groups = append(pr.Groups, ou)
			}
		}
	}
	return chain.Authenticate(pr)
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
