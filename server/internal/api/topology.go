package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"log/slog"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/internal/topologypb"
	gatewayv1 "github.com/securegw/gateway/proto/gateway/v1"
	"github.com/securegw/gateway/proxy"
	"github.com/securegw/gateway/store"
)

// Router is what the topology service needs of the data plane: compile a
// topology without side effects, then publish or withdraw it with one swap.
type Router interface {
	Compile(ctx context.Context, t *topology.Topology) (*proxy.Compiled, error)
	Apply(c *proxy.Compiled) int64
	Remove(name string) int64
	Generation() int64
}

// AliasChecker reports which of a topology's alias references do not exist.
type AliasChecker interface {
	MissingAliases(ctx context.Context, topology string, names []string) ([]string, error)
}

// TopologyService implements gatewayv1.TopologyServiceServer.
type TopologyService struct {
	gatewayv1.UnimplementedTopologyServiceServer

	store   store.Store
	router  Router
	aliases AliasChecker // nil: no alias check
	log     *slog.Logger

	// mu serialises mutations so that the store's order of commits and the
	// order of swaps in the routing table are the same.
	mu sync.Mutex
	// secrets counts alias and truststore changes. A route compiled before
	// a change may hold the old value: publish compiles it again.
	secrets atomic.Int64
}

// NewTopologyService returns the service over a store and a router.
func NewTopologyService(s store.Store, r Router, aliases AliasChecker, log *slog.Logger) *TopologyService {
	return &TopologyService{store: s, router: r, aliases: aliases, log: log}
}

// compiled is a parsed, validated and compiled topology.
type compiled struct {
	topo     *topology.Topology
	spec     []byte
	route    *proxy.Compiled
	warnings []string
	secrets  int64 // TopologyService.secrets when compilation began
}

// compile parses, validates and compiles a document: everything but storing.
// The caller must discard c.route unless it publishes it.
func (s *TopologyService) compile(ctx context.Context, doc []byte, format gatewayv1.Format, sourceName, name string) (*compiled, error) {
	t, err := topology.Parse(doc, topologypb.Format(format), sourceName, name)
	if err != nil {
		return nil, invalid(err)
	}
	noteTarget(ctx, "topology/"+t.Name)
	return s.compileTopology(ctx, t)
}

func (s *TopologyService) compileTopology(ctx context.Context, t *topology.Topology) (*compiled, error) {
	epoch := s.secrets.Load()
	warnings, err := topology.Validate(t)
	if err != nil {
		return nil, invalid(err)
	}
	if err := s.checkAliases(ctx, t); err != nil {
		return nil, err
	}
	spec, err := t.CanonicalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding topology %q: %w", t.Name, err)
	}
	route, err := s.router.Compile(ctx, t)
	if err != nil {
		return nil, invalid(err) // the proxy's error names the topology
	}
	warnings = append(warnings, route.Warnings()...)
	return &compiled{topo: t, spec: spec, route: route, warnings: warnings, secrets: epoch}, nil
}

// Validate compiles a document and stores nothing.
func (s *TopologyService) Validate(ctx context.Context, req *gatewayv1.ValidateRequest) (*gatewayv1.ValidateResponse, error) {
	c, err := s.compile(ctx, req.GetDocument(), req.GetFormat(), req.GetSourceName(), req.GetName())
	if err != nil {
		return nil, err
	}
	c.route.Discard()
	return &gatewayv1.ValidateResponse{Topology: topologypb.ToProto(c.topo), Warnings: c.warnings}, nil
}

// Deploy compiles, stores and publishes a topology; it returns once the
// change is committed and live.
func (s *TopologyService) Deploy(ctx context.Context, req *gatewayv1.DeployRequest) (*gatewayv1.DeployResponse, error) {
	c, err := s.compile(ctx, req.GetDocument(), req.GetFormat(), req.GetSourceName(), req.GetName())
	if err != nil {
		return nil, err
	}
	expect := store.NoRevisionCheck
	if req.ExpectRevision != nil {
		expect = req.GetExpectRevision()
	}
	info, changes, changed, err := s.publish(ctx, c, expect, req.GetDryRun(), "deploy")
	if err != nil {
		return nil, err
	}
	return &gatewayv1.DeployResponse{
		Topology: info,
		Changes:  topologypb.ChangesToProto(changes),
		DryRun:   req.GetDryRun(),
		Changed:  changed,
		Warnings: c.warnings,
	}, nil
}

