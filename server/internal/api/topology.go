package api

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/topologypb"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/server/internal/apierr"
	"github.com/securegw/gateway/server/internal/reconcile"
	"github.com/securegw/gateway/store"
)

// Compiler compiles a topology without side effects: the topology service
// compiles to check a document, then discards the result. The reconciler
// compiles what it publishes.
type Compiler interface {
	Compile(ctx context.Context, t *topology.Topology) (*proxy.Compiled, error)
}

// Reconciler is what the topology service needs of the reconciler that
// applies the store's changes to this gateway's routing table.
type Reconciler interface {
	// WaitFor returns once the changes up to revision rev are live.
	WaitFor(ctx context.Context, rev int64) error
	// Failure says why a stored topology is not served (nil: it is).
	Failure(name string) error
	// Refresh compiles a stored topology again with the current aliases
	// and truststores and publishes it.
	Refresh(ctx context.Context, name string) error
	// Offer hands over the route compiled from spec with the secrets of
	// store revision at, stored by the commit of revision rev; the
	// reconciler publishes it for rev instead of compiling spec again,
	// or discards it.
	Offer(t *topology.Topology, spec []byte, route *proxy.Compiled, at, rev int64)
}

// AliasChecker reports which of a topology's alias references do not
// exist in what r reads (the store, or the state a write commits on).
type AliasChecker interface {
	MissingAliases(ctx context.Context, r store.Reader, topology string, names []string) ([]string, error)
}

// DefaultLiveTimeout bounds how long a mutation waits for its change to be
// live on this gateway once it is stored.
const DefaultLiveTimeout = 10 * time.Second

// TopologyService implements gatewayv1.TopologyServiceServer. Its
// mutations validate, compile-check and commit; the reconciler makes them
// live, and the mutation returns once it has (see Reconciler.WaitFor).
type TopologyService struct {
	gatewayv1.UnimplementedTopologyServiceServer

	store    store.Store
	compiler Compiler
	rec      Reconciler
	aliases  AliasChecker // nil: no alias check
	log      *slog.Logger
	// LiveTimeout bounds the wait for a stored change to be live; zero
	// means DefaultLiveTimeout. Set it before serving.
	LiveTimeout time.Duration

	// mu is held around a deploy's alias check and commit, and around an
	// alias' "in use?" check and deletion (Guard): no deploy can start
	// using an alias between the check and its deletion.
	mu sync.Mutex
}

// NewTopologyService returns the service over a store, a compiler for
// checks and the reconciler that makes commits live.
func NewTopologyService(s store.Store, c Compiler, rec Reconciler, aliases AliasChecker, log *slog.Logger) *TopologyService {
	return &TopologyService{store: s, compiler: c, rec: rec, aliases: aliases, log: log}
}

// checked is a parsed, validated and compile-checked topology.
type checked struct {
	topo     *topology.Topology
	spec     []byte
	warnings []string
	// route is the compiled document, with the aliases and truststores
	// of store revision at; the caller offers it to the reconciler or
	// discards it.
	route *proxy.Compiled
	at    int64
}

// check validates t, checks its aliases and compiles it, storing nothing.
// Every problem of the document is reported in one error.
func (s *TopologyService) check(ctx context.Context, t *topology.Topology) (*checked, error) {
	warnings, verr := topology.Validate(t)
	missing, err := s.missingAliases(ctx, s.store, t)
	if err != nil {
		return nil, err
	}
	var merr error
	if len(missing) > 0 {
		merr = fmt.Errorf("topology %q references missing aliases: %v (create them with gatewayctl alias create NAME --topology %s)", t.Name, missing, t.Name)
	}
	if err := errors.Join(verr, merr); err != nil {
		return nil, invalid(err)
	}
	spec, err := t.CanonicalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding topology %q: %w", t.Name, err)
	}
	at, err := s.store.Revision(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the store revision: %w", err)
	}
	route, err := s.compiler.Compile(ctx, t)
	if err != nil {
		return nil, invalid(err) // the proxy's error names the topology
	}
	warnings = append(warnings, route.Warnings()...)
	return &checked{topo: t, spec: spec, warnings: warnings, route: route, at: at}, nil
}

