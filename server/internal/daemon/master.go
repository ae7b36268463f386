package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/securegw/gateway/internal/secrets"
)

// masterCheckEvery is how often a gateway on a shared store checks the
// store's data key and whether its own master secret still opens the store.
const masterCheckEvery = 2 * time.Second

// The master states gatewayctl status shows for each gateway.
const (
	// masterCurrent: the secret this gateway would restart with opens the store.
	masterCurrent = "current"
	// masterStale: its master secret file holds a secret that no longer
	// opens the store (rotated through some gateway): update the file
	// before restarting it.
	masterStale = "stale"
	// masterUnknown: the secret came from the environment or a prompt, and
	// the stored verifier changed since the start; or the file is unreadable.
	masterUnknown = "unknown"
)

// masterWatch follows a master rotation made through any gateway sharing
// the store: it makes the keyring follow a new data key and tells whether
// this gateway's master secret source still opens the store. The KDF runs
// only when the file or the verifier changed.
type masterWatch struct {
	g        *gateway
	src      SecretSource
	startRev int64 // the verifier revision this gateway unlocked (or wrote) at start

	lastRev int64
	lastSum [sha256.Size]byte
	state   string
}

// check returns the master state now.
func (w *masterWatch) check(ctx context.Context) string {
	g := w.g
	if err := g.secrets.Follow(ctx); err != nil {
		g.log.ErrorContext(ctx, "following the store's data key", "err", err)
	}
	verifier, rev, err := g.st.GetMetaRevision(ctx, metaVerifier)
	if err != nil {
		return w.state // the store is away: nothing new to tell
	}
	if w.src.File == "" {
		if rev == w.startRev {
			return masterCurrent
		}
		return masterUnknown
	}
	secret, err := w.src.read(false)
	if err != nil {
		if w.state != masterUnknown {
			g.log.WarnContext(ctx, "reading the master secret file to check it against the store", "err", err)
		}
		return masterUnknown
	}
	defer clear(secret)
	sum := sha256.Sum256(secret)
	if w.state != "" && rev == w.lastRev && sum == w.lastSum {
		return w.state
	}
	w.lastRev, w.lastSum = rev, sum
	kr, _, err := secrets.Unlock(secret, verifier, g.cfg.Crypto)
	switch {
	case err == nil:
		kr.Close()
		return masterCurrent
	case errors.Is(err, secrets.ErrWrongMasterSecret):
		return masterStale
	default:
		g.log.WarnContext(ctx, "checking the master secret file against the store", "err", err)
		return masterUnknown
	}
}

// run checks every masterCheckEvery until ctx ends, calling report with
// the live data key id and the state after each check.
func (w *masterWatch) run(ctx context.Context, report func(keyID, state string)) {
	t := time.NewTicker(masterCheckEvery)
	defer t.Stop()
	for {
		state := w.check(ctx)
		if state != w.state {
			switch state {
			case masterStale:
				w.g.log.WarnContext(ctx, "the master secret was rotated: this gateway's master secret file holds an older one; write the current secret to it before restarting this gateway",
					"file", w.src.File)
			case masterCurrent:
				if w.state != "" {
					w.g.log.InfoContext(ctx, "this gateway's master secret file opens the store", "file", w.src.File)
				}
			}
			w.state = state
		}
		report(w.g.secrets.Keyring().KeyID(), state)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
