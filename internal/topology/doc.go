// Package topology is the topology model shared by the server and the CLI:
// parsing of native YAML/JSON and Knox topology XML, validation with precise
// field and line errors, conversion to and from the management API, and the
// diff shown by dry runs.
package topology
