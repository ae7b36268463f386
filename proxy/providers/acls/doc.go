// Package acls is the authorization provider "acls" (Knox's AclsAuthz):
// per-service ACLs over users, groups and source addresses.
//
//	param              value                       default
//	{service}.acl      users;groups;ips            none: the service is allowed (see default)
//	{service}.acl.mode AND | OR                    acl.mode
//	acl.mode           AND | OR                    AND
//	default            allow | deny                allow (Knox: a service without ACL is open)
//
// {service} is a service's path or role, case-insensitively (the path wins
// when both match different services); an ACL naming no service of the
// topology refuses the deploy. The gateway's auth API is the service
// "auth". Each list is comma-separated, trimmed, "*" for any. ips are IPv4
// and IPv6 addresses or CIDR ranges (netip, host bits masked), or Knox's
// IPv4 wildcards ("192.168.*" is 192.168.0.0/16); host names are refused.
// The address checked is the request's source address (package route): the
// TCP peer, or from X-Forwarded-For only when the peer is a trusted proxy.
//
// AND: the user, one of the groups and the address must all match. OR: one
// of them must match, and a "*" part matches nothing (Knox's reading, so
// that OR with a wildcard does not open the service to everyone); *;*;* in
// OR mode is refused. A denied request gets 403
// {"error":"access denied: user alice is not allowed to use service echo"};
// a request without principal 401.
package acls
