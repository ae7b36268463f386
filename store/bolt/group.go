package bolt

import (
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// groupCommit commits the writes of concurrent callers in one bbolt
// transaction (one fsync) without waiting for company: a caller that finds
// no commit under way commits at once, alone; callers arriving while one is
// under way queue, and the first of them commits the whole queue when it
// ends. Under load every commit carries what arrived during the previous
// one; idle, a write pays one fsync and no delay (bbolt's own Batch waits
// MaxBatchDelay for company every time).
//
// Each caller returns once its write is durable, with its own error: when
// a function fails, the transaction is rolled back, that function runs
// again alone (its error is its caller's) and the others run again together.
// Functions must therefore be idempotent, reading inside the transaction
// what they check (as every object write and audit append here does).
type groupCommit struct {
	db *bolt.DB
	// committed runs after each successful commit (it wakes the watchers).
	committed func()

	mu      sync.Mutex
	queue   []*groupCall
	running bool // a caller is committing; the others wait to be told
}

type groupCall struct {
	fn  func(*bolt.Tx) error
	err error
	// lead receives true when the caller is to commit the queue (itself
	// included), false when its write is done (err set).
	lead chan bool
}

// do runs fn in a write transaction shared with the callers that queue
// while another commit is under way, and returns once it is committed.
func (g *groupCommit) do(fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, lead: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if !lead && !<-c.lead {
		return c.err
	}
	// Lead: commit the queue, which holds c, then hand over.
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	g.run(batch, c)
	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		g.mu.Unlock()
		next.lead <- true
	} else {
		g.running = false
		g.mu.Unlock()
	}
	return c.err
}

// run commits batch, setting each call's error and telling every call but
// self that it is done.
func (g *groupCommit) run(batch []*groupCall, self *groupCall) {
	done := func(c *groupCall, err error) {
		c.err = err
		if c != self {
			c.lead <- false
		}
	}
	for len(batch) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bolt.Tx) error {
			for i, c := range batch {
				if err := safely(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			if err == nil && g.committed != nil {
				g.committed()
			}
			for _, c := range batch {
				done(c, err)
			}
			return
		}
		f := batch[failed]
		err = g.db.Update(func(tx *bolt.Tx) error { return safely(f.fn, tx) })
		if err == nil && g.committed != nil {
			g.committed()
		}
		done(f, err)
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}

// safely runs fn, turning a panic into an error: one caller's bug must not
// leave the others of its group waiting forever.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return fn(tx)
}
