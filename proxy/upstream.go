package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/h1"
	"github.com/securegw/gateway/proxy/internal/deadline"
	"github.com/securegw/gateway/proxy/rewrite"
)

// backend is one URL of a service.
type backend struct {
	configured string // as written in the topology
	scheme     string // http or https (ws and wss map to these)
	host       string // as configured, for the URL
	hostPort   string // lower-case, with the default port
	hostname   string // lower-case, no port
	basePath   string // decoded, no trailing slash
	origin     string
	tr         *transportEntry
	h          *backendHealth // carried over redeploys of the same URL
}

// backendHealth is the passive (and active) health of one backend URL.
type backendHealth struct {
	failures     atomic.Int64
	cooloffUntil atomic.Int64 // unix nanoseconds; 0: not cooling off
}

func (h *backendHealth) coolingOff(now int64) bool { return h.cooloffUntil.Load() > now }

func (h *backendHealth) succeeded() {
	if h.failures.Load() != 0 || h.cooloffUntil.Load() != 0 {
		h.failures.Store(0)
		h.cooloffUntil.Store(0)
	}
}

// failed counts a failure and reports whether the backend entered cooloff.
func (h *backendHealth) failed(now time.Time, maxFailures int64, cooloff time.Duration) bool {
	if h.failures.Add(1) < maxFailures {
		return false
	}
	return h.cooloffUntil.Swap(now.Add(cooloff).UnixNano()) <= now.UnixNano()
}

// upstream is a service's backends, their health and failover settings.
type upstream struct {
	svc         *service
	backends    []*backend
	failover    [10]uint64  // bit set of failover statuses
	standby     standbyRule // how a standby answers (ha.failover_on_standby and the role)
	maxFailures int64
	cooloff     time.Duration

	// safeModeRetries: retries on the same URL of a namenode's
	// SafeModeException or RetriableException (ha.safe_mode_retries),
	// safeModeSleep apart.
	safeModeRetries int
	safeModeSleep   time.Duration

	hcPath     string
	hcInterval time.Duration
	hcTimeout  time.Duration
}

// pick returns the index of the first backend not cooling off, in
// configured order (the first URL is the primary); when all are, the one
// whose cooloff ends first. The clock is read only when one is cooling off.
func (u *upstream) pick() int {
	best := 0
	var now int64
	for i, b := range u.backends {
		until := b.h.cooloffUntil.Load()
		if until == 0 {
			return i
		}
		if now == 0 {
			now = nowNano()
		}
		if until <= now {
			return i
		}
		if until < u.backends[best].h.cooloffUntil.Load() {
			best = i
		}
	}
	return best
}

// next returns the index of the first backend neither tried nor cooling off, or -1.
func (u *upstream) next(tried uint64, now int64) int {
	for i, b := range u.backends {
		if tried&(1<<i) == 0 && !b.h.coolingOff(now) {
			return i
		}
	}
	return -1
}

func (u *upstream) isFailoverStatus(code int) bool {
	return code >= 0 && code < 640 && u.failover[code/64]&(1<<(code%64)) != 0
}

var errNoBackend = errors.New("backend URL changed by an outbound handler")

// errStandbyOnly is a standby ResourceManager's answer the request could
// not fail over from (it cannot be replayed, or every URL was tried): the
// answer names the RMs' addresses, so the client gets 503 instead.
var errStandbyOnly = errors.New("only standby backends answered")

