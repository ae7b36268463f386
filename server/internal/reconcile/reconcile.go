package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/store"
)

// Source is what the reconciler reads of the store.
type Source interface {
	ListTopologies(ctx context.Context) ([]store.Topology, int64, error)
	GetTopology(ctx context.Context, name string) (store.Topology, error)
	Watch(ctx context.Context, fromRevision int64) (<-chan store.ChangeBatch, error)
}

// Router is what the reconciler needs of the data plane.
type Router interface {
	Compile(ctx context.Context, t *topology.Topology) (*proxy.Compiled, error)
	// Load replaces the whole table with one swap.
	Load(all []*proxy.Compiled) int64
	// Update publishes apply and withdraws remove with one swap.
	Update(apply []*proxy.Compiled, remove []string) int64
}

// DefaultMaxCoalesce is how many queued batches are applied as one swap.
const DefaultMaxCoalesce = 256

// ErrStopped is returned by WaitFor and Refresh once the reconciler stopped.
var ErrStopped = errors.New("the reconciler is stopped")

// Options configure a Reconciler.
type Options struct {
	// Log receives what was applied and what failed to compile. Nil discards.
	Log *slog.Logger
	// OnTruststore, if set, is called from the reconciler's goroutine after
	// a batch that changed the named truststore was applied (the daemon
	// reloads the front's client truststore with it).
	OnTruststore func(ctx context.Context, name string)
	// MaxCoalesce bounds the number of queued batches applied as one swap;
	// zero means DefaultMaxCoalesce.
	MaxCoalesce int
	// OnSync, if set, is called with false when the store becomes
	// unavailable (the table stays as it is) and with true once the
	// reconciler has listed the store again and follows its watch (the
	// daemon reports not ready in between).
	OnSync func(synced bool)
	// RetryDelay is the pause between attempts to list an unavailable
	// store; zero means DefaultRetryDelay.
	RetryDelay time.Duration
	// Objects, if set, follows the store's other objects (token state,
	// signing keys): reloaded with every listing, told of every change of
	// a kind other than topologies, aliases and truststores.
	Objects ObjectSink
}

// ObjectSink keeps live state derived from store objects (the token
// service's state and revocation set). Its calls run in the reconciler's
// goroutine, in revision order; a batch counts as applied only after Apply
// returned, so WaitFor(rev) means the sink has seen rev.
type ObjectSink interface {
	// Reload reads everything again (after Load listed the store).
	Reload(ctx context.Context) error
	// Apply is given the changes of one or more batches, in order.
	Apply(ctx context.Context, changes []store.Change) error
}

// DefaultRetryDelay is the pause between attempts to list an unavailable store.
const DefaultRetryDelay = 250 * time.Millisecond

// Reconciler applies the store's changes to the routing table. Load it,
// then Run it; WaitFor, AppliedRevision, Failure and Refresh are safe for
// concurrent use.
type Reconciler struct {
	src    Source
	router Router
	log    *slog.Logger
	opts   Options

	// idx, loaded and secretsRev are owned by the goroutine that calls
	// Load and Run. secretsRev is the revision of the last alias or
	// truststore change applied (or of the last listing): an offer
	// compiled before it may hold an old secret.
	idx        index
	loaded     bool
	secretsRev int64

	refresh chan refreshRequest

	stopped chan struct{} // closed when Run returns

	mu       sync.Mutex
	applied  int64
	advanced chan struct{}      // closed and replaced when applied grows
	failed   map[string]failure // stored topologies that are not served
	offers   map[string]offer   // routes compiled by the topology service, by name
}

// failure is why a stored topology is not served, and what it uses.
type failure struct {
	err  error
	refs []ref
}

type refreshRequest struct {
	name  string
	reply chan error
}

// New returns a reconciler of src onto router.
func New(src Source, router Router, o Options) *Reconciler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxCoalesce <= 0 {
		o.MaxCoalesce = DefaultMaxCoalesce
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	return &Reconciler{
		src:      src,
		router:   router,
		log:      o.Log,
		opts:     o,
		idx:      newIndex(),
		refresh:  make(chan refreshRequest),
		stopped:  make(chan struct{}),
		advanced: make(chan struct{}),
		failed:   map[string]failure{},
		offers:   map[string]offer{},
	}
}

