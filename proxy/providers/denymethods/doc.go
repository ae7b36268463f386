// Package denymethods is the provider "deny-methods" (role custom), a small
// example of seed 003's extension point: a custom inbound handler,
// registered in init() like every provider, configured by params, built
// once per deploy and run in the chain's fixed order (after authorization).
//
//	param    value                                   default
//	methods  comma-separated HTTP methods to refuse  required (e.g. TRACE,TRACK,CONNECT)
//
// A request whose method is listed (compared case-sensitively, as HTTP
// methods are) gets 405 {"error":"method not allowed"} and never reaches
// the backend.
//
// Writing one: a factory reads its params with chain.Config.Read (which
// refuses unknown ones), then checks each value, returning
// *chain.ParamError so the deploy error names the param, and
// returns a value implementing chain.Inbound (and/or Outbound,
// ResponseModifier); the handler must not keep per-request state, and must
// not change r.URL.Path.
package denymethods