// roundTrip sends the backend request to the backend rewrite picked and
// fails over to the next healthy one: on any error before the request was
// sent, and on a failover status (or a standby's answer, standbyAnswer)
// for a request that can be replayed. Such a request is sent again to the
// same backend, up to safeModeRetries times, when a namenode answers that
// it is in safe mode.
func (u *upstream) roundTrip(ex *exchange, req *http.Request) (*http.Response, error) {
	// An outbound handler must not have aimed the request elsewhere (the
	// path may change under the backend's base).
	cur := ex.backend
	b := u.backends[cur]
	rest, ok := underBase(req.URL.Path, b.basePath)
	if !ok || b.host != req.URL.Host || b.scheme != req.URL.Scheme {
		return nil, errNoBackend
	}
	var tried uint64
	retries := 0
	for attempt := 0; ; attempt++ {
		tried |= 1 << cur
		b := u.backends[cur]
		if attempt > 0 {
			req.URL.Scheme, req.URL.Host = b.scheme, b.host
			req.URL.Path, req.URL.RawPath = joinPath(b.basePath, rest), ""
			if u.svc.fed != nil {
				u.svc.fed.sign(req) // federation hook: a fresh nonce per attempt
			}
		}
		resp, err := send(ex, b.tr.pool, b.tr.key.timeouts.ResponseHeader, req)
		if err != nil {
			if req.Context().Err() != nil {
				return nil, err // the client went away: not the backend's fault
			}
			var he *h1.HeaderError
			if errors.As(err, &he) || ex.body.tooLarge || ex.body.err != nil {
				return nil, err // the request's fault, not the backend's
			}
			u.svc.stats.backendError(errorKind(err))
			now := time.Now()
			u.failed(b, now)
			if notSent(err) {
				if n := u.next(tried, now.UnixNano()); n >= 0 {
					cur = n
					continue
				}
			}
			return nil, err
		}
		answer := answerFailover
		if !u.isFailoverStatus(resp.StatusCode) {
			answer = u.standbyAnswer(req, resp)
		}
		switch answer {
		case answerOther:
			b.h.succeeded()
			return resp, nil
		case answerSafeMode:
			// The namenode is up and active, not failing: its health stays.
			u.svc.stats.backendError(kindSafeMode)
			if retries >= u.safeModeRetries || !replayable(req) || !u.canWait(req.Context()) {
				return resp, nil
			}
			retries++
			ex.discard(resp)
			if err := u.waitRetry(req.Context()); err != nil {
				return nil, err
			}
			continue
		}
		u.svc.stats.backendError(kindStatus)
		now := time.Now()
		u.failed(b, now)
		if replayable(req) {
			if n := u.next(tried, now.UnixNano()); n >= 0 {
				ex.discard(resp)
				cur = n
				continue
			}
		}
		if answer == answerHiddenStandby {
			ex.discard(resp)
			return nil, errStandbyOnly
		}
		return resp, nil
	}
}

func (u *upstream) failed(b *backend, now time.Time) {
	if b.h.failed(now, u.maxFailures, u.cooloff) {
		u.svc.topo.p.log.Warn("proxy: backend cooling off",
			"topology", u.svc.topo.name, "service", u.svc.path, "backend", b.origin,
			"failures", b.h.failures.Load(), "cooloff", u.cooloff.String())
	}
}

// replayable: an idempotent request without a body can be sent again.
func replayable(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// notSent reports errors that happen before any byte of the request reached
// the backend (connecting, TLS handshake): any request may be sent elsewhere.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var (
		rh  tls.RecordHeaderError
		cv  *tls.CertificateVerificationError
		al  tls.AlertError
		uae x509.UnknownAuthorityError
		hne x509.HostnameError
	)
	return errors.As(err, &rh) || errors.As(err, &cv) || errors.As(err, &al) ||
		errors.As(err, &uae) || errors.As(err, &hne) || strings.Contains(err.Error(), "TLS handshake timeout")
}

// Backend error kinds (metric label values).
const (
	kindConnect = iota
	kindTLS
	kindTimeout
	kindStatus
	kindOther
	kindAbort
	kindSafeMode
	numKinds
)

var kindNames = [numKinds]string{"connect", "tls", "timeout", "failover_status", "other", "aborted", "safe_mode"}

func errorKind(err error) int {
	var op *net.OpError
	switch {
	case isTimeout(err):
		return kindTimeout
	case errors.As(err, &op) && op.Op == "dial":
		return kindConnect
	case notSent(err):
		return kindTLS
	}
	return kindOther
}

func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || deadline.Passed(err)
}