// Load lists the stored topologies, compiles them and loads them into the
// table with one swap. A topology that does not compile is logged and not
// served, so that one bad topology does not keep the others down. It
// returns the number of topologies served and of those that failed.
func (r *Reconciler) Load(ctx context.Context) (served, failed int, err error) {
	recs, rev, err := r.src.ListTopologies(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("listing topologies: %w", err)
	}
	r.idx = newIndex()
	r.dropOffers()
	r.secretsRev = rev
	all := make([]*proxy.Compiled, 0, len(recs))
	r.mu.Lock()
	r.failed = map[string]failure{}
	r.mu.Unlock()
	for _, rec := range recs {
		if c, err := r.compile(ctx, rec); err == nil {
			all = append(all, c)
		}
	}
	if r.opts.Objects != nil {
		if err := r.opts.Objects.Reload(ctx); err != nil {
			return 0, 0, fmt.Errorf("loading objects: %w", err)
		}
	}
	gen := r.router.Load(all)
	r.loaded = true
	r.mu.Lock()
	fails := len(r.failed)
	r.mu.Unlock()
	r.advance(rev)
	r.log.InfoContext(ctx, "routing table loaded", "topologies", len(all), "failed", fails, "revision", rev, "generation", gen)
	return len(all), fails, nil
}

