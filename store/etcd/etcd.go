package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/namespace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/securegw/gateway/store"
)

// Defaults applied by Open and New to zero Options fields.
const (
	DefaultPrefix         = "/gatewayd/"
	DefaultHistoryLimit   = 50
	DefaultAuditLimit     = 100000
	DefaultWatchRetention = 100000
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	// MaxTxnOps and MaxTxnBytes bound every transaction the store sends,
	// below etcd's defaults (--max-txn-ops 128, --max-request-bytes 1.5 MiB).
	MaxTxnOps   = 100
	MaxTxnBytes = 1 << 20
)

// Options configure a Store. The zero value of every field but Endpoints
// (Open only) is valid.
type Options struct {
	// Endpoints are the etcd client URLs or host:port pairs (Open only).
	Endpoints []string
	// Prefix is prepended to every key the store writes; several gateway
	// clusters can share one etcd under different prefixes. Empty means
	// DefaultPrefix.
	Prefix string
	// TLS, when set, is the client TLS configuration (Open only).
	TLS *tls.Config
	// Username and Password authenticate to etcd when Username is set (Open only).
	Username, Password string
	// DialTimeout bounds the first connection (Open only).
	DialTimeout time.Duration
	// RequestTimeout bounds each call; a call that gets no answer in time
	// (no quorum, no connection) fails with ErrUnavailable. Zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// HistoryLimit, AuditLimit and WatchRetention mean what they mean for
	// the bbolt store: versions kept per topology, audit records kept,
	// revisions of change log kept for Watch.
	HistoryLimit   int
	AuditLimit     int
	WatchRetention int
	// Logger receives open-time events. Nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.HistoryLimit < 0 || o.AuditLimit < 0 || o.WatchRetention < 0 || o.DialTimeout < 0 || o.RequestTimeout < 0 {
		return o, fmt.Errorf("negative option (history limit %d, audit limit %d, watch retention %d, dial timeout %s)",
			o.HistoryLimit, o.AuditLimit, o.WatchRetention, o.DialTimeout)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.HistoryLimit == 0 {
		o.HistoryLimit = DefaultHistoryLimit
	}
	if o.AuditLimit == 0 {
		o.AuditLimit = DefaultAuditLimit
	}
	if o.WatchRetention == 0 {
		o.WatchRetention = DefaultWatchRetention
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Store is a store.Store kept in etcd under one key prefix. It is safe for
// concurrent use, by several processes at once.
type Store struct {
	cli   *clientv3.Client
	owned bool // Close closes cli
	kv    attemptKV
	// steer, for a connection the store opened, moves the client off
	// members that do not answer (nil: one endpoint, or New).
	steer  *steering
	watch  clientv3.Watcher
	opts   Options
	closed atomic.Bool
	done   chan struct{}
	// writer is held by the process's one committing mutation (see mutate).
	writer chan struct{}
	// claims are the leases of the replay-cache keys (Claim).
	claims claimLeases
	now    func() time.Time
	// hook, when set by a test, is called at the named points of a staged
	// rewrite; returning true stops the call there as a crash would.
	hook func(point string) bool
}

var _ store.Store = (*Store)(nil)

// Open connects to etcd and returns a Store on opts.Prefix. The store
// owns the connection: Close closes it.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("opening etcd store: %w", err)
	}
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("opening etcd store: no endpoints")
	}
	conns := newConnSet()
	dialOpts := []grpc.DialOption{
		grpc.WithContextDialer(conns.dial),
		// A member back from a restart is connected to again within
		// seconds, not after gRPC's default backoff of up to 2 minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: opts.DialTimeout,
		}),
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            opts.Endpoints,
		DialTimeout:          opts.DialTimeout,
		DialKeepAliveTime:    time.Second,
		DialKeepAliveTimeout: time.Second,
		TLS:                  opts.TLS,
		Username:             opts.Username,
		Password:             opts.Password,
		Logger:               zap.NewNop(),
		Context:              context.WithoutCancel(ctx),
		DialOptions:          dialOpts,
	})
	if err != nil {
		return nil, fmt.Errorf("opening etcd store at %v: %w", opts.Endpoints, err)
	}
	s, err := newStore(ctx, cli, opts)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	s.owned = true
	s.steer = steer(cli, conns, opts.Prefix, s.attemptTimeout(), opts.Logger)
	return s, nil
}

