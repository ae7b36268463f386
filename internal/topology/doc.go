// Package topology is the topology model shared by the server and the CLI:
// parsing of native YAML/JSON and Knox topology XML, validation with precise
// field and line errors, and the diff shown by dry runs. It is plain Go: the
// data plane compiles from it, and its management API form lives in
// internal/topologypb.
//
// The life of a document:
//
//	t, err := topology.Parse(doc, format, "sandbox.yaml", "") // decode strictly, Normalize
//	warnings, err := topology.Validate(t)                     // every problem, with field and line
//	refs := topology.AliasRefs(t)                             // aliases the server must find
//	b, err := t.CanonicalJSON()                               // what the store keeps
//	changes := topology.Diff(live, t)                         // what a deploy would do
//
// Parsing. Native documents are decoded strictly: an unknown or repeated
// field, a value of the wrong shape, a YAML alias or custom tag, a second
// document or trailing data is an error naming the field and line. JSON is
// parsed as JSON (not as YAML), then checked the same way. Knox topology XML
// is converted through the service catalogue (catalogue.txt: every role of
// Knox's service definitions, WEBHDFS → "webhdfs", with its backend path,
// type, WebSocket and rewrite behaviour) and a table of provider names
// (ShiroProvider → "ldap"); unknown roles and names are errors. An enabled
// HaProvider becomes per-service failover (ha.failover_on_standby for
// WEBHDFS and the YARN ResourceManager roles and, from maxRetryAttempts and
// retrySleep, ha.safe_mode_retries for WEBHDFS; see convertHA). DOCTYPE and ENTITY declarations are refused before anything could
// expand them. Documents must be UTF-8 and at most MaxDocumentSize bytes.
//
// Normal form. Normalize strips leading and trailing slashes from service
// paths and drops defaults, so that equal topologies have equal canonical
// JSON; Validate then refuses what is left that is not canonical (empty,
// "." or ".." segments).
//
// Secrets. Parameter values may be secrets or refer to them as
// ${alias:NAME}. Errors, warnings and diffs name parameters, never their
// values, and show URLs with any password masked.
package topology