// joinPath joins a backend's base path and the request's rest path.
func joinPath(base, rest string) string {
	switch {
	case base == "" && rest == "":
		return "/"
	case base == "":
		return rest
	case rest == "":
		return base
	}
	return base + rest
}

// startHealthChecks starts one checker per service with a health check path.
func (c *Compiled) startHealthChecks() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopHealth = cancel
	for _, s := range c.ordered {
		if s.up.hcPath == "" {
			continue
		}
		c.p.health.Add(1)
		go func() {
			defer c.p.health.Done()
			s.up.healthLoop(ctx)
		}()
	}
}

func (c *Compiled) stopHealthChecks() {
	if c.stopHealth != nil {
		c.stopHealth()
	}
}

func (u *upstream) healthLoop(ctx context.Context) {
	t := time.NewTicker(u.hcInterval)
	defer t.Stop()
	for {
		for _, b := range u.backends {
			u.check(ctx, b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check probes one backend: 2xx and 3xx mark it up, anything else down
// (cooling off until at least the next check).
func (u *upstream) check(parent context.Context, b *backend) {
	ctx, cancel := context.WithTimeout(parent, u.hcTimeout)
	defer cancel()
	status, err := b.tr.probe(ctx, b.host, joinPath(b.basePath, u.hcPath))
	if err != nil && parent.Err() != nil {
		return // stopping
	}
	now := time.Now()
	if err == nil && status < 400 {
		b.h.succeeded()
		return
	}
	// A failed probe takes the backend out at once, until the next probe.
	if b.h.failures.Load() < u.maxFailures {
		b.h.failures.Store(u.maxFailures - 1)
	}
	u.failed(b, now)
	if until := now.Add(u.hcInterval).UnixNano(); b.h.cooloffUntil.Load() < until {
		b.h.cooloffUntil.Store(until)
	}
}

// canWait reports whether a retry's wait can end before the request's
// deadline, if it has one: otherwise the answer in hand is better than a
// timeout.
func (u *upstream) canWait(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > u.safeModeSleep
}

// waitRetry waits safeModeSleep before a safe-mode retry, or until the
// request ends (the client went away): then it returns the context's error.
func (u *upstream) waitRetry(ctx context.Context) error {
	if u.safeModeSleep <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(u.safeModeSleep)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxStandbyAnswer bounds the part of a body read to tell a standby's or a
// namenode's safe-mode answer (a few hundred bytes) from any other.
const maxStandbyAnswer = 4 << 10

// standbyRule is how a service's backends say they are standby.
type standbyRule uint8

const (
	standbyNone     standbyRule = iota // no standby detection
	standbyNamenode                    // a Hadoop namenode's 403 StandbyException (WEBHDFS, and any role but the RM's)
	standbyRM                          // a YARN ResourceManager's redirect to the active one
)

// standbyRuleFor is the rule of a service of role with
// ha.failover_on_standby.
func standbyRuleFor(role string) standbyRule {
	if topology.ResourceManagerRole(role) {
		return standbyRM
	}
	return standbyNamenode
}

// Answers of a backend the service acts on (standbyAnswer).
const (
	answerOther         = iota // for the client
	answerFailover             // a failover status, or a standby's refusal: the next URL
	answerHiddenStandby        // a standby RM's redirect: the next URL, never the client's
	answerSafeMode             // a namenode in safe mode: the same URL again, later
)

// Markers of a standby ResourceManager's answer, written first in its body
// by Hadoop's RMWebAppFilter: one that knows the active RM redirects to it
// (307, Location on the active RM; older Hadoop 2 releases: 200, Refresh
// on the active RM, or on the request's own path when none is known); one
// that does not asks the client to come back (307, Refresh on itself), and
// once the client came back too often says so (200, Hadoop 3).
var (
	rmStandbyMarker  = []byte("This is standby RM")
	rmNoActiveMarker = []byte("Can not find any active RM")
	rmGaveUpMarker   = []byte("There is no active RM right now")
)

// rmRetryParam is the query parameter of the Refresh URL a standby RM that
// knows no active RM answers with (Hadoop's YarnWebParams
// NEXT_REFRESH_INTERVAL): its marker where there is no body (HEAD).
const rmRetryParam = "next.refresh.interval="

// standbyAnswer tells the backend answers the service acts on
// (ha.failover_on_standby per standbyRule, ha.safe_mode_retries) from
// others. It reads at most maxStandbyAnswer bytes of a candidate's body
// and puts them back in front of the rest, so that any other answer (a
// permission error, an active RM's redirect) reaches the client whole.
//
// A namenode (standbyNamenode, or safe-mode retries): 403 with a JSON body
// of at most maxStandbyAnswer bytes, {"RemoteException": {"exception": E,
// "javaClassName": C, ...}}, where E or C names StandbyException
// (answerFailover), or SafeModeException or RetriableException
// (answerSafeMode: Hadoop's own clients retry a RetriableException on the
// same namenode; an HA namenode starting up wraps its SafeModeException in
// one).
//
// A ResourceManager (standbyRM), as Knox's RMHaDispatch tells it: 307 or
// 403 whose body, of at most maxStandbyAnswer bytes, holds "This is
// standby RM"; and a 307 holding "Can not find any active RM" (a standby
// that knows no active RM yet: the next URL may be it). Besides, as
// Hadoop's filter writes them: a 200 whose Refresh is a Hadoop 2
// standby's (rmLegacyRefresh; no other 200 with Refresh is read, so that
// a page that reloads itself streams) and whose body holds "This is
// standby RM" (older Hadoop 2 releases), and a text/plain
// 200 of a known length of at most maxStandbyAnswer bytes that begins
// with "There is no active RM right now" (Hadoop 3, to a client that came
// back too often). All are answerHiddenStandby: their body and Refresh
// name RMs. An answer to HEAD has no body: its head tells (a Hadoop 2
// standby's Refresh, or rmStandbyHead).
func (u *upstream) standbyAnswer(req *http.Request, resp *http.Response) int {
	switch {
	case u.standby == standbyRM:
		code := resp.StatusCode
		_, refresh := resp.Header["Refresh"]
		// Only a 200 whose Refresh is a Hadoop 2 standby's is read: any
		// other (a page that reloads itself, perhaps streamed) is not held.
		legacy := code == http.StatusOK && refresh && rmLegacyRefresh(req, resp)
		gaveUp := code == http.StatusOK && !refresh && resp.ContentLength >= 0 && isTextPlain(resp.Header.Get("Content-Type"))
		if code != http.StatusTemporaryRedirect && code != http.StatusForbidden && !legacy && !gaveUp {
			return answerOther
		}
		if req.Method == http.MethodHead {
			if legacy || rmStandbyHead(req, resp) {
				return answerHiddenStandby
			}
			return answerOther
		}
		head, ok := readAnswerHead(resp)
		switch {
		case !ok:
		case gaveUp:
			if bytes.HasPrefix(head, rmGaveUpMarker) {
				return answerHiddenStandby
			}
		case bytes.Contains(head, rmStandbyMarker),
			code == http.StatusTemporaryRedirect && bytes.Contains(head, rmNoActiveMarker):
			return answerHiddenStandby
		}
		return answerOther
	case u.standby == standbyNone && u.safeModeRetries == 0, resp.StatusCode != http.StatusForbidden,
		!isJSON(resp.Header.Get("Content-Type")):
		return answerOther
	}
	head, ok := readAnswerHead(resp)
	if !ok {
		return answerOther
	}
	var e struct {
		RemoteException struct {
			Exception     string `json:"exception"`
			JavaClassName string `json:"javaClassName"`
		} `json:"RemoteException"`
	}
	if json.Unmarshal(head, &e) != nil {
		return answerOther
	}
	re := e.RemoteException
	switch {
	case u.standby == standbyNamenode && (re.Exception == "StandbyException" || re.JavaClassName == "org.apache.hadoop.ipc.StandbyException"):
		return answerFailover
	case u.safeModeRetries > 0 && (re.Exception == "SafeModeException" || re.Exception == "RetriableException" ||
		re.JavaClassName == "org.apache.hadoop.hdfs.server.namenode.SafeModeException" ||
		re.JavaClassName == "org.apache.hadoop.ipc.RetriableException"):
		return answerSafeMode
	}
	return answerOther
}

// rmStandbyHead tells a standby RM's 307 to HEAD by its head, as Hadoop's
// RMWebAppFilter writes it (its body, which says "This is standby RM", is
// not sent for HEAD): its Location is the request's own path and query on
// another origin (the active RM's web address; an active RM redirects
// elsewhere only to another path, the history server's), or, from a
// standby that knows no active RM, it has no Location and its Refresh URL
// carries rmRetryParam. (Older Hadoop 2 releases' 200 is told by its
// Refresh, rmLegacyRefresh.) A standby's 403, and Hadoop 3's 200 "There is
// no active RM right now", have no such marker: they reach the client, as
// does any other answer.
func rmStandbyHead(req *http.Request, resp *http.Response) bool {
	if resp.StatusCode != http.StatusTemporaryRedirect {
		return false
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return strings.Contains(resp.Header.Get("Refresh"), rmRetryParam)
	}
	l, err := url.Parse(loc)
	return err == nil && l.Host != "" && (!strings.EqualFold(l.Host, req.URL.Host) || !strings.EqualFold(l.Scheme, req.URL.Scheme)) &&
		l.RequestURI() == req.URL.RequestURI()
}

// rmLegacyRefresh tells the Refresh of an older Hadoop 2 standby's 200:
// its URL is the request's own path without its query, on another origin
// (the active RM's web address) or relative (no active RM known).
func rmLegacyRefresh(req *http.Request, resp *http.Response) bool {
	v := resp.Header.Get("Refresh")
	start, end := rewrite.RefreshURL(v)
	if start == end {
		return false
	}
	l, err := url.Parse(v[start:end])
	return err == nil && l.RawQuery == "" && l.EscapedPath() == req.URL.EscapedPath() &&
		(l.Host == "" && l.Scheme == "" || l.Host != "" && (!strings.EqualFold(l.Host, req.URL.Host) || !strings.EqualFold(l.Scheme, req.URL.Scheme)))
}

// readAnswerHead reads the whole body of resp when it is at most
// maxStandbyAnswer bytes, and puts what it read back in front of the rest;
// ok is false for a longer or unreadable body (then the client's to see).
func readAnswerHead(resp *http.Response) (head []byte, ok bool) {
	if resp.ContentLength > maxStandbyAnswer {
		return nil, false
	}
	sb, isStream := resp.Body.(streamBodyCloser)
	if !isStream {
		return nil, false
	}
	buf := make([]byte, maxStandbyAnswer+1)
	n, err := io.ReadFull(sb, buf)
	resp.Body = &prefixedBody{head: buf[:n], streamBodyCloser: sb}
	if n > maxStandbyAnswer || err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, false
	}
	return buf[:n], true
}

// mediaType is a Content-Type's media type, lower case, without parameters.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func isTextPlain(contentType string) bool { return mediaType(contentType) == "text/plain" }

func isJSON(contentType string) bool {
	mt := mediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// streamBodyCloser is a backend response body (h1).
type streamBodyCloser interface {
	streamBody
	io.Closer
}

// prefixedBody is a response body whose first bytes were read already
// (head): it gives them back first, then the rest.
type prefixedBody struct {
	head []byte
	streamBodyCloser
}

func (b *prefixedBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	return b.streamBodyCloser.Read(p)
}

func (b *prefixedBody) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if len(b.head) > 0 {
		k, err := w.Write(b.head)
		n += int64(k)
		b.head = b.head[k:]
		if err != nil {
			return n, err
		}
	}
	m, err := b.streamBodyCloser.WriteTo(w)
	return n + m, err
}

func (b *prefixedBody) Buffered() int { return len(b.head) + b.streamBodyCloser.Buffered() }

func (b *prefixedBody) Done() bool { return len(b.head) == 0 && b.streamBodyCloser.Done() }