// publish stores c and swaps it in, or with dryRun only computes the diff.
// It takes ownership of c.route.
func (s *TopologyService) publish(ctx context.Context, c *compiled, expect int64, dryRun bool, action string) (*gatewayv1.TopologyInfo, []topology.Change, bool, error) {
	published := false
	defer func() {
		if !published {
			c.route.Discard()
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case dryRun:
	case c.secrets != s.secrets.Load():
		// An alias or truststore changed while c compiled: c may hold the
		// old value. Compile again (under mu, so no change can interleave).
		fresh, err := s.compileTopology(ctx, c.topo)
		if err != nil {
			return nil, nil, false, err
		}
		c.route.Discard()
		c.route, c.secrets = fresh.route, fresh.secrets
	default:
		// Again under mu: an alias may have been deleted since the compile
		// (deletions hold mu).
		if err := s.checkAliases(ctx, c.topo); err != nil {
			return nil, nil, false, err
		}
	}

	name := c.topo.Name
	cur, err := s.store.GetTopology(ctx, name)
	var old *topology.Topology
	switch {
	case errors.Is(err, store.ErrNotFound):
		cur = store.Topology{}
	case err != nil:
		return nil, nil, false, fmt.Errorf("reading topology %q: %w", name, err)
	default:
		if old, err = topology.FromCanonicalJSON(cur.Spec); err != nil {
			return nil, nil, false, fmt.Errorf("decoding stored topology %q: %w", name, err)
		}
	}
	if err := checkExpect(name, cur.Revision, expect); err != nil {
		return nil, nil, false, err
	}
	changes := topology.Diff(old, c.topo)
	unchanged := old != nil && bytes.Equal(cur.Spec, c.spec)
	if dryRun {
		info := infoOf(cur, c.topo)
		if old == nil {
			info.Revision = 0
		}
		return info, changes, !unchanged, nil
	}
	if unchanged {
		// Nothing to store, but the document was compiled again with the
		// current aliases and truststores: publish that, so redeploying a
		// document is how an operator makes sure it runs with them.
		_, err := s.apply(c)
		published = true // apply owns the route now, taken or discarded
		if err != nil {
			return nil, nil, false, err
		}
		return infoOf(cur, c.topo), changes, false, nil
	}
	rec, err := s.store.PutTopology(ctx, store.Topology{
		Name:      name,
		Spec:      c.spec,
		UpdatedBy: callerName(ctx),
		Action:    action,
	}, expect)
	if err != nil {
		return nil, nil, false, fmt.Errorf("storing topology %q: %w", name, err)
	}
	gen, err := s.apply(c)
	published = true
	if err != nil {
		return nil, nil, false, fmt.Errorf("topology %q stored at revision %d: %w", name, rec.Revision, err)
	}
	s.log.InfoContext(ctx, "topology published", "topology", name, "revision", rec.Revision,
		"generation", gen, "action", action, "by", rec.UpdatedBy, "services", len(c.topo.Services))
	return infoOf(rec, c.topo), changes, true, nil
}

// checkAliases refuses a topology that references aliases that do not exist.
func (s *TopologyService) checkAliases(ctx context.Context, t *topology.Topology) error {
	refs := topology.AliasRefs(t)
	if len(refs) == 0 || s.aliases == nil {
		return nil
	}
	missing, err := s.aliases.MissingAliases(ctx, t.Name, refs)
	if err != nil {
		return fmt.Errorf("checking aliases of topology %q: %w", t.Name, err)
	}
	if len(missing) > 0 {
		return invalid(fmt.Errorf("topology %q references missing aliases: %v (create them with gatewayctl alias create NAME --topology %s)", t.Name, missing, t.Name))
	}
	return nil
}

// apply publishes c.route and reports a swap that did not happen (the
// proxy is closing): the caller must not say the change is live.
func (s *TopologyService) apply(c *compiled) (int64, error) {
	before := s.router.Generation()
	gen := s.router.Apply(c.route)
	if gen == before {
		c.route.Discard()
		return gen, status.Error(codes.Unavailable, "the routing table did not take the change (the gateway is shutting down); it is stored and will be served after a restart")
	}
	return gen, nil
}

// Reapply compiles again, with the current aliases and truststores, every
// stored topology that uses reports as using a changed secret, and
// publishes it. A topology that no longer compiles is withdrawn from the
// live table (fail closed: its live route holds the replaced secret); the
// errors are returned together.
func (s *TopologyService) Reapply(ctx context.Context, uses func(*topology.Topology) bool) error {
	s.secrets.Add(1) // before mu: a deploy compiled earlier compiles again
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, _, err := s.store.ListTopologies(ctx)
	if err != nil {
		return fmt.Errorf("listing topologies: %w", err)
	}
	var errs []error
	for _, rec := range recs {
		t, err := topology.FromCanonicalJSON(rec.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("decoding topology %q: %w", rec.Name, err))
			continue
		}
		if !uses(t) {
			continue
		}
		route, err := s.router.Compile(ctx, t)
		if err != nil {
			// Fail closed: the live route holds the secret or CA that was
			// just replaced or removed. Stop serving it until it is fixed.
			s.router.Remove(t.Name)
			s.log.ErrorContext(ctx, "topology no longer compiles after a secret changed; it is not served until redeployed",
				"topology", t.Name, "err", err)
			errs = append(errs, fmt.Errorf("topology %q is no longer served: %w", t.Name, err))
			continue
		}
		if _, err := s.apply(&compiled{topo: t, route: route}); err != nil {
			errs = append(errs, err)
			continue
		}
		s.log.InfoContext(ctx, "topology rebuilt after a secret changed", "topology", t.Name, "revision", rec.Revision)
	}
	return errors.Join(errs...)
}

