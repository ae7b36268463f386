package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/securegw/gateway/store"
)

// Defaults applied by Open to zero Options fields.
const (
	DefaultLockTimeout  = time.Second
	DefaultHistoryLimit = 50
	DefaultAuditLimit   = 100000
	// DefaultWatchRetention is the number of revisions the change log keeps.
	DefaultWatchRetention = 100000
)

// Modes of the files Open creates.
const (
	fileMode os.FileMode = 0o600
	dirMode  os.FileMode = 0o700
)

// Options tune a Store. The zero value is valid.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another
	// process (or another Open). Zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// HistoryLimit is the number of versions kept per topology, a
	// deletion included. Zero means DefaultHistoryLimit.
	HistoryLimit int
	// AuditLimit is the number of audit records kept; the oldest are
	// dropped first. Zero means DefaultAuditLimit.
	AuditLimit int
	// WatchRetention is the number of most recent revisions whose changes
	// are kept for Watch; a watch from an older revision, or one that falls
	// that far behind, gets store.ErrCompacted. Zero means
	// DefaultWatchRetention.
	WatchRetention int
	// Logger receives open-time events (migrations, permission fixes).
	// Nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.LockTimeout < 0 || o.HistoryLimit < 0 || o.AuditLimit < 0 || o.WatchRetention < 0 {
		return o, fmt.Errorf("negative option (lock timeout %s, history limit %d, audit limit %d, watch retention %d)",
			o.LockTimeout, o.HistoryLimit, o.AuditLimit, o.WatchRetention)
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Store is a store.Store kept in a bbolt data file. It is safe for
// concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	opts   Options
	closed atomic.Bool
	// done is closed by Close: it ends every watcher.
	done chan struct{}
	// mu guards commit, which is closed and replaced after every commit so
	// that waiting watchers wake (a broadcast without a goroutine per write).
	mu     sync.Mutex
	commit chan struct{}
	// now returns the commit timestamp of a mutation, in UTC.
	now func() time.Time
	// group commits token state and audit records of concurrent callers
	// together.
	group groupCommit
}

var _ store.Store = (*Store)(nil)

// Open opens the data file at path, creating it (and its directory) when
// missing, and migrates it to the current schema. It fails with an error
// wrapping store.ErrLocked when another Store holds the file for longer than
// opts.LockTimeout, and with ErrUnsupportedSchema when the file was written
// by a newer gatewayd.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, migrations)
}

// open is Open with the list of migrations as a parameter, so tests can
// run a fake one.
func open(path string, opts Options, migs []migration) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if path == "" {
		return nil, errors.New("opening store: empty path")
	}
	if err := ensureDir(filepath.Dir(path), opts.Logger); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	db, err := bolt.Open(path, fileMode, &bolt.Options{
		Timeout:  opts.LockTimeout,
		OpenFile: openDataFile(opts.Logger),
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("opening store %s: %w (waited %s; another gatewayd may be running with this data file)",
			path, store.ErrLocked, opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	var schema, rev uint64
	// A file that needs nothing is only read: opening must not rewrite the
	// file (a daemon refused for a wrong master secret leaves it untouched).
	update := db.Update
	if err := db.View(func(tx *bolt.Tx) error {
		if upToDate(tx, migs) {
			update = db.View
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	err = update(func(tx *bolt.Tx) error {
		var err error
		schema, err = migrate(tx, migs, opts.Logger)
		if err != nil {
			return err
		}
		rev = readRevision(tx)
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	opts.Logger.Info("store opened", "path", path, "schema", schema, "revision", rev)
	st := &Store{
		db:     db,
		path:   path,
		opts:   opts,
		done:   make(chan struct{}),
		commit: make(chan struct{}),
		now:    func() time.Time { return time.Now().UTC() },
	}
	st.group = groupCommit{db: db, committed: st.wake}
	return st, nil
}

// ensureDir creates dir with mode 0700 when it does not exist. An existing
// directory is left as it is.
func ensureDir(dir string, lg *slog.Logger) error {
	_, err := os.Stat(dir)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking data directory: %w", err)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	lg.Info("created data directory", "dir", dir)
	return nil
}

// openDataFile returns the file opener handed to bbolt. It refuses anything
// but a regular file and tightens a mode that lets group or others in; it
// works on the open descriptor, so there is no window between the check and
// the fix.
func openDataFile(lg *slog.Logger) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			_ = f.Close()
			return nil, fmt.Errorf("%s is not a regular file (mode %s)", name, fi.Mode())
		}
		if got := fi.Mode().Perm(); got&0o077 != 0 {
			if err := f.Chmod(fileMode); err != nil {
				_ = f.Close()
				return nil, fmt.Errorf("tightening mode %04o of %s to %04o: %w", got, name, fileMode, err)
			}
			lg.Warn("data file was accessible to group or others; mode tightened, review who could read it",
				"path", name, "old_mode", fmt.Sprintf("%04o", got), "new_mode", fmt.Sprintf("%04o", fileMode))
		}
		return f, nil
	}
}

// Path returns the path of the data file.
func (s *Store) Path() string { return s.path }

// Close closes the data file, waiting for running transactions, and ends
// every watch with store.ErrClosed. Every later call, Close included,
// returns store.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	close(s.done)
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing store %s: %w", s.path, err)
	}
	return nil
}

// Backup writes a consistent copy of the whole data file to w while the
// store stays usable (a bbolt read transaction). The copy holds everything
// the store holds: write it to a file only its owner can read.
func (s *Store) Backup(w io.Writer) error {
	err := s.view(context.Background(), func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("backing up store %s: %w", s.path, err)
	}
	return nil
}

// Revision returns the store-wide revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rev = int64(readRevision(tx))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	return rev, nil
}

// usable reports why no transaction may start: the store is closed or the
// context is done.
func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// update runs fn in one read-write transaction, committed and fsynced when
// fn returns nil, then wakes the watchers.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if err := s.db.Update(fn); err != nil {
		return closedErr(err)
	}
	s.wake()
	return nil
}

// wake wakes the watchers after a commit.
func (s *Store) wake() {
	s.mu.Lock()
	close(s.commit)
	s.commit = make(chan struct{})
	s.mu.Unlock()
}

// batched runs fn like update, but in one transaction (one fsync) with the
// batched calls made while another commit is under way (groupCommit): fn
// may run more than once and must be idempotent, as every object write and
// audit append here is (it reads what it checks inside the transaction).
// Used for token state and audit records, written at issuance rates;
// everything else keeps one commit per call.
func (s *Store) batched(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return closedErr(s.group.do(fn))
}

// writer is update, or batched for the kinds written at high rates.
func (s *Store) writer(kind string) func(context.Context, func(*bolt.Tx) error) error {
	if kind == store.KindToken {
		return s.batched
	}
	return s.update
}

// committed returns a channel closed at the next commit.
func (s *Store) committed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit
}

// view runs fn in one read-only transaction. Values read in fn are valid
// only until fn returns: copy (or decode) them.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return closedErr(s.db.View(fn))
}

// closedErr maps bbolt's "not open" (a Close that raced with the call) to
// store.ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// check runs bbolt's consistency check over the whole file.
func (s *Store) check() error {
	return s.view(context.Background(), func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}