// missingAliases returns the aliases t references that r does not hold.
func (s *TopologyService) missingAliases(ctx context.Context, r store.Reader, t *topology.Topology) ([]string, error) {
	refs := topology.AliasRefs(t)
	if len(refs) == 0 || s.aliases == nil {
		return nil, nil
	}
	missing, err := s.aliases.MissingAliases(ctx, r, t.Name, refs)
	if err != nil {
		return nil, fmt.Errorf("checking aliases of topology %q: %w", t.Name, err)
	}
	return missing, nil
}

// Validate checks a document and stores nothing.
func (s *TopologyService) Validate(ctx context.Context, req *gatewayv1.ValidateRequest) (*gatewayv1.ValidateResponse, error) {
	t, err := parse(ctx, req.GetDocument(), req.GetFormat(), req.GetSourceName(), req.GetName())
	if err != nil {
		return nil, err
	}
	c, err := s.check(ctx, t)
	if err != nil {
		return nil, err
	}
	c.route.Discard()
	return &gatewayv1.ValidateResponse{Topology: topologypb.ToProto(c.topo), Warnings: c.warnings}, nil
}

func parse(ctx context.Context, doc []byte, format gatewayv1.Format, sourceName, name string) (*topology.Topology, error) {
	t, err := topology.Parse(doc, topologypb.Format(format), sourceName, name)
	if err != nil {
		return nil, invalid(err)
	}
	noteTarget(ctx, "topology/"+t.Name)
	return t, nil
}

// Deploy checks and stores a topology; it returns once the change is
// stored and live on this gateway.
func (s *TopologyService) Deploy(ctx context.Context, req *gatewayv1.DeployRequest) (*gatewayv1.DeployResponse, error) {
	t, err := parse(ctx, req.GetDocument(), req.GetFormat(), req.GetSourceName(), req.GetName())
	if err != nil {
		return nil, err
	}
	res, err := s.commit(ctx, t, expectOf(req.ExpectRevision), req.GetDryRun(), "deploy")
	if err != nil {
		return nil, err
	}
	return &gatewayv1.DeployResponse{
		Topology: res.info,
		Changes:  topologypb.ChangesToProto(res.changes),
		DryRun:   req.GetDryRun(),
		Changed:  res.changed,
		Warnings: res.warnings,
	}, nil
}

func expectOf(p *int64) int64 {
	if p == nil {
		return store.NoRevisionCheck
	}
	return *p
}

// committed is what a deploy or rollback did.
type committed struct {
	info     *gatewayv1.TopologyInfo
	changes  []topology.Change
	changed  bool
	warnings []string
}