// Guard runs del, unless a stored topology uses what it deletes, holding
// the lock that deploys publish under: no deploy can start using it between
// the check and the deletion.
func (s *TopologyService) Guard(ctx context.Context, uses func(*topology.Topology) bool, del func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	users, err := s.Users(ctx, uses)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return status.Errorf(codes.FailedPrecondition, "in use by topologies %v: deploy them without it first", users)
	}
	return del()
}

// Users returns the names of the stored topologies for which uses is true.
func (s *TopologyService) Users(ctx context.Context, uses func(*topology.Topology) bool) ([]string, error) {
	recs, _, err := s.store.ListTopologies(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topologies: %w", err)
	}
	var names []string
	for _, rec := range recs {
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

// Delete removes a topology from the store and from the routing table.
func (s *TopologyService) Delete(ctx context.Context, req *gatewayv1.DeleteRequest) (*gatewayv1.DeleteResponse, error) {
	if err := checkName(req.GetName()); err != nil {
		return nil, err
	}
	expect := store.NoRevisionCheck
	if req.ExpectRevision != nil {
		expect = req.GetExpectRevision()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rev, err := s.store.DeleteTopology(ctx, req.GetName(), callerName(ctx), expect)
	if err != nil {
		return nil, fmt.Errorf("deleting topology %q: %w", req.GetName(), err)
	}
	gen := s.router.Remove(req.GetName())
	s.log.InfoContext(ctx, "topology removed", "topology", req.GetName(), "revision", rev, "generation", gen, "by", callerName(ctx))
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

// Rollback redeploys the document of an earlier revision as a new revision.
func (s *TopologyService) Rollback(ctx context.Context, req *gatewayv1.RollbackRequest) (*gatewayv1.RollbackResponse, error) {
	if req.GetRevision() <= 0 {
		return nil, invalid(errors.New("rollback needs --revision, a revision from the topology's history"))
	}
	_, t, err := s.load(ctx, req.GetName(), req.GetRevision())
	if err != nil {
		return nil, err
	}
	c, err := s.compileTopology(ctx, t)
	if err != nil {
		return nil, err
	}
	expect := store.NoRevisionCheck
	if req.ExpectRevision != nil {
		expect = req.GetExpectRevision()
	}
	info, changes, _, err := s.publish(ctx, c, expect, req.GetDryRun(), "rollback")
	if err != nil {
		return nil, err
	}
	return &gatewayv1.RollbackResponse{Topology: info, Changes: topologypb.ChangesToProto(changes), DryRun: req.GetDryRun()}, nil
}

// LoadAll compiles every stored topology and returns them for one swap at
// start. A topology that no longer compiles is logged and skipped, so that
// one bad topology does not keep the others down.
func LoadAll(ctx context.Context, s store.Store, r Router, log *slog.Logger) ([]*proxy.Compiled, []string, error) {
	recs, _, err := s.ListTopologies(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("listing topologies: %w", err)
	}
	out := make([]*proxy.Compiled, 0, len(recs))
	var failed []string
	for _, rec := range recs {
		t, err := topology.FromCanonicalJSON(rec.Spec)
		if err == nil {
			var c *proxy.Compiled
			if c, err = r.Compile(ctx, t); err == nil {
				out = append(out, c)
				continue
			}
		}
		failed = append(failed, rec.Name)
		log.ErrorContext(ctx, "stored topology does not compile; not serving it", "topology", rec.Name, "revision", rec.Revision, "err", err)
	}
	return out, failed, nil
}
