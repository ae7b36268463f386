package chain

import (
	"net/http"
	"slices"

	"github.com/securegw/gateway/proxy/identity"
)

// Authenticator is implemented by the handlers of authentication and
// federation providers. The chain asks them in chain order; the first
// that authenticates the request ends the stage.
type Authenticator interface {
	// Authenticate looks for a credential of the provider's kind in r and
	// says what it found. It must not modify r and must not write a
	// response: the chain answers for all authenticators at once. Nothing
	// may keep r or its Header past the call (the lean front reads the
	// connection's next request into the same header map).
	Authenticate(r *http.Request) Outcome
}

// CredentialReader is implemented by authenticators that read a credential
// from the request (basic and ldap: the Authorization header). The gateway
// removes those credentials from every request to a backend, whichever
// provider authenticated it: a password sent beside a client certificate,
// or a session cookie beside a token, never reaches a backend either,
// unless the service forwards credentials.
type CredentialReader interface {
	Credentials() []identity.Credential
}

// Verdict is an authenticator's answer.
type Verdict uint8

const (
	// NotMine: the request carries no credential of this provider's kind;
	// the next authenticator tries. The zero Verdict.
	NotMine Verdict = iota
	// Authenticated: the credential is good; Outcome.Principal says who.
	Authenticated
	// Refused: a credential of this provider's kind that is bad (a wrong
	// password, an expired token), or one the provider cannot check now
	// (a directory down: Status 503). The chain answers at once; weaker
	// providers later in the chain are not asked.
	Refused
)

func (v Verdict) String() string {
	switch v {
	case NotMine:
		return "not mine"
	case Authenticated:
		return "authenticated"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Outcome is what an Authenticator found. Build it with Authenticate,
// Pass, Redirect or Refuse.
type Outcome struct {
	Verdict Verdict
	// Principal (Authenticated): the name, groups and, set by the provider,
	// the credential's expiry (Principal.Expires), the id to revoke it by
	// (Principal.CredentialID) and what it consumed (Principal.Consumed),
	// which the gateway removes before dispatch. Never modified after.
	Principal *identity.Principal
	// Challenge is a WWW-Authenticate value ("Basic realm=…", "Negotiate").
	// Refused: sent with the refusal. NotMine: sent, with the other
	// authenticators' challenges, in the chain's one 401 when nobody
	// authenticates the request.
	Challenge string
	// Location (NotMine): where to send a client that nobody authenticated
	// (an SSO login page). The first authenticator in chain order asking
	// for a redirect wins over the challenges: 302 to it.
	Location string
	// Status (Refused): 401 when 0; 503 when the provider cannot check the
	// credential now (never 401: that would look like a bad password).
	Status int
	// Message (Refused) is the JSON error body's message: what went wrong
	// ("invalid credentials"), never which check failed inside.
	Message string
	// Header (Authenticated) are headers added to the response to the
	// client: a Kerberos mutual-authentication token, a session cookie.
	// nil for none.
	Header http.Header
}

// Authenticate is the outcome of a good credential.
func Authenticate(p *identity.Principal) Outcome {
	return Outcome{Verdict: Authenticated, Principal: p}
}

// Pass is the outcome of a request without a credential of the provider's
// kind; challenge ("" for none) goes in the chain's 401.
func Pass(challenge string) Outcome { return Outcome{Challenge: challenge} }

// Redirect is Pass asking the chain to send an unauthenticated client to
// location (a login page) instead of answering 401.
func Redirect(location string) Outcome { return Outcome{Location: location} }

// Refuse is the outcome of a bad credential of the provider's kind: the
// chain answers status (401 when 0) with msg and challenge ("" for none).
func Refuse(status int, msg, challenge string) Outcome {
	return Outcome{Verdict: Refused, Status: status, Message: msg, Challenge: challenge}
}

// authStage runs a chain's authenticators as one inbound step.
type authStage struct {
	auth  []Authenticator
	names []string // provider names, for logs
	c     *Chain
}

// ServeInbound asks the authenticators in order. The first Authenticated
// outcome continues the chain with its principal; the first Refused one is
// answered at once. When every one passes, the client gets the first
// redirect asked for, else one 401 with every challenge.
func (s *authStage) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	var (
		challenges []string
		location   string
	)
	for i, a := range s.auth {
		o := a.Authenticate(r)
		switch o.Verdict {
		case Authenticated:
			if o.Principal == nil || o.Principal.Name == "" {
				s.c.log.Error("chain: a provider authenticated a request without naming a principal", "provider", s.names[i])
				WriteError(w, http.StatusInternalServerError, "internal error")
				return nil
			}
			if msg := s.c.checkCredential(o.Principal); msg != "" {
				if o.Challenge != "" {
					w.Header().Set("WWW-Authenticate", o.Challenge)
				}
				WriteError(w, http.StatusUnauthorized, msg)
				return nil
			}
			if o.Header != nil {
				h := w.Header()
				for k, vs := range o.Header {
					h[k] = append(h[k], vs...)
				}
			}
			return identity.WithPrincipal(r, o.Principal)
		case Refused:
			if o.Challenge != "" {
				w.Header().Set("WWW-Authenticate", o.Challenge)
			}
			status := o.Status
			if status == 0 {
				status = http.StatusUnauthorized
			}
			msg := o.Message
			if msg == "" {
				msg = "invalid credentials"
			}
			WriteError(w, status, msg)
			return nil
		default:
			if o.Challenge != "" && !slices.Contains(challenges, o.Challenge) {
				challenges = append(challenges, o.Challenge)
			}
			if location == "" {
				location = o.Location
			}
		}
	}
	h := w.Header()
	if location != "" {
		h.Set("Location", location)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
		return nil
	}
	for _, c := range challenges {
		h.Add("WWW-Authenticate", c)
	}
	WriteError(w, http.StatusUnauthorized, "authentication required")
	return nil
}
