package denymethods_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/chain"
	_ "github.com/securegw/gateway/proxy/providers/denymethods"
)

func build(params map[string]string) (*chain.Chain, error) {
	return chain.Build(context.Background(), "t", []topology.Provider{{Role: "custom", Name: "deny-methods", Params: params}}, nil)
}

func TestDenyMethods(t *testing.T) {
	c, err := build(map[string]string{"methods": " TRACE, TRACK,CONNECT "})
	if err != nil {
		t.Fatal(err)
	}
	for method, status := range map[string]int{"TRACE": 405, "TRACK": 405, "CONNECT": 405, "GET": 0, "POST": 0, "trace": 0} {
		w := httptest.NewRecorder()
		r := c.ServeInbound(w, httptest.NewRequest(method, "/gateway/t/echo", nil))
		if status == 0 && r == nil || status != 0 && (r != nil || w.Code != status || w.Body.String() != `{"error":"method not allowed"}`+"\n") {
			t.Errorf("%s: passed=%v %d %q", method, r != nil, w.Code, w.Body)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{nil, `param "methods": is required`},
		{map[string]string{"methods": "GET,,POST"}, `param "methods": "" is not an HTTP method`},
		{map[string]string{"methods": "GET POST"}, `param "methods": "GET POST" is not an HTTP method`},
		{map[string]string{"methods": "TRACE", "status": "404"}, `param "status": is not a parameter`},
	} {
		_, err := build(tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
}
