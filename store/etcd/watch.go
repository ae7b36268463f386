package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/securegw/gateway/store"
)

const (
	// watchPage bounds the revisions a watcher reads in one request.
	watchPage = 128
	// watchBuffer is the capacity of a watch channel.
	watchBuffer = 16
	// watchProbe is how often an idle watcher reads anyway: it notices a
	// lost etcd (and ends with store.ErrUnavailable) even when no commit
	// wakes it.
	watchProbe = 2 * time.Second
)

// Watch implements store.Store. Each watch is one goroutine that reads the
// change log (one key per revision, written in the commit transaction) in
// pages from its own position, and waits for the next commit on an etcd
// watch of the revision key: a slow reader delays nobody and gets
// store.ErrCompacted once the log has dropped revisions it has not read.
// An idle watcher also reads every watchProbe. When etcd does not answer
// (Options.RequestTimeout) the watch ends with store.ErrUnavailable: the
// reconciler keeps serving its table and lists again once etcd is back.
func (s *Store) Watch(ctx context.Context, fromRevision int64) (<-chan store.ChangeBatch, error) {
	if err := s.checkWatch(ctx, fromRevision); err != nil {
		return nil, fmt.Errorf("watching from revision %d: %w", fromRevision, err)
	}
	ch := make(chan store.ChangeBatch, watchBuffer)
	go s.watchLoop(ctx, fromRevision, ch)
	return ch, nil
}

func (s *Store) checkWatch(ctx context.Context, from int64) error {
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.snapshot(cctx)
	if err != nil {
		return err
	}
	if from < 0 || from > r.cur {
		return fmt.Errorf("revision out of range: the store is at revision %d", r.cur)
	}
	oldest, err := r.oldestWatchable()
	if err != nil {
		return err
	}
	if from < oldest {
		return fmt.Errorf("%w: the oldest revision to watch from is %d", store.ErrCompacted, oldest)
	}
	return nil
}

// oldestWatchable returns the revision before the first logged one, or the
// current revision when the log is empty.
func (r *snap) oldestWatchable() (int64, error) {
	resp, err := r.s.kv.Get(r.ctx, prefixLog, clientv3.WithRange(prefixEnd(prefixLog)), clientv3.WithRev(r.at),
		clientv3.WithLimit(1), clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return 0, r.s.callErr(r.ctx, err)
	}
	if len(resp.Kvs) == 0 {
		return r.cur, nil
	}
	first, err := parseSeqKey(prefixLog, resp.Kvs[0].Key)
	if err != nil {
		return 0, err
	}
	return first - 1, nil
}

// watchLoop sends every batch after revision after to ch until ctx ends,
// the store closes or the log no longer holds the next revision.
func (s *Store) watchLoop(ctx context.Context, after int64, ch chan<- store.ChangeBatch) {
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
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wake clientv3.WatchChan
	for {
		batches, at, err := s.readChanges(ctx, after)
		switch {
		case ctx.Err() != nil:
			return
		case s.closed.Load():
			fail(store.ErrClosed)
			return
		case errors.Is(err, store.ErrCompacted):
			fail(err)
			return
		case err != nil:
			// Whatever etcd answered, the watcher cannot follow it now:
			// the reconciler keeps its table and lists again.
			if !errors.Is(err, store.ErrUnavailable) {
				err = fmt.Errorf("%w: %v", store.ErrUnavailable, err)
			}
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
			continue
		}
		if wake == nil {
			// Every commit after the read puts the revision key.
			wake = s.watch.Watch(clientv3.WithRequireLeader(wctx), keyRevision, clientv3.WithRev(at+1))
		}
		probe := time.NewTimer(watchProbe)
		select {
		case resp, ok := <-wake:
			if !ok || resp.Err() != nil {
				wake = nil // read again, then watch again from the new read
			}
		case <-probe.C:
		case <-ctx.Done():
			return
		case <-s.done:
			fail(store.ErrClosed)
			return
		}
		probe.Stop()
	}
}

// readChanges returns up to watchPage batches after revision after and the
// etcd revision they were read at, or store.ErrCompacted when the log no
// longer holds the next one.
func (s *Store) readChanges(ctx context.Context, after int64) ([]store.ChangeBatch, int64, error) {
	if err := s.usable(ctx); err != nil {
		return nil, 0, err
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	r, err := s.snapshot(cctx)
	if err != nil {
		return nil, 0, err
	}
	if after >= r.cur {
		return nil, r.at, nil
	}
	resp, err := s.kv.Get(cctx, logKey(after+1), clientv3.WithRange(prefixEnd(prefixLog)), clientv3.WithRev(r.at),
		clientv3.WithLimit(watchPage), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, 0, s.callErr(cctx, err)
	}
	if len(resp.Kvs) == 0 || string(resp.Kvs[0].Key) != logKey(after+1) {
		oldest, err := r.oldestWatchable()
		if err != nil {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("%w: the watcher fell behind; the oldest revision to watch from is %d", store.ErrCompacted, oldest)
	}
	out := make([]store.ChangeBatch, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		rev, err := parseSeqKey(prefixLog, kv.Key)
		if err != nil {
			return nil, 0, err
		}
		_, changes, err := decodeChanges(kv.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("change log entry %d: %w", rev, err)
		}
		out = append(out, store.ChangeBatch{Revision: rev, Changes: changes})
	}
	return out, r.at, nil
}
