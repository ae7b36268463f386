package proxy_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy"
)

// keepingHandler keeps every record it handles (a Clone, as slog lets a
// handler keep one: an asynchronous or buffering handler reads its values
// after Handle returned) and resolves them only when the test asks.
type keepingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *keepingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *keepingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

func (h *keepingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *keepingHandler) WithGroup(string) slog.Handler      { return h }

// access returns the fields of the access records kept so far, resolved
// now (groups inlined).
func (h *keepingHandler) access() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.recs {
		if r.Message != "access" {
			continue
		}
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			flatten(m, a)
			return true
		})
		out = append(out, m)
	}
	return out
}

func flatten(m map[string]string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			flatten(m, g)
		}
		return
	}
	if a.Key != "" {
		m[a.Key] = v.String()
	}
}

// A Config.Logger whose handler keeps records (slog.Record.Clone) reads
// each access record's fields after Handle returned: they are still that
// request's, not cleared or another request's.
func TestAccessRecordKeptByHandler(t *testing.T) {
	h := &keepingHandler{}
	e := newEnv(t, proxy.Config{Logger: slog.New(h)})
	b := newBackend(t, nil)
	e.deploy(topo("t", svc("svc", b.URL)))
	want := []map[string]string{
		{"request_id": "req-1", "method": "GET", "path": "/gateway/t/svc/a", "topology": "t", "service": "svc", "status": "200"},
		{"request_id": "req-2", "method": "GET", "path": "/gateway/t/svc/b", "topology": "t", "service": "svc", "status": "200"},
		{"request_id": "req-3", "method": "GET", "path": "/gateway/nope/c", "topology": "", "service": "", "status": "404"},
	}
	for _, w := range want {
		e.get(w["path"], "X-Request-Id", w["request_id"])
	}
	var got []map[string]string
	eventually(t, 5*time.Second, "the access records", func() bool {
		got = h.access()
		return len(got) >= len(want)
	})
	byID := map[string]map[string]string{}
	for _, g := range got {
		byID[g["request_id"]] = g
	}
	for i, w := range want {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			g, ok := byID[w["request_id"]]
			if !ok {
				t.Fatalf("no access record of %s among %v", w["request_id"], got)
			}
			for k, v := range w {
				if g[k] != v {
					t.Errorf("%s = %q, want %q (record %v)", k, g[k], v, g)
				}
			}
		})
	}
}
