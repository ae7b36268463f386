// Package topologypb converts the topology model (internal/topology) to and
// from the management API's generated types (proto/gateway/v1). It is the
// API layer's side of the model, used by the server and gatewayctl: the data
// plane compiles plain internal/topology values and never links protobuf or
// gRPC.
package topologypb