// commit checks t and stores it (with dryRun only computes the diff), then
// waits until it is live. An unchanged document is not stored again but
// compiled again by the reconciler, so that redeploying a document is how
// an operator makes sure it runs with the current aliases and truststores.
func (s *TopologyService) commit(ctx context.Context, t *topology.Topology, expect int64, dryRun bool, action string) (*committed, error) {
	res, rev, err := s.write(ctx, t, expect, dryRun, action)
	if err != nil || dryRun {
		return res, err
	}
	name := t.Name
	if !res.changed {
		if err := s.refresh(ctx, name, res.info.Revision); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := s.waitLive(ctx, name, rev, "stored"); err != nil {
		return nil, err
	}
	if err := s.rec.Failure(name); err != nil {
		return nil, apierr.Errorf(apierr.FailedPrecondition, "topology %q is stored at revision %d but not served by this gateway: %w", name, rev, err)
	}
	s.log.InfoContext(ctx, "topology deployed", "topology", name, "revision", rev,
		"action", action, "by", res.info.UpdatedBy, "services", len(t.Services))
	for _, w := range res.warnings {
		// The operator's log keeps what the deployer was told: a service
		// forwarding credentials or skipping certificate checks.
		s.log.WarnContext(ctx, "deployed topology has a risky setting", "topology", name, "revision", rev, "warning", w)
	}
	return res, nil
}

// write is commit up to the store write. It returns the revision of the
// write (0 when nothing was written). The document is checked and compiled
// before mu, so deploys compile in parallel. Its aliases are checked again
// in the store's write transaction (PutTopologyIf), as an alias deletion
// checks its users in its own (Unused): whichever gateway each runs on, no
// topology is stored using an alias that a deletion removes.
func (s *TopologyService) write(ctx context.Context, t *topology.Topology, expect int64, dryRun bool, action string) (*committed, int64, error) {
	c, err := s.check(ctx, t)
	if err != nil {
		return nil, 0, err
	}
	offered := false
	defer func() {
		if !offered {
			c.route.Discard()
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	name := t.Name
	cur, err := s.store.GetTopology(ctx, name)
	var old *topology.Topology
	switch {
	case errors.Is(err, store.ErrNotFound):
		cur = store.Topology{}
	case err != nil:
		return nil, 0, err
	default:
		if old, err = topology.FromCanonicalJSON(cur.Spec); err != nil {
			return nil, 0, fmt.Errorf("decoding stored topology %q: %w", name, err)
		}
	}
	if err := checkExpect(name, cur.Revision, expect); err != nil {
		return nil, 0, err
	}
	res := &committed{changes: topology.Diff(old, t), warnings: c.warnings}
	res.changed = old == nil || !bytes.Equal(cur.Spec, c.spec)
	if dryRun || !res.changed {
		res.info = infoOf(cur, t)
		if old == nil {
			res.info.Revision = 0
		}
		return res, 0, nil
	}
	aliasesExist := func(ctx context.Context, r store.Reader) error {
		missing, err := s.missingAliases(ctx, r, t)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return invalid(fmt.Errorf("topology %q references missing aliases: %v (deleted while it was checked; create them with gatewayctl alias create NAME --topology %s)", name, missing, name))
		}
		return nil
	}
	rec, err := s.store.PutTopologyIf(ctx, store.Topology{
		Name:      name,
		Spec:      c.spec,
		UpdatedBy: callerName(ctx),
		Action:    action,
	}, expect, aliasesExist)
	if err != nil {
		return nil, 0, err
	}
	// The route just compiled is what the reconciler would compile for
	// this revision: hand it over instead of compiling twice.
	s.rec.Offer(c.topo, c.spec, c.route, c.at, rec.Revision)
	offered = true
	res.info = infoOf(rec, t)
	return res, rec.Revision, nil
}

// waitLive waits, bounded, until this gateway applied revision rev. what
// says what happened to the change ("stored", "deleted").
func (s *TopologyService) waitLive(ctx context.Context, name string, rev int64, what string) error {
	wctx, cancel := context.WithTimeout(ctx, cmp.Or(s.LiveTimeout, DefaultLiveTimeout))
	defer cancel()
	err := s.rec.WaitFor(wctx, rev)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("topology %q is %s at revision %d; waiting for it to be live: %w", name, what, rev, ctx.Err())
	default:
		s.log.WarnContext(ctx, "a stored change is not live in time", "topology", name, "revision", rev, "err", err)
		return apierr.Errorf(apierr.Unavailable, "topology %q is %s at revision %d, but this gateway has not applied it yet (%v); it will be once the gateway catches up: check with gatewayctl status", name, what, rev, err)
	}
}

// refresh asks the reconciler to compile an unchanged stored topology
// again and publish it, bounded like waitLive.
func (s *TopologyService) refresh(ctx context.Context, name string, rev int64) error {
	wctx, cancel := context.WithTimeout(ctx, cmp.Or(s.LiveTimeout, DefaultLiveTimeout))
	defer cancel()
	err := s.rec.Refresh(wctx, name)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("topology %q is unchanged at revision %d; compiling it again: %w", name, rev, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, reconcile.ErrStopped):
		return apierr.Errorf(apierr.Unavailable, "topology %q is unchanged at revision %d, but this gateway did not compile it again (%v)", name, rev, err)
	default:
		return apierr.Errorf(apierr.FailedPrecondition, "topology %q is unchanged at revision %d but not served by this gateway: %w", name, rev, err)
	}
}

