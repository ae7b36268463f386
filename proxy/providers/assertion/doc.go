// Package assertion holds the identity-assertion providers (role
// identity-assertion): default (Knox's Default and Pseudo), concat, regex,
// switch-case and hadoop-groups (Knox's HadoopGroupProvider, static mapping
// only): the names internal/topology/knox.go maps Knox's to. They decide
// which principal the backend sees, and how it sees it.
//
// For a request, in this order (Knox's): impersonation (doAs), then
// principal.mapping, then the provider's own mapping (concat, regex, case),
// then group mapping on the resulting name. The result is a new
// identity.Principal (Name: asserted, AuthenticatedAs: who authenticated);
// without a principal the request gets 401. Authorization runs after, on
// the asserted principal.
//
// # Impersonation
//
// A doAs or user.name query parameter (any case, any percent-encoding of the
// name, "DOAS", "User.Name", "do%41s") whose value is not the caller's own
// name asks to act as another user. It is honoured only when Hadoop
// proxy-user rules allow it: the client address (package route: the TCP
// peer, or X-Forwarded-For from a trusted proxy) must be in hosts, and the
// target in users or, by the static group mapping, in one of groups. When
// the caller has no rule at all, the parameter is dropped and logged, and
// the request goes on as the caller (the CVE-2017-5646 case: a client's doAs
// is never believed). When the caller is a proxy user whose rules do not
// allow this target or address, the request is refused with 403 and logged:
// it would otherwise run with the proxy user's own rights. Two different
// targets in one request get 400. The proxy strips every doAs and user.name
// from the backend request in any case; this provider re-adds the asserted
// user when query_param says so, so the backend sees only the gateway's.
//
// The gateway never reads request bodies: a doAs in a form-encoded POST body
// reaches the backend as body data. With query_param set, the gateway's doAs
// is in the query, which servlet containers read before body parameters;
// backends must not take impersonation from bodies.
//
// # Params
//
// Every provider of the package:
//
//	param                                  value (Knox syntax)                  default
//	principal.mapping                      alice,guest=hdfs;mary=alice2;*=x     none
//	group.principal.mapping                *=users;hdfs,bob=admin,ops           none
//	hadoop.proxyuser.impersonation.enabled true | false                         true (Knox's default)
//	hadoop.proxyuser.{caller}.users        users caller may act as, * for any   none
//	hadoop.proxyuser.{caller}.groups       groups whose members caller may act as none
//	hadoop.proxyuser.{caller}.hosts        IPs and CIDR ranges, * for any       required with a rule
//	hadoop.proxygroup.{group}.users|groups|hosts  the same, for members of {group} (a caller's own rules win)
//	header (ours)                          header set to the asserted user      none
//	groups_header (ours)                   header set to the groups, comma-separated  none
//	query_param (ours)                     doAs | user.name: set to the asserted user   none
//
// The headers set are identity headers (chain.IdentityHeaders): a client's
// copies, in any spelling, are stripped before the gateway sets its own.
// Proxy-user hosts take IP addresses and CIDR ranges only (host names would
// need DNS on the request path). Per provider:
//
//	provider       param                                      value                         default
//	concat         concat.prefix, concat.suffix               text                          ""
//	regex          input                                      regular expression (RE2; searched, unanchored)  required
//	regex          output                                     template: text, {n}, {[n]} (group n through lookup)  required
//	regex          lookup                                     us=USA;ca=CANADA              none
//	regex          use.original.on.lookup.failure             true | false                  false
//	switch-case    principal.case                             lower | upper | none          lower
//	switch-case    group.principal.case                       lower | upper | none          principal.case
//	hadoop-groups  hadoop.user.group.static.mapping.overrides alice=etl,analysts;bob=       required
//
// Regex differs from Knox where Knox misbehaves: a name the input does not
// match is left unchanged (Knox asserts the raw template), and replacements
// are not expanded again. A mapping that yields an empty name gets 403.
// hadoop-groups refuses Hadoop's group-mapping services
// (hadoop.security.group.mapping*): use the ldap provider's group lookup.
//
// # Group lookup
//
// A provider with group.principal.mapping or static overrides is a group
// source (chain.GroupLookup) for the management API: the groups the mapping
// gives a user, by the name asserted.
package assertion