// New returns a Store on opts.Prefix over an existing client, which the
// caller keeps and closes after the store.
func New(ctx context.Context, cli *clientv3.Client, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("opening etcd store: %w", err)
	}
	return newStore(ctx, cli, opts)
}

func newStore(ctx context.Context, cli *clientv3.Client, opts Options) (*Store, error) {
	s := &Store{
		cli:    cli,
		watch:  namespace.NewWatcher(cli.Watcher, opts.Prefix),
		opts:   opts,
		done:   make(chan struct{}),
		writer: make(chan struct{}, 1),
		now:    func() time.Time { return time.Now().UTC() },
	}
	s.kv = attemptKV{KV: namespace.NewKV(cli.KV, opts.Prefix), s: s}
	rev, err := s.Revision(ctx)
	if errors.Is(err, store.ErrUnavailable) {
		// etcd's client says no more than that: name what to check.
		return nil, fmt.Errorf("opening etcd store at %v (prefix %q): %w (is a member up at those endpoints, "+
			"and do the TLS settings match it: a member serving TLS, or requiring a client certificate, does not answer without)",
			cli.Endpoints(), opts.Prefix, err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening etcd store at %v (prefix %q): %w", cli.Endpoints(), opts.Prefix, err)
	}
	if err := s.cleanStaged(ctx); err != nil {
		return nil, fmt.Errorf("opening etcd store (prefix %q): removing old generations: %w", opts.Prefix, err)
	}
	opts.Logger.Info("store opened", "backend", "etcd", "endpoints", cli.Endpoints(), "prefix", opts.Prefix, "revision", rev)
	return s, nil
}

// Client returns the etcd client (for leases and membership).
func (s *Store) Client() *clientv3.Client { return s.cli }

// Prefix returns the key prefix of the store.
func (s *Store) Prefix() string { return s.opts.Prefix }

// Close ends every watch with store.ErrClosed and, when the store opened
// the connection, closes it. Every later call, Close included, returns
// store.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	close(s.done)
	s.steer.stop()
	if s.owned {
		if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("closing etcd store: %w", err)
		}
	}
	return nil
}

// usable reports why no call may start: the store is closed or ctx is done.
func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// callErr maps errors of the etcd client: a call canceled because the
// store closed is store.ErrClosed, one whose ctx ended is ctx's error, and
// an unreachable cluster is ErrUnavailable.
func (s *Store) callErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	if context.Cause(ctx) == errRequestTimeout {
		return fmt.Errorf("%w: no answer within the request timeout", ErrUnavailable)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrLeaderChanged) ||
		errors.Is(err, rpctypes.ErrTimeout) || errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost) ||
		errors.Is(err, rpctypes.ErrStopped) || errors.Is(err, rpctypes.ErrTooManyRequests) ||
		errors.Is(err, clientv3.ErrNoAvailableEndpoints) || isUnavailable(err) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// errRequestTimeout is the cause of a call's context that ran out of
// Options.RequestTimeout.
var errRequestTimeout = errors.New("etcd request timeout")

// callCtx bounds one call by Options.RequestTimeout, so that a call to a
// cluster without quorum fails with ErrUnavailable instead of waiting.
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.opts.RequestTimeout, errRequestTimeout)
}

// ErrUnavailable is store.ErrUnavailable: etcd could not be reached (no
// quorum, no connection).
var ErrUnavailable = store.ErrUnavailable

// Revision returns the store-wide revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	resp, err := s.kv.Get(ctx, keyRevision)
	if err != nil {
		return 0, fmt.Errorf("reading revision: %w", s.callErr(ctx, err))
	}
	rev, _, err := parseRevision(resp.Kvs)
	if err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	return rev, nil
}

// parseRevision decodes the revision key's value and mod revision (0, 0
// for a new store).
func parseRevision(kvs []*mvccpb.KeyValue) (rev, mod int64, err error) {
	if len(kvs) == 0 {
		return 0, 0, nil
	}
	rev, err = strconv.ParseInt(string(kvs[0].Value), 10, 64)
	if err != nil || rev < 1 {
		return 0, 0, fmt.Errorf("corrupt store revision %q", kvs[0].Value)
	}
	return rev, kvs[0].ModRevision, nil
}