// Unused returns the check of a guarded deletion (store.DeleteObjectIf)
// of what no stored topology may use: it fails with FailedPrecondition,
// naming the users, in the deletion's own transaction, so that no deploy
// through any gateway can start using it between the check and the
// deletion. name is the name of what is deleted: only stored documents
// that contain it are decoded and asked uses.
func Unused(name string, uses func(*topology.Topology) bool) store.Check {
	return func(ctx context.Context, r store.Reader) error {
		users, err := users(ctx, r, name, uses)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return apierr.Errorf(apierr.FailedPrecondition, "in use by topologies %v: deploy them without it first", users)
		}
		return nil
	}
}

// users returns the names of the stored topologies for which uses is true,
// deciding without decoding for those whose document does not hold name.
func users(ctx context.Context, r store.Reader, name string, uses func(*topology.Topology) bool) ([]string, error) {
	recs, _, err := r.ListTopologies(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topologies: %w", err)
	}
	var names []string
	for _, rec := range recs {
		if !bytes.Contains(rec.Spec, []byte(name)) {
			continue
		}
		t, err := topology.FromCanonicalJSON(rec.Spec)
		if err != nil {
			return nil, fmt.Errorf("decoding topology %q: %w", rec.Name, err)
		}
		if uses(t) {
			names = append(names, t.Name)
		}
	}
	return names, nil
}

// checkExpect applies the compare-and-set rule before any work, so that a
// stale caller learns it even on a dry run. The store checks again in the
// write transaction.
func checkExpect(name string, current, expect int64) error {
	switch {
	case expect == store.NoRevisionCheck:
		return nil
	case expect == 0 && current != 0:
		return casError(fmt.Sprintf("topology %q exists at revision %d, expected it not to exist", name, current))
	case expect != 0 && current != expect:
		if current == 0 {
			return casError(fmt.Sprintf("topology %q does not exist, expected revision %d", name, expect))
		}
		return casError(fmt.Sprintf("topology %q is at revision %d, expected %d", name, current, expect))
	}
	return nil
}

// casError is a failed compare-and-set: store.ErrRevisionMismatch, with a
// message that says only what differs.
type casError string

func (e casError) Error() string        { return string(e) }
func (e casError) Is(target error) bool { return target == store.ErrRevisionMismatch }

func callerName(ctx context.Context) string {
	if c, ok := CallerFrom(ctx); ok {
		return c.Principal
	}
	return ""
}

func infoOf(r store.Topology, t *topology.Topology) *gatewayv1.TopologyInfo {
	info := &gatewayv1.TopologyInfo{
		Topology:       topologypb.ToProto(t),
		Revision:       r.Revision,
		CreateRevision: r.CreateRevision,
		UpdatedBy:      r.UpdatedBy,
		ServiceCount:   int32(len(t.Services)),
	}
	if !r.UpdatedAt.IsZero() {
		info.UpdatedAt = timestamppb.New(r.UpdatedAt)
	}
	return info
}

