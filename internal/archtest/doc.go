// Package archtest holds the test that states which package of the module
// may import which (ARCHITECTURE.md, "Layout"): proxy imports neither server
// nor store; store imports neither proxy nor server; gatewayctl imports only
// the generated API and the topology model.
package archtest
