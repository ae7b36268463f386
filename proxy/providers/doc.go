// Package providers holds the gateway's built-in chain providers. Each
// registers itself in init(); importing the package (the proxy does) makes
// them available to topologies. Two small ones live here:
//
//   - anonymous (authentication): every request acts as the principal named
//     by param "principal" (default "anonymous") unless an earlier
//     authentication or federation handler established one. A topology that
//     means to be open says so with this provider: the proxy refuses to deploy
//     a topology without any authentication or federation provider.
//   - header (custom, outbound): sets header "name" to "value" on every
//     backend request. The value may contain ${alias:NAME}, resolved once at
//     deploy time through the secret resolver; it is never logged.
//
// The others have packages of their own, imported here for their
// registration:
//
//   - client-cert (authentication and federation): package clientcert;
//   - header-preauth (federation): package preauth, header pre-authentication
//     with ip, client-cert and hmac validators (seed 001);
//   - default, concat, regex, switch-case, hadoop-groups (identity-assertion):
//     package assertion;
//   - acls (authorization): package acls;
//   - webappsec (webappsec): package webappsec;
//   - deny-methods (custom): package denymethods, the example of a custom
//     inbound handler.
package providers