// Run follows the store's watch and applies its changes until ctx ends
// (nil) or the store fails (the error). It loads the table first unless
// Load did. On return every waiter gets ErrStopped.
func (r *Reconciler) Run(ctx context.Context) error {
	defer r.dropOffers() // after stopped is closed: no offer is kept after
	defer close(r.stopped)
	if !r.loaded {
		if _, _, err := r.Load(ctx); err != nil {
			return err
		}
	}
	for {
		err := r.follow(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, store.ErrCompacted):
			r.log.WarnContext(ctx, "the watched revision was compacted away; listing the store again", "revision", r.AppliedRevision())
			if _, _, err := r.Load(ctx); err != nil {
				return err
			}
		case errors.Is(err, store.ErrUnavailable):
			if err := r.resync(ctx, err); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// resync keeps the table while the store is unavailable, then lists it
// again (a consistent snapshot at one revision) and reports synced; the
// caller then watches from the listing's revision.
func (r *Reconciler) resync(ctx context.Context, cause error) error {
	r.log.WarnContext(ctx, "the store is unavailable: serving the last routing table, refusing changes until it is back",
		"revision", r.AppliedRevision(), "err", cause)
	if r.opts.OnSync != nil {
		r.opts.OnSync(false)
	}
	t := time.NewTimer(r.opts.RetryDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_, _, err := r.Load(ctx)
		switch {
		case err == nil:
			r.log.InfoContext(ctx, "the store is back: routing table listed again", "revision", r.AppliedRevision())
			if r.opts.OnSync != nil {
				r.opts.OnSync(true)
			}
			return nil
		case ctx.Err() != nil:
			return nil
		}
		// Whatever the failure, the table keeps serving: try again.
		r.log.DebugContext(ctx, "listing the store failed; trying again", "err", err)
		t.Reset(r.opts.RetryDelay)
	}
}

// follow watches from the applied revision and applies batches until the
// watch ends; its error says why (ErrCompacted: list again).
func (r *Reconciler) follow(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the watch when follow returns early
	ch, err := r.src.Watch(wctx, r.AppliedRevision())
	if err != nil {
		return fmt.Errorf("watching the store: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case req := <-r.refresh:
			req.reply <- r.refreshOne(ctx, req.name)
		case b, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return errors.New("watching the store: the watch ended")
			}
			p := newPending()
			werr := p.add(b)
			// Coalesce: whatever is already queued joins this swap.
			for n := 1; werr == nil && n < r.opts.MaxCoalesce; n++ {
				select {
				case b, ok = <-ch:
				default:
					ok = false
				}
				if !ok {
					break
				}
				werr = p.add(b)
			}
			if p.revision > 0 {
				if err := r.apply(ctx, p); err != nil {
					return err
				}
			}
			if werr != nil {
				return werr
			}
		}
	}
}

// pending is the union of one or more batches: the last word per key.
type pending struct {
	revision    int64
	secretsRev  int64           // revision of the last alias or truststore change
	topologies  map[string]bool // name → deleted
	aliases     map[aliasRef]bool
	truststores map[string]bool
	others      []store.Change // the other kinds, in order (ObjectSink)
	batches     int
}

func newPending() *pending {
	return &pending{topologies: map[string]bool{}, aliases: map[aliasRef]bool{}, truststores: map[string]bool{}}
}

// add merges a batch; its Err, if any, is returned (the watch then ends).
func (p *pending) add(b store.ChangeBatch) error {
	if b.Err != nil {
		return b.Err
	}
	p.batches++
	p.revision = max(p.revision, b.Revision)
	for _, c := range b.Changes {
		switch c.Kind {
		case store.KindTopology:
			p.topologies[c.Key] = c.Delete
		case store.KindAlias:
			if ref, ok := parseAliasKey(c.Key); ok {
				p.aliases[ref] = true
			}
			p.secretsRev = b.Revision
		case store.KindTruststore:
			p.truststores[c.Key] = true
			p.secretsRev = b.Revision
		default:
			p.others = append(p.others, c)
		}
	}
	return nil
}

// apply compiles what p touches, publishes it with one swap and records
// p's revision.
func (r *Reconciler) apply(ctx context.Context, p *pending) error {
	start := time.Now()
	r.secretsRev = max(r.secretsRev, p.secretsRev)
	names := map[string]bool{} // topologies to compile again from the store
	var remove []string
	for name, deleted := range p.topologies {
		if !deleted {
			names[name] = true
		}
	}
	for ref := range p.aliases {
		for _, name := range r.idx.aliasUsers(ref) {
			names[name] = true
		}
	}
	for ts := range p.truststores {
		for _, name := range r.idx.usersOf(ref{kind: store.KindTruststore, name: ts}) {
			names[name] = true
		}
	}
	for name, deleted := range p.topologies {
		if deleted && !names[name] { // else compileNames finds it gone
			if o, ok := r.takeOffer(name); ok {
				o.route.Discard()
			}
			r.idx.remove(name)
			r.setFailure(name, nil)
			remove = append(remove, name)
		}
	}
	apply, withdraw, err := r.compileNames(ctx, sorted(names))
	if err != nil {
		return err
	}
	remove = append(remove, withdraw...)
	if r.opts.Objects != nil && len(p.others) > 0 {
		if err := r.opts.Objects.Apply(ctx, p.others); err != nil {
			return fmt.Errorf("applying object changes at revision %d: %w", p.revision, err)
		}
	}
	var gen int64
	if len(apply)+len(remove) > 0 {
		gen = r.router.Update(apply, remove)
	}
	if r.opts.OnTruststore != nil {
		for _, name := range sorted(p.truststores) {
			r.opts.OnTruststore(ctx, name)
		}
	}
	r.advance(p.revision) // last: a waiter wakes to a change that is whole
	if len(apply)+len(remove) > 0 {
		r.log.InfoContext(ctx, "store changes applied", "revision", p.revision, "batches", p.batches,
			"compiled", len(apply), "withdrawn", len(remove), "generation", gen, "took", time.Since(start))
	}
	return nil
}

// compileNames compiles the current stored version of each name. It
// returns what to publish and what to withdraw: deleted topologies, and
// those that no longer compile (fail closed: the live route may hold a
// secret that was just replaced or removed).
func (r *Reconciler) compileNames(ctx context.Context, names []string) (apply []*proxy.Compiled, withdraw []string, err error) {
	for _, name := range names {
		o, offered := r.takeOffer(name)
		rec, err := r.src.GetTopology(ctx, name)
		if offered {
			if err == nil && r.usable(o, rec.Spec) {
				r.idx.set(o.topo)
				r.setFailure(name, nil)
				apply = append(apply, o.route)
				continue
			}
			o.route.Discard()
		}
		if errors.Is(err, store.ErrNotFound) {
			r.idx.remove(name)
			r.setFailure(name, nil)
			withdraw = append(withdraw, name)
			continue
		}
		if err != nil {
			for _, c := range apply {
				c.Discard()
			}
			return nil, nil, fmt.Errorf("reading topology %q: %w", name, err)
		}
		c, err := r.compile(ctx, rec)
		if err != nil {
			withdraw = append(withdraw, name)
			continue
		}
		apply = append(apply, c)
	}
	return apply, withdraw, nil
}

// compile decodes, indexes and compiles one stored topology, recording
// whether it is served.
func (r *Reconciler) compile(ctx context.Context, rec store.Topology) (*proxy.Compiled, error) {
	t, err := topology.FromCanonicalJSON(rec.Spec)
	if err != nil {
		r.idx.remove(rec.Name)
		err = fmt.Errorf("decoding stored topology %q: %w", rec.Name, err)
	} else {
		r.idx.set(t)
		var c *proxy.Compiled
		if c, err = r.router.Compile(ctx, t); err == nil {
			r.setFailure(rec.Name, nil)
			return c, nil
		}
	}
	r.log.ErrorContext(ctx, "stored topology does not compile; it is not served until it does",
		"topology", rec.Name, "revision", rec.Revision, "err", err)
	r.setFailure(rec.Name, err)
	return nil, err
}

// Refresh compiles the stored version of a topology again, with the
// current aliases and truststores, and publishes it (or withdraws it and
// returns why it does not compile). It runs in the reconciler's goroutine,
// in order with the store's changes.
func (r *Reconciler) Refresh(ctx context.Context, name string) error {
	req := refreshRequest{name: name, reply: make(chan error, 1)}
	select {
	case r.refresh <- req:
	case <-ctx.Done():
		return fmt.Errorf("refreshing topology %q: %w", name, ctx.Err())
	case <-r.stopped:
		return ErrStopped
	}
	select {
	case err := <-req.reply:
		return err
	case <-r.stopped:
		return ErrStopped
	case <-ctx.Done():
		return fmt.Errorf("refreshing topology %q: %w", name, ctx.Err())
	}
}

func (r *Reconciler) refreshOne(ctx context.Context, name string) error {
	apply, withdraw, err := r.compileNames(ctx, []string{name})
	if err != nil {
		return err
	}
	r.router.Update(apply, withdraw)
	return r.Failure(name)
}

// AppliedRevision is the store revision whose changes are all live.
func (r *Reconciler) AppliedRevision() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

// WaitFor returns once the applied revision reaches rev, or with ctx's
// error, or ErrStopped when the reconciler stops first.
func (r *Reconciler) WaitFor(ctx context.Context, rev int64) error {
	for {
		r.mu.Lock()
		applied, ch := r.applied, r.advanced
		r.mu.Unlock()
		if applied >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-r.stopped:
			if r.AppliedRevision() >= rev {
				return nil
			}
			return ErrStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Failure says why a stored topology is not served: nil when it is served
// (or not stored).
func (r *Reconciler) Failure(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed[name].err
}

// Withdrawn returns, joined, why each stored topology that uses the given
// alias or truststore is not served; nil when all are. kind is
// store.KindAlias or store.KindTruststore; scope is the alias's topology
// ("" for the gateway scope and for truststores).
func (r *Reconciler) Withdrawn(kind, scope, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, topo := range sorted(r.failed) {
		f := r.failed[topo]
		if scope != "" && topo != scope {
			continue
		}
		for _, u := range f.refs {
			if u == (ref{kind: kind, name: name}) {
				errs = append(errs, fmt.Errorf("topology %q is no longer served: %w", topo, f.err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// setFailure records why a topology is not served (err nil: it is).
func (r *Reconciler) setFailure(name string, err error) {
	var refs []ref
	if err != nil {
		refs = r.idx.refs[name]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.failed, name)
	} else {
		r.failed[name] = failure{err: err, refs: refs}
	}
}

// advance records rev as applied and wakes the waiters.
func (r *Reconciler) advance(rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev <= r.applied {
		return
	}
	r.applied = rev
	close(r.advanced)
	r.advanced = make(chan struct{})
}

func sorted[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
