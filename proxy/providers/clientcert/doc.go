// Package clientcert is the provider "client-cert" (Knox's ClientCert),
// registered for the roles authentication and federation: the principal is
// taken from the client certificate that the front's TLS stack verified
// against its dedicated client truststore (proxy.client_truststore, client
// auth "verify-if-given" or "require"). Certificates that were merely
// presented (client auth "request") are never trusted.
//
//	param           value                                  default
//	principal_from  cn | dn | san-email | san-dns | san-uri  cn (Knox: the DN)
//	groups_from_ou  true | false: the subject's OUs as groups false
//	optional        true | false                            false
//
// A SAN source takes the first SAN of its kind. Without a verified
// certificate the request gets 401, unless optional=true: then it passes on
// without a principal, to the next authentication provider (client-cert
// runs first among them, priority 100), and is refused with 401 if none
// establishes one. A principal set by an earlier handler is kept.
package clientcert
