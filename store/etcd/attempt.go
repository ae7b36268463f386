package etcd

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// minAttempt bounds attemptTimeout from below.
const minAttempt = 300 * time.Millisecond

// attemptTimeout bounds one try of one etcd call. The client spreads calls
// over the members; a call sent to a member that hangs (paused, cut off by
// the network) would wait until the request timeout although the others
// answer at once. A try that gets no answer in time is sent again (the
// next try goes to another member) until Options.RequestTimeout.
func (s *Store) attemptTimeout() time.Duration {
	return max(s.opts.RequestTimeout/10, minAttempt)
}

// attempts runs f with a per-try deadline, again while tries time out or
// the cluster is between leaders, as long as ctx has time left. An election
// (a member back from a pause or a restart calls one) lasts about one
// election timeout; a management call made meanwhile waits it out instead
// of failing, and fails with ErrUnavailable only when ctx (the request
// timeout) ends first.
func (s *Store) attempts(ctx context.Context, f func(ctx context.Context) error) error {
	pause := minElectionPause
	for {
		actx, cancel := context.WithTimeout(ctx, s.attemptTimeout())
		err := f(actx)
		timedOut := actx.Err() != nil
		cancel()
		if err == nil || ctx.Err() != nil || s.closed.Load() {
			return err
		}
		switch {
		case timedOut && isTimeout(err):
			s.steer.suspect() // the member may hang: have the members checked
		case isElection(err):
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
			pause = min(2*pause, maxElectionPause)
		default:
			return err
		}
	}
}

// The pause between tries while the cluster has no leader.
const (
	minElectionPause = 25 * time.Millisecond
	maxElectionPause = 400 * time.Millisecond
)

// isElection reports errors a member answers while no leader is known or
// the leader just changed: transient, and safe to try again for the calls
// attempts runs (reads, idempotent writes, guarded transactions). A write
// (or lease grant) made while the leadership moves is "raft proposal
// dropped", which etcd 3.4 sends as code Unknown: the proposal never
// entered the log.
func isElection(err error) bool {
	if errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrLeaderChanged) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) || errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost) {
		return true
	}
	st, ok := status.FromError(err)
	return ok && (st.Code() == codes.Unavailable || st.Code() == codes.Unknown && st.Message() == "raft proposal dropped")
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	st, ok := status.FromError(err)
	return ok && (st.Code() == codes.DeadlineExceeded || st.Code() == codes.Canceled || serverTimeout(st))
}

// serverTimeout reports a member's own timeout, which etcd 3.4 sends as
// code Unknown.
func serverTimeout(st *status.Status) bool {
	return st.Code() == codes.Unknown && strings.Contains(st.Message(), "deadline exceeded")
}

// attemptKV is the store's KV: reads and single writes (all idempotent
// where the store uses them) are tried again on another member when a
// member does not answer.
type attemptKV struct {
	clientv3.KV
	s *Store
}

func (k attemptKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (resp *clientv3.GetResponse, err error) {
	err = k.s.attempts(ctx, func(ctx context.Context) error {
		resp, err = k.KV.Get(ctx, key, opts...)
		return err
	})
	return resp, err
}

func (k attemptKV) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (resp *clientv3.PutResponse, err error) {
	err = k.s.attempts(ctx, func(ctx context.Context) error {
		resp, err = k.KV.Put(ctx, key, val, opts...)
		return err
	})
	return resp, err
}

func (k attemptKV) Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (resp *clientv3.DeleteResponse, err error) {
	err = k.s.attempts(ctx, func(ctx context.Context) error {
		resp, err = k.KV.Delete(ctx, key, opts...)
		return err
	})
	return resp, err
}

// txn commits one transaction, tried again when a member does not answer.
// Only for transactions that are safe to apply twice or guarded so that a
// second application fails (the commit transaction uses commit's outcome
// check instead).
func (s *Store) txn(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op) (resp *clientv3.TxnResponse, err error) {
	err = s.attempts(ctx, func(ctx context.Context) error {
		resp, err = s.kv.KV.Txn(ctx).If(cmps...).Then(ops...).Commit()
		return err
	})
	return resp, err
}
