package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/securegw/gateway/store"
)

const (
	// watchPage bounds the revisions a watcher reads in one transaction.
	watchPage = 128
	// watchBuffer is the capacity of a watch channel.
	watchBuffer = 16
)

// Watch implements store.Store. Each watch is one goroutine that reads the
// change log from its own cursor, in short read transactions, and sleeps
// until the next commit when it has caught up: a slow reader delays nobody,
// and gets store.ErrCompacted once the log has dropped revisions it has not
// read yet. The goroutine ends when ctx ends, when the store closes (after
// handing over the store.ErrClosed batch, or when ctx ends) or after an
// error batch.
func (s *Store) Watch(ctx context.Context, fromRevision int64) (<-chan store.ChangeBatch, error) {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		cur := int64(readRevision(tx))
		if fromRevision < 0 || fromRevision > cur {
			return fmt.Errorf("revision out of range: the store is at revision %d", cur)
		}
		if oldest, err := oldestWatchable(tx, cur); err != nil {
			return err
		} else if fromRevision < oldest {
			return fmt.Errorf("%w: the oldest revision to watch from is %d", store.ErrCompacted, oldest)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("watching from revision %d: %w", fromRevision, err)
	}
	ch := make(chan store.ChangeBatch, watchBuffer)
	go s.watch(ctx, fromRevision, ch)
	return ch, nil
}

// oldestWatchable returns the oldest revision a watch can start after: the
// one before the first logged revision, or the current revision when the
// log is empty (a new file, or one just migrated to a schema with a log).
func oldestWatchable(tx *bolt.Tx, cur int64) (int64, error) {
	log, err := bucket(tx, bucketChanges)
	if err != nil {
		return 0, err
	}
	k, _ := log.Cursor().First()
	if k == nil {
		return cur, nil
	}
	if len(k) != 8 {
		return 0, fmt.Errorf("corrupt change log key (%d bytes)", len(k))
	}
	return int64(binary.BigEndian.Uint64(k)) - 1, nil
}

// watch sends every batch after revision after to ch until ctx ends, the
// store closes or reading fails, then closes ch.
func (s *Store) watch(ctx context.Context, after int64, ch chan<- store.ChangeBatch) {
	defer close(ch)
	fail := func(err error) {
		if ctx.Err() != nil {
			return
		}
		select {
		case ch <- store.ChangeBatch{Err: err}:
		case <-ctx.Done():
		}
	}
	for {
		// Take the wake-up channel before reading, so that a commit
		// between the read and the wait is not missed.
		wake := s.committed()
		batches, err := s.readChanges(ctx, after)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, store.ErrClosed):
			fail(store.ErrClosed)
			return
		case err != nil:
			fail(fmt.Errorf("watching after revision %d: %w", after, err))
			return
		}
		for _, b := range batches {
			select {
			case ch <- b:
				after = b.Revision
			case <-ctx.Done():
				return
			case <-s.done:
				fail(store.ErrClosed)
				return
			}
		}
		if len(batches) == watchPage {
			continue // more to read
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-s.done:
			fail(store.ErrClosed)
			return
		}
	}
}

// readChanges returns up to watchPage batches after revision after, or
// store.ErrCompacted when the log no longer holds the next one.
func (s *Store) readChanges(ctx context.Context, after int64) ([]store.ChangeBatch, error) {
	var out []store.ChangeBatch
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if after >= int64(readRevision(tx)) {
			return nil
		}
		log, err := bucket(tx, bucketChanges)
		if err != nil {
			return err
		}
		next := uint64(after) + 1
		c := log.Cursor()
		k, v := c.Seek(u64key(next))
		if k == nil || binary.BigEndian.Uint64(k) != next {
			oldest, err := oldestWatchable(tx, int64(readRevision(tx)))
			if err != nil {
				return err
			}
			return fmt.Errorf("%w: the watcher fell behind; the oldest revision to watch from is %d", store.ErrCompacted, oldest)
		}
		for ; k != nil && len(out) < watchPage; k, v = c.Next() {
			changes, err := decodeChanges(v)
			if err != nil {
				return fmt.Errorf("change log entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, store.ChangeBatch{Revision: int64(binary.BigEndian.Uint64(k)), Changes: changes})
		}
		return nil
	})
	return out, err
}
