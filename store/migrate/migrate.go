// Package migrate copies a whole store from one backend to another
// (gatewayd store migrate): topologies with their history, objects, meta
// values and the audit log, keeping every revision, sequence and
// timestamp, then reads the target back and verifies it against the
// source.
package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/securegw/gateway/store"
)

// Report counts what was copied.
type Report struct {
	Revision   int64
	Topologies int
	Versions   int
	Objects    int
	Meta       int
	Audit      int
}

func (r Report) String() string {
	return fmt.Sprintf("revision %d: %d topologies (%d versions in history), %d objects, %d meta values, %d audit records",
		r.Revision, r.Topologies, r.Versions, r.Objects, r.Meta, r.Audit)
}

// Copy copies from into to, which must be empty, and verifies the copy.
func Copy(ctx context.Context, from, to store.Porter) (Report, error) {
	d, err := from.Export(ctx)
	if err != nil {
		return Report{}, err
	}
	if err := to.Import(ctx, d); err != nil {
		return Report{}, err
	}
	got, err := to.Export(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("reading the copy back: %w", err)
	}
	if err := Equal(d, got); err != nil {
		return Report{}, fmt.Errorf("the copy differs from the source: %w", err)
	}
	return Report{
		Revision:   d.Revision,
		Topologies: len(d.Topologies),
		Versions:   len(d.History),
		Objects:    len(d.Objects),
		Meta:       len(d.Meta),
		Audit:      len(d.Audit),
	}, nil
}

// Equal reports how two dumps differ (nil: they hold the same), whatever
// order each backend lists them in.
func Equal(a, b store.Dump) error {
	a, b = normalize(a), normalize(b)
	var errs []error
	if a.Revision != b.Revision {
		errs = append(errs, fmt.Errorf("revision %d, want %d", b.Revision, a.Revision))
	}
	for _, f := range []struct {
		what string
		a, b any
		n, m int
	}{
		{"topologies", a.Topologies, b.Topologies, len(a.Topologies), len(b.Topologies)},
		{"history versions", a.History, b.History, len(a.History), len(b.History)},
		{"objects", a.Objects, b.Objects, len(a.Objects), len(b.Objects)},
		{"meta values", a.Meta, b.Meta, len(a.Meta), len(b.Meta)},
		{"audit records", a.Audit, b.Audit, len(a.Audit), len(b.Audit)},
	} {
		switch {
		case f.n != f.m:
			errs = append(errs, fmt.Errorf("%d %s, want %d", f.m, f.what, f.n))
		case !reflect.DeepEqual(f.a, f.b):
			errs = append(errs, fmt.Errorf("%s differ (same count, %d)", f.what, f.n))
		}
	}
	return errors.Join(errs...)
}

func normalize(d store.Dump) store.Dump {
	topo := func(x, y store.Topology) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Revision, y.Revision))
	}
	obj := func(x, y store.Object) int { return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Key, y.Key)) }
	d.Topologies = sortedNorm(d.Topologies, topo, normTopo)
	d.History = sortedNorm(d.History, topo, normTopo)
	d.Objects = sortedNorm(d.Objects, obj, normObj)
	d.Meta = sortedNorm(d.Meta, obj, normObj)
	d.Audit = sortedNorm(d.Audit, func(x, y store.AuditRecord) int { return cmp.Compare(x.Sequence, y.Sequence) },
		func(r store.AuditRecord) store.AuditRecord { r.Time = r.Time.UTC(); return r })
	return d
}

func normTopo(t store.Topology) store.Topology {
	t.UpdatedAt = t.UpdatedAt.UTC()
	if len(t.Spec) == 0 {
		t.Spec = nil
	}
	return t
}

func normObj(o store.Object) store.Object {
	o.UpdatedAt = o.UpdatedAt.UTC()
	if len(o.Value) == 0 {
		o.Value = nil
	}
	return o
}

func sortedNorm[T any](s []T, by func(a, b T) int, norm func(T) T) []T {
	out := make([]T, 0, len(s))
	for _, v := range s {
		out = append(out, norm(v))
	}
	slices.SortFunc(out, by)
	return out
}