func (s *TopologyService) load(ctx context.Context, name string, revision int64) (store.Topology, *topology.Topology, error) {
	if err := checkName(name); err != nil {
		return store.Topology{}, nil, err
	}
	var (
		rec store.Topology
		err error
	)
	if revision == 0 {
		rec, err = s.store.GetTopology(ctx, name)
	} else {
		rec, err = s.store.GetTopologyRevision(ctx, name, revision)
	}
	if errors.Is(err, store.ErrNotFound) {
		if revision != 0 {
			return rec, nil, fmt.Errorf("topology %q has no revision %d in its history: %w", name, revision, store.ErrNotFound)
		}
		return rec, nil, fmt.Errorf("topology %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return rec, nil, fmt.Errorf("reading topology %q: %w", name, err)
	}
	if len(rec.Spec) == 0 { // a deletion in history
		return rec, nil, invalid(fmt.Errorf("revision %d of topology %q is its deletion, not a version to use", revision, name))
	}
	t, err := topology.FromCanonicalJSON(rec.Spec)
	if err != nil {
		return rec, nil, fmt.Errorf("decoding topology %q at revision %d: %w", name, rec.Revision, err)
	}
	return rec, t, nil
}

func checkName(name string) error {
	if name == "" {
		return invalid(errors.New("a topology name is required"))
	}
	return nil
}

// Get returns a topology, current or at a revision of its history.
func (s *TopologyService) Get(ctx context.Context, req *gatewayv1.GetRequest) (*gatewayv1.GetResponse, error) {
	rec, t, err := s.load(ctx, req.GetName(), req.GetRevision())
	if err != nil {
		return nil, err
	}
	return &gatewayv1.GetResponse{Topology: infoOf(rec, t)}, nil
}

// List returns every topology.
func (s *TopologyService) List(ctx context.Context, _ *gatewayv1.ListRequest) (*gatewayv1.ListResponse, error) {
	recs, rev, err := s.store.ListTopologies(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topologies: %w", err)
	}
	resp := &gatewayv1.ListResponse{Revision: rev, Topologies: make([]*gatewayv1.TopologyInfo, 0, len(recs))}
	for _, r := range recs {
		t, err := topology.FromCanonicalJSON(r.Spec)
		if err != nil {
			return nil, fmt.Errorf("decoding topology %q: %w", r.Name, err)
		}
		resp.Topologies = append(resp.Topologies, infoOf(r, t))
	}
	return resp, nil
}

// Delete removes a topology from the store; it returns once the removal
// is live on this gateway.
func (s *TopologyService) Delete(ctx context.Context, req *gatewayv1.DeleteRequest) (*gatewayv1.DeleteResponse, error) {
	name := req.GetName()
	if err := checkName(name); err != nil {
		return nil, err
	}
	rev, err := s.store.DeleteTopology(ctx, name, callerName(ctx), expectOf(req.ExpectRevision))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("topology %q: %w", name, store.ErrNotFound)
	case err != nil:
		return nil, err // the store's error names the topology
	}
	if err := s.waitLive(ctx, name, rev, "deleted"); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "topology removed", "topology", name, "revision", rev, "by", callerName(ctx))
	return &gatewayv1.DeleteResponse{Revision: rev}, nil
}

// History lists a topology's stored versions, newest first.
func (s *TopologyService) History(ctx context.Context, req *gatewayv1.HistoryRequest) (*gatewayv1.HistoryResponse, error) {
	if err := checkName(req.GetName()); err != nil {
		return nil, err
	}
	recs, err := s.store.TopologyHistory(ctx, req.GetName())
	if err != nil {
		return nil, fmt.Errorf("reading history of topology %q: %w", req.GetName(), err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("topology %q has no history: %w", req.GetName(), store.ErrNotFound)
	}
	resp := &gatewayv1.HistoryResponse{}
	for _, r := range recs {
		e := &gatewayv1.HistoryEntry{Revision: r.Revision, UpdatedBy: r.UpdatedBy, Action: r.Action}
		if !r.UpdatedAt.IsZero() {
			e.UpdatedAt = timestamppb.New(r.UpdatedAt)
		}
		if len(r.Spec) > 0 {
			if t, err := topology.FromCanonicalJSON(r.Spec); err == nil {
				e.ServiceCount = int32(len(t.Services))
			}
		}
		resp.Entries = append(resp.Entries, e)
	}
	return resp, nil
}

// Rollback redeploys the document of an earlier revision as a new
// revision; a rollback to what is already current changes nothing and says
// so.
func (s *TopologyService) Rollback(ctx context.Context, req *gatewayv1.RollbackRequest) (*gatewayv1.RollbackResponse, error) {
	if req.GetRevision() <= 0 {
		return nil, invalid(errors.New("rollback needs --revision, a revision from the topology's history"))
	}
	_, t, err := s.load(ctx, req.GetName(), req.GetRevision())
	if err != nil {
		return nil, err
	}
	res, err := s.commit(ctx, t, expectOf(req.ExpectRevision), req.GetDryRun(), "rollback")
	if err != nil {
		return nil, err
	}
	return &gatewayv1.RollbackResponse{
		Topology: res.info,
		Changes:  topologypb.ChangesToProto(res.changes),
		DryRun:   req.GetDryRun(),
		Changed:  res.changed,
	}, nil
}
