// Package hostmap is the "static" provider of role "hostmap", Knox's static
// host mapping: each param names external host names (the names the
// topology's URLs use, comma-separated) and its value the internal names
// the backends give themselves (comma-separated):
//
//   - role: hostmap
//     name: static
//     params:
//     localhost: sandbox,sandbox.hortonworks.com
//
// As in Knox, an internal name maps to the first external name of its
// entry, and an external name to the first internal one. The proxy applies
// the outbound direction where Knox's rewrite rules do for headers: an
// absolute URL in Location, Content-Location or Refresh naming an internal
// host is read as the external host, then mapped to the gateway URL of the
// service covering it (http://sandbox:50070/webhdfs/v1/x with the service
// URL http://localhost:50070/webhdfs reaches the client as
// https://gw/gateway/t/webhdfs/v1/x); an internal host no service covers is
// never passed to the client. The inbound direction (external to internal)
// applies in Knox to backend URLs the gateway took from a rewritten
// response (a data node's address carried in a query); the gateway always
// dispatches to the topology's own URLs, so it has nothing to apply to.
package hostmap
