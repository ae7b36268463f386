// Package providers holds the gateway's built-in chain providers. Each
// registers itself in init(); importing the package (the proxy does) makes
// them available to topologies:
//
//   - anonymous (authentication): every request acts as the principal named
//     by param "principal" (default "anonymous") unless an earlier
//     authentication or federation handler established one. A topology that
//     means to be open says so with this provider: the proxy refuses to deploy
//     a topology without any authentication or federation provider.
//   - default (identity-assertion): the authenticated principal is asserted
//     to the backend unchanged; requests without a principal get 401. Later
//     issues add mapping params; unknown params are refused today rather than
//     silently ignored.
//   - header (custom, outbound): sets header "name" to "value" on every
//     backend request. The value may contain ${alias:NAME}, resolved once at
//     deploy time through the secret resolver; it is never logged.
package providers
