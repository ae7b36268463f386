package topologypb

import (
	"slices"

	"github.com/securegw/gateway/internal/topology"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
)

// Format converts an API document format to the model's; an unknown value
// is FormatUnspecified (the format is then guessed).
func Format(f gatewayv1.Format) topology.Format {
	switch f {
	case gatewayv1.Format_FORMAT_YAML:
		return topology.FormatYAML
	case gatewayv1.Format_FORMAT_JSON:
		return topology.FormatJSON
	case gatewayv1.Format_FORMAT_KNOX_XML:
		return topology.FormatKnoxXML
	}
	return topology.FormatUnspecified
}

// ChangesToProto converts changes to their management API form.
func ChangesToProto(changes []topology.Change) []*gatewayv1.ServiceChange {
	out := make([]*gatewayv1.ServiceChange, 0, len(changes))
	for _, c := range changes {
		out = append(out, &gatewayv1.ServiceChange{Kind: changeKind(c.Kind), Path: c.Path, Details: slices.Clone(c.Details)})
	}
	return out
}

func changeKind(k topology.ChangeKind) gatewayv1.ServiceChange_Kind {
	switch k {
	case topology.ChangeAdded:
		return gatewayv1.ServiceChange_KIND_ADDED
	case topology.ChangeChanged:
		return gatewayv1.ServiceChange_KIND_CHANGED
	case topology.ChangeRemoved:
		return gatewayv1.ServiceChange_KIND_REMOVED
	}
	return gatewayv1.ServiceChange_KIND_UNSPECIFIED
}
