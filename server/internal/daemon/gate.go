package daemon

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/securegw/gateway/store"
)

// gatedStore is the store as the management API sees it: while the
// reconciler has lost a shared store (and not listed it again), every call
// fails at once with store.ErrUnavailable instead of waiting for etcd's
// request timeout, so a write is refused in milliseconds with a clear
// message. The reconciler and the secrets service use the store itself.
type gatedStore struct {
	store.Store
	lost *atomic.Bool
}

var errStoreLost = fmt.Errorf("%w: this gateway lost the store and has not listed it again yet", store.ErrUnavailable)

func (g gatedStore) check() error {
	if g.lost.Load() {
		return errStoreLost
	}
	return nil
}

func (g gatedStore) Revision(ctx context.Context) (int64, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.Revision(ctx)
}

func (g gatedStore) PutTopology(ctx context.Context, t store.Topology, expect int64) (store.Topology, error) {
	if err := g.check(); err != nil {
		return store.Topology{}, err
	}
	return g.Store.PutTopology(ctx, t, expect)
}

func (g gatedStore) GetTopology(ctx context.Context, name string) (store.Topology, error) {
	if err := g.check(); err != nil {
		return store.Topology{}, err
	}
	return g.Store.GetTopology(ctx, name)
}

func (g gatedStore) GetTopologyRevision(ctx context.Context, name string, revision int64) (store.Topology, error) {
	if err := g.check(); err != nil {
		return store.Topology{}, err
	}
	return g.Store.GetTopologyRevision(ctx, name, revision)
}

func (g gatedStore) ListTopologies(ctx context.Context) ([]store.Topology, int64, error) {
	if err := g.check(); err != nil {
		return nil, 0, err
	}
	return g.Store.ListTopologies(ctx)
}

func (g gatedStore) DeleteTopology(ctx context.Context, name, by string, expect int64) (int64, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.DeleteTopology(ctx, name, by, expect)
}

func (g gatedStore) TopologyHistory(ctx context.Context, name string) ([]store.Topology, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	return g.Store.TopologyHistory(ctx, name)
}

func (g gatedStore) AppendAudit(ctx context.Context, r store.AuditRecord) (int64, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.AppendAudit(ctx, r)
}

func (g gatedStore) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	return g.Store.ListAudit(ctx, f)
}

func (g gatedStore) PutObject(ctx context.Context, o store.Object, expect int64) (store.Object, error) {
	if err := g.check(); err != nil {
		return store.Object{}, err
	}
	return g.Store.PutObject(ctx, o, expect)
}

func (g gatedStore) GetObject(ctx context.Context, kind, key string) (store.Object, error) {
	if err := g.check(); err != nil {
		return store.Object{}, err
	}
	return g.Store.GetObject(ctx, kind, key)
}

func (g gatedStore) ListObjects(ctx context.Context, kind, prefix string) ([]store.Object, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	return g.Store.ListObjects(ctx, kind, prefix)
}

func (g gatedStore) DeleteObject(ctx context.Context, kind, key string, expect int64) (int64, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.DeleteObject(ctx, kind, key, expect)
}

func (g gatedStore) DeleteObjectIf(ctx context.Context, kind, key string, expect int64, check store.Check) (int64, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.DeleteObjectIf(ctx, kind, key, expect, check)
}

func (g gatedStore) PutTopologyIf(ctx context.Context, t store.Topology, expect int64, check store.Check) (store.Topology, error) {
	if err := g.check(); err != nil {
		return store.Topology{}, err
	}
	return g.Store.PutTopologyIf(ctx, t, expect, check)
}

func (g gatedStore) RewriteObjects(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte) (int, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.RewriteObjects(ctx, kinds, fn, meta)
}

func (g gatedStore) RewriteObjectsIf(ctx context.Context, kinds []string, fn func(store.Object) ([]byte, error), meta map[string][]byte, check store.Check) (int, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.RewriteObjectsIf(ctx, kinds, fn, meta, check)
}

func (g gatedStore) GetMeta(ctx context.Context, key string) ([]byte, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	return g.Store.GetMeta(ctx, key)
}

func (g gatedStore) GetMetaRevision(ctx context.Context, key string) ([]byte, int64, error) {
	if err := g.check(); err != nil {
		return nil, 0, err
	}
	return g.Store.GetMetaRevision(ctx, key)
}

func (g gatedStore) PutMeta(ctx context.Context, key string, value []byte, expect int64) (int64, error) {
	if err := g.check(); err != nil {
		return 0, err
	}
	return g.Store.PutMeta(ctx, key, value, expect)
}

func (g gatedStore) Watch(ctx context.Context, fromRevision int64) (<-chan store.ChangeBatch, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	return g.Store.Watch(ctx, fromRevision)
}
