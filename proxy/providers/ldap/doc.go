// Package ldap is the "ldap" authentication provider: HTTP Basic
// credentials checked against an LDAP directory (Knox's ShiroProvider with
// KnoxLdapRealm maps to it, and its param names are accepted as they are).
//
// # Modes
//
// DN template (user_dn_template, e.g. uid={0},ou=people,dc=example,dc=org):
// the gateway binds as the DN built from the user name. Search-then-bind
// (search_base, user_search_filter): the gateway binds as the service
// account (bind_dn, bind_password), searches for the one entry the filter
// matches, then binds as that entry. Giving both is a configuration error.
//
// # Escaping and refusals
//
// The user name is escaped per RFC 4514 where it goes into a DN and per
// RFC 4515 where it goes into a filter, so *, (, ), \, NUL, ",", =, +, a
// leading # or spaces match only themselves: no wildcard login. Names that
// are empty, longer than 256 bytes, not UTF-8 or with control characters,
// and empty passwords, are refused (401) before the directory is asked: a
// simple bind with an empty password is an unauthenticated bind (RFC 4513
// 5.1.2), which many directories accept for any name. A user search
// matching more than one entry refuses the login.
//
// # Answers
//
// 401 with WWW-Authenticate: Basic realm="…", charset="UTF-8" for missing or
// refused credentials; 503 {"error":"authentication service unavailable"}
// when the directory cannot say: unreachable, slower than timeout, a TLS
// failure (never a fall-back to plain LDAP), or the service account
// refused. A request that already carries a principal passes unchanged.
//
// # Connections and cache
//
// Up to pool_size connections per topology, opened on demand, kept idle
// between uses, each operation bounded by timeout (dial, TLS and StartTLS
// included) and by the request's context. A reused connection that fails
// on the transport is dropped with the other idle ones and the operation
// runs once more on a new connection. Close closes them.
//
// Successful logins are cached for cache_ttl (0 disables), keyed by user
// name, holding an HMAC-SHA256 of the password under a random key made when
// the provider is built (never the password), and the user's groups. A
// different password goes to the directory. Failures are not cached: the
// directory sees every failed attempt (lockout policies, audit).
//
// # Groups
//
// After a successful bind, from a group search (group_search_base and
// group_filter, whose {0} is the user's DN, or member_value_template) as
// the service account when there is one, or from the user's memberOf
// values (member_of_attribute). They are sorted into Principal.Groups.
//
// # Group lookup API
//
// When the provider has a service account (bind_dn) and looks groups up,
// its handler is a GroupHandler, which adds
//
//	LookupGroups(ctx context.Context, user string) ([]string, error)
//
// (chain.GroupLookup): a user's groups as the directory says, found with
// the service account and cached like logins, for the group API
// (/gateway/{t}/auth/api/v1/groups, gRPC Groups.Lookup). A user the
// directory does not have is in no group (an empty list, as Hadoop's group
// mapping answers); errors wrap ErrUnavailable. A provider without a
// service account or without group lookup is a plain *Handler, so the
// group API does not mistake it for a group source.
//
// # Params
//
// Our name, then Knox's (main.ldapRealm. abbreviated to ldapRealm.):
//
//	url                           ldapRealm.contextFactory.url              required; ldap:// or ldaps://
//	user_dn_template              ldapRealm.userDnTemplate                  DN with {0}
//	bind_dn                       ldapRealm.contextFactory.systemUsername   service account
//	bind_password                 ldapRealm.contextFactory.systemPassword   ${alias:NAME}
//	allow_plaintext_bind_password                                           false
//	search_base                   ldapRealm.searchBase                      base for users and groups
//	user_search_base              ldapRealm.userSearchBase                  search_base
//	user_search_filter            ldapRealm.userSearchFilter                (&(objectClass=person)(uid={0}))
//	user_search_attribute         ldapRealm.userSearchAttributeName         instead of the filter: (&(objectClass=C)(A={0}))
//	user_object_class             ldapRealm.userObjectClass                 person
//	lookup_groups                 ldapRealm.authorizationEnabled            on when a group param is set; false: off
//	group_search_base             ldapRealm.groupSearchBase                 search_base
//	group_filter                  ldapRealm.groupSearchFilter               (&(objectClass=C)(M={0})), {0} = user DN
//	group_object_class            ldapRealm.groupObjectClass                groupOfNames
//	member_attribute              ldapRealm.memberAttribute                 member
//	member_value_template         ldapRealm.memberAttributeValueTemplate    the user's DN
//	group_name_attribute          ldapRealm.groupIdAttribute                cn
//	member_of_attribute                                                     (memberOf) instead of a group search
//	start_tls                                                               false
//	ca_alias                                                                alias holding PEM CA certificates
//	truststore                                                              PEM text, usually ${alias:NAME}
//	timeout                                                                 5s
//	pool_size                                                               4
//	cache_ttl                     ldapRealm.authenticationCachingEnabled    60s (false: 0)
//	realm                                                                   the topology's name
//
// Knox's Shiro wiring params (main.ldapRealm, main.ldapContextFactory,
// main.ldapRealm.contextFactory, …authenticationMechanism=simple,
// urls./**=authcBasic, sessionTimeout, cache and session managers) are
// accepted and ignored; a value asking for something else (another realm
// class, another mechanism) is refused. Any other param is an error.
package ldap
