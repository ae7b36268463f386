package hostmap

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/securegw/gateway/proxy/chain"
)

func build(params map[string]string) (chain.Handler, error) {
	return newHostMap(context.Background(), chain.Config{Topology: "t", Provider: Name, Role: Role, Params: params})
}

func TestHostMap(t *testing.T) {
	h, err := build(map[string]string{
		"localhost":             "sandbox, Sandbox.Hortonworks.com",
		"gw-a.example,gw-b":     "node-a",
		"10.0.0.1":              "10.1.1.1",
		"EXTERNAL.example.org:": "",
	})
	if err == nil {
		t.Fatalf("a param without internal hosts was accepted: %v", h)
	}
	h, err = build(map[string]string{
		"localhost":         "sandbox, Sandbox.Hortonworks.com",
		"gw-a.example,gw-b": "node-a",
		"10.0.0.1":          "10.1.1.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sandbox":                 "localhost",
		"sandbox.hortonworks.com": "localhost",
		"node-a":                  "gw-a.example", // the first external name, as Knox
		"10.1.1.1":                "10.0.0.1",
	}
	if got := h.(chain.HostMap).ExternalHosts(); !maps.Equal(got, want) {
		t.Fatalf("ExternalHosts = %v, want %v", got, want)
	}
}

func TestHostMapRefuses(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"empty value", map[string]string{"localhost": " , "}, `param "localhost": names no host`},
		{"URL as internal host", map[string]string{"localhost": "http://sandbox:8080"}, `"http://sandbox:8080" is not a host name`},
		{"port in external host", map[string]string{"localhost:8443": "sandbox"}, `"localhost:8443" is not a host name`},
		{"internal host mapped twice", map[string]string{"a": "sandbox", "b": "sandbox"}, `internal host "sandbox" is mapped to "a" already`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(tt.params)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if h, err := build(nil); h != nil || err != nil {
		t.Fatalf("no params: %v, %v; want nothing to do", h, err)
	}
}
