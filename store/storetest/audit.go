package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/securegw/gateway/store"
)

// testAudit checks append, order and filters.
func testAudit(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	if got := must(s.ListAudit(ctx, store.AuditFilter{}))(t); len(got) != 0 {
		t.Fatalf("empty store lists %d records", len(got))
	}
	records := []store.AuditRecord{
		{Principal: "alice", Method: "DeployTopology", Target: "topology/web", Outcome: "ok", Peer: "10.0.0.1:5000"},
		{Principal: "bob", Method: "CreateAlias", Target: "alias/ldap", Outcome: "denied", Detail: "not allowed"},
		{Principal: "alice", Method: "DeleteTopology", Target: "topology/api", Outcome: "ok"},
		{Principal: "alice", Method: "CreateAlias", Target: "alias/db", Outcome: "ok"},
		{Principal: "carol", Method: "DeployTopology", Target: "topology/web", Outcome: "error", Sequence: 999},
	}
	var seqs []int64
	for _, r := range records {
		seq := must(s.AppendAudit(ctx, r))(t)
		if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
			t.Fatalf("sequence %d after %d", seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, seq)
	}
	all := must(s.ListAudit(ctx, store.AuditFilter{}))(t)
	if len(all) != len(records) {
		t.Fatalf("listed %d records, want %d", len(all), len(records))
	}
	for i, got := range all {
		j := len(records) - 1 - i // newest first
		want := records[j]
		want.Sequence, want.Time = seqs[j], got.Time
		if got != want {
			t.Errorf("record %d = %+v, want %+v", i, got, want)
		}
		if got.Time.IsZero() {
			t.Errorf("record %d has no time", i)
		}
	}
	// idx turns indexes into records into the sequences expected, newest first.
	idx := func(is ...int) []int64 {
		var out []int64
		for _, i := range slices.Backward(is) {
			out = append(out, seqs[i])
		}
		return out
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"all", store.AuditFilter{}, idx(0, 1, 2, 3, 4)},
		{"limit", store.AuditFilter{Limit: 2}, idx(3, 4)},
		{"principal", store.AuditFilter{Principal: "alice"}, idx(0, 2, 3)},
		{"principal is exact", store.AuditFilter{Principal: "ali"}, nil},
		{"target prefix", store.AuditFilter{TargetPrefix: "topology/"}, idx(0, 2, 4)},
		{"target exact", store.AuditFilter{TargetPrefix: "alias/ldap"}, idx(1)},
		{"target prefix is not a substring", store.AuditFilter{TargetPrefix: "web"}, nil},
		{"principal and prefix", store.AuditFilter{Principal: "alice", TargetPrefix: "alias/"}, idx(3)},
		{"before", store.AuditFilter{Before: seqs[3]}, idx(0, 1, 2)},
		{"before first", store.AuditFilter{Before: seqs[0]}, nil},
		{"before past the end", store.AuditFilter{Before: seqs[4] + 100}, idx(0, 1, 2, 3, 4)},
		{"before and principal and limit", store.AuditFilter{Before: seqs[4], Principal: "alice", Limit: 2}, idx(2, 3)},
		{"no match", store.AuditFilter{Principal: "mallory"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, r := range must(s.ListAudit(ctx, tt.f))(t) {
				got = append(got, r.Sequence)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ListAudit(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

// testAuditPaging checks the default and maximum page sizes and that
// paging with Before visits every record once.
func testAuditPaging(t *testing.T, open Opener) {
	const total = 1005
	s := open(t)
	ctx := t.Context()
	for i := range total {
		p := "even"
		if i%2 == 1 {
			p = "odd"
		}
		must(s.AppendAudit(ctx, store.AuditRecord{Principal: p, Method: "M", Target: fmt.Sprintf("t/%d", i)}))(t)
	}
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"default", 0, 100},
		{"negative", -1, 100},
		{"explicit", 250, 250},
		{"maximum", 1000, 1000},
		{"just above maximum", 1001, 1000},
		{"capped", 5000, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := must(s.ListAudit(ctx, store.AuditFilter{Limit: tt.limit}))(t)
			if len(got) != tt.want {
				t.Errorf("Limit %d lists %d records, want %d", tt.limit, len(got), tt.want)
			}
		})
	}
	pages := []struct {
		name      string
		principal string
		want      int
	}{
		{"everything", "", total},
		{"one principal", "odd", total / 2},
	}
	for _, pg := range pages {
		t.Run("pages of "+pg.name, func(t *testing.T) {
			var (
				before int64
				seen   int
				last   int64
			)
			for range total { // bound: no endless loop if Before is ignored
				page := must(s.ListAudit(ctx, store.AuditFilter{Limit: 64, Before: before, Principal: pg.principal}))(t)
				if len(page) == 0 {
					break
				}
				for _, r := range page {
					if last != 0 && r.Sequence >= last {
						t.Fatalf("sequence %d after %d: not newest first or page overlap", r.Sequence, last)
					}
					if pg.principal != "" && r.Principal != pg.principal {
						t.Fatalf("record of %q in a page for %q", r.Principal, pg.principal)
					}
					last = r.Sequence
					seen++
				}
				before = page[len(page)-1].Sequence
			}
			if seen != pg.want {
				t.Errorf("pages held %d records, want %d", seen, pg.want)
			}
		})
	}
}
