// Package preauth is the header pre-authentication provider,
// "header-preauth" (Knox's HeaderPreAuth, role federation): it trusts an
// identity header (SM_USER by default) sent by another gateway or an SSO
// front end, but only from a sender its validators accept. Header
// pre-authentication alone is not secure (seed 001): a topology using it
// must name at least one validator, or say allow_unvalidated: true.
//
// Params (Knox's names in brackets):
//
//	header             the identity header [preauth.custom.header]; SM_USER
//	groups_header      a header with comma-separated groups
//	                   [preauth.custom.group.header]; none by default
//	validation         the validators, all of which must accept the request
//	                   (AND): ip, client-cert, hmac [preauth.validation.method;
//	                   Knox's preauth.ip.validation is ip]; by default those
//	                   whose params are given
//	allowed_addresses  ip: the sender's address must be in one of these IP
//	                   addresses or CIDR ranges, IPv4 or IPv6 (Knox's
//	                   192.168.* wildcards too) [preauth.ip.addresses]
//	truststore         client-cert: the truststore (gatewayctl truststore
//	                   add) the sender's TLS client certificate must chain
//	                   to, dedicated to this provider
//	allowed_clients    client-cert: the certificate's subject DN or one of
//	                   its SANs (DNS, e-mail, URI, IP) must be one of these;
//	                   entries separated by ';' (DNs hold commas)
//	secret             hmac: the shared secret, as ${alias:NAME}; the sender
//	                   (federation dispatch) signs with the same alias
//	max_clock_skew     hmac: how far a signature's timestamp may be from
//	                   this gateway's clock; 60s
//	allow_unvalidated  accept the header from anyone (tests, a sender
//	                   behind a network boundary); warned at deploy
//
// The client-cert validator needs the gateway's front to ask for client
// certificates (gateway.yaml proxy.client_auth: optional or required, its
// client_truststore holding the sender's CA too).
//
// # Answers
//
// A request without the identity header is not this provider's: the next
// authenticator tries, and when none authenticates the client gets 401
// (authentication required: a credential may still be presented). A
// request carrying it that a validator refuses gets 403 (the sender is not
// trusted to assert identities, and no other credential changes that):
// also a duplicated header (two values, or two spellings such as SM_USER
// and SM-USER), a Connection header naming the identity headers, an empty
// or control-character user. The 403's body is the same whichever check
// failed; the gateway's log says which validator refused and why (never
// the signature or the secret).
//
// The identity, groups and signature headers are identity headers: the
// gateway strips them, in every spelling, from what it forwards to
// backends; identity assertion sets what the backend is to see.
//
// The hmac validator's nonces go to the gateway's replay cache
// (chain.Host.Replay, behind the small fedsig.ReplayCache interface):
// in memory and bounded for one gateway today; when several gateways
// share one store, a cache in that store makes a signature replayed to
// another gateway of the cluster refused too.
package preauth
