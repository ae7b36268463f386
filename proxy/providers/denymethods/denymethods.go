package denymethods

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
)

// Name is the provider's name.
const Name = "deny-methods"

func init() {
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleCustom, New: newDenyMethods})
}

type handler struct{ methods []string }

var _ chain.Inbound = (*handler)(nil)

func newDenyMethods(_ context.Context, c chain.Config) (chain.Handler, error) {
	p, err := c.Read([]chain.Param{chain.P("methods")})
	if err != nil {
		return nil, err
	}
	v, err := p.Required("methods")
	if err != nil {
		return nil, err
	}
	h := &handler{}
	for m := range strings.SplitSeq(v, ",") {
		m = strings.TrimSpace(m)
		if m == "" || !httpguts.ValidHeaderFieldName(m) { // a method is a token
			return nil, &chain.ParamError{Param: "methods", Reason: fmt.Sprintf("%q is not an HTTP method", m)}
		}
		h.methods = append(h.methods, m)
	}
	return h, nil
}

func (h *handler) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	if slices.Contains(h.methods, r.Method) {
		chain.WriteError(w, http.StatusMethodNotAllowed, "method not allowed")
		return nil
	}
	return r
}
