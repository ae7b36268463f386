package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/wsrelay"
)

// WebSocket upgrades branch off the request path once the chain has run
// (serve): the proxy dials the backend itself, sends it the handshake
// built like any proxied request (scrubbed headers, stripped credentials,
// outbound handlers), checks its 101, answers the client's handshake and
// hands both connections to the frame relay (wsrelay). Nothing is dialled
// before the chain accepted the request; a backend answering anything but
// 101 has its answer passed to the client as an HTTP response.

// isWebSocketUpgrade reports whether r asks to switch to WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(upgradeType(r.Header), "websocket")
}

// upgradeType is the protocol a header asks to switch to, "" for none.
func upgradeType(h http.Header) string {
	if headerHasToken(h, "Connection", "upgrade") {
		return h.Get("Upgrade")
	}
	return ""
}

// headerHasToken reports whether a comma-separated header lists tok.
func headerHasToken(h http.Header, name, tok string) bool {
	for _, v := range h[name] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// hopHeaders are removed from a forwarded handshake and from the answers
// passed back (RFC 9110 §7.6.1), besides those Connection names.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = textproto.TrimString(t); t != "" {
				h.Del(t)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// serveWebSocket serves an upgrade the chain accepted (r carries its
// principal).
func (s *service) serveWebSocket(ex *exchange, r *http.Request) {
	p := s.topo.p
	switch {
	case r.Method != http.MethodGet:
		writeError(ex, http.StatusBadRequest, "a WebSocket handshake is a GET")
		return
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		ex.Header().Set("Sec-WebSocket-Version", "13")
		writeError(ex, http.StatusUpgradeRequired, "unsupported WebSocket version: 13 is")
		return
	case !wsrelay.ValidKey(r.Header.Get("Sec-WebSocket-Key")):
		writeError(ex, http.StatusBadRequest, "bad Sec-WebSocket-Key")
		return
	}
	who, _ := identity.FromContext(r.Context()) // serve checked it is there
	u, err := p.upgrades.reserve(s, who)
	if err != nil {
		ex.refused = err.Error()
		writeError(ex, http.StatusServiceUnavailable, err.Error())
		return
	}
	handedOver := false
	defer func() {
		if !handedOver {
			p.upgrades.release(u)
		}
	}()
	req, key := s.backendHandshake(r)
	conn, b, err := s.dialWebSocket(r.Context())
	var wire []byte
	if err == nil {
		wire, err = handshakeFor(req, s.up.backends[ex.backend], b, key, p.linkOrigin(req))
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		ex.backendErr = err
		p.log.Warn("proxy: websocket backend unavailable", "request_id", ex.id(), "topology", s.topo.name, "service", s.path, "err", err)
		writeError(ex, http.StatusBadGateway, "backend unavailable")
		return
	}
	closeBackend := true
	defer func() {
		if closeBackend {
			conn.Close()
		}
	}()
	_ = conn.SetDeadline(time.Now().Add(b.tr.key.timeouts.ResponseHeader))
	if _, err := conn.Write(wire); err != nil {
		ex.backendErr = err
		writeError(ex, http.StatusBadGateway, "backend unavailable")
		return
	}
	br := bufio.NewReaderSize(conn, 4<<10)
	resp, err := readHandshakeAnswer(br, r)
	if err != nil {
		ex.backendErr = err
		s.up.failed(b, time.Now())
		writeError(ex, http.StatusBadGateway, "backend unavailable")
		return
	}
	b.h.succeeded()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		s.passAnswer(ex, resp)
		return
	}
	backendDeflate, err := checkBackend101(resp, key, r.Header, s.ws.deflate)
	if err != nil {
		ex.backendErr = err
		p.log.Warn("proxy: websocket backend answered a bad handshake", "request_id", ex.id(), "topology", s.topo.name, "service", s.path, "err", err)
		writeError(ex, http.StatusBadGateway, "backend answered a bad WebSocket handshake")
		return
	}
	if err := s.rewriteResponseHeaders(resp); err != nil {
		writeError(ex, http.StatusBadGateway, "backend unavailable")
		return
	}
	if err := s.topo.chain.ModifyResponse(resp); err != nil {
		writeError(ex, http.StatusBadGateway, "backend unavailable")
		return
	}
	client, brw, err := ex.Hijack()
	if err != nil {
		writeError(ex, http.StatusInternalServerError, "internal error")
		return
	}
	var clientExt string
	if s.ws.deflate {
		clientExt, _ = wsrelay.AcceptDeflate(r.Header.Values("Sec-Websocket-Extensions"))
	}
	_ = client.SetDeadline(time.Now().Add(b.tr.key.timeouts.ResponseHeader))
	if _, err := client.Write(s.clientAnswer(ex, resp, r, clientExt)); err != nil {
		client.Close()
		ex.clientGone = true
		return
	}
	_ = client.SetDeadline(time.Time{})
	_ = conn.SetDeadline(time.Time{})
	var clientPending, backendPending []byte
	if n := brw.Reader.Buffered(); n > 0 {
		pb, _ := brw.Reader.Peek(n)
		clientPending = bytes.Clone(pb)
	}
	if n := br.Buffered(); n > 0 {
		pb, _ := br.Peek(n)
		backendPending = bytes.Clone(pb)
	}
	closeBackend, handedOver = false, true
	open := b.tr.open // counted like the transport's connections
	open.Add(1)
	vars := wsrelay.Vars{GatewayURL: p.linkOrigin(req) + s.prefix, ServiceURL: b.configured, Principal: who.Name}
	o := wsrelay.Options{
		Limits:    s.ws.limits,
		ToBackend: s.ws.inbound.Bind(vars),
		ToClient:  s.ws.outbound.Bind(vars),
		Guard:     p.credentialGuard(who),
		// permessage-deflate: each side as negotiated with it.
		ClientDeflate:  clientExt != "",
		BackendDeflate: backendDeflate,
		OnClose: func() {
			open.Add(-1)
			p.upgrades.release(u)
		},
	}
	c, err := p.upgrades.hub.Relay(client, clientPending, conn, backendPending, o)
	if err != nil {
		p.upgrades.release(u)
		return
	}
	p.upgrades.started(u, c)
}

// backendHandshake is the handshake request for the backend: the
// client's request rewritten as any proxied request (rewrite, which picks
// the backend), with the relay's own key and none of the client's
// extension offers: the relay terminates frames and offers the backend
// permessage-deflate itself when the service enables it.
func (s *service) backendHandshake(in *http.Request) (*http.Request, string) {
	out := in.Clone(in.Context())
	removeHopHeaders(out.Header)
	for _, k := range []string{"Sec-Websocket-Key", "Sec-Websocket-Extensions", "Sec-Websocket-Accept", "Sec-Websocket-Version"} {
		delete(out.Header, k)
	}
	s.rewrite(out, in)
	if s.ws.deflate {
		out.Header["Sec-Websocket-Extensions"] = []string{wsrelay.DeflateOffer}
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	return out, base64.StdEncoding.EncodeToString(raw[:])
}

// handshakeFor is out on the wire for backend b, out having been built
// for backend first (the path moves under b's base path). pub is the
// gateway's origin (linkOrigin): an Origin naming it is the backend's.
func handshakeFor(out *http.Request, first, b *backend, key, pub string) ([]byte, error) {
	rest, ok := underBase(out.URL.Path, first.basePath)
	if !ok || out.URL.Host != first.host {
		return nil, errNoBackend
	}
	if o := out.Header.Get("Origin"); o != "" && pub != "" && strings.EqualFold(o, pub) {
		// Same origin at the gateway (the page came through it): the
		// backend sees its own origin, as it would without the gateway.
		// Other origins pass as sent (the topology's CORS settings ran).
		out.Header["Origin"] = []string{b.origin}
	}
	var buf bytes.Buffer
	path := (&url.URL{Path: joinPath(b.basePath, rest), RawQuery: out.URL.RawQuery}).RequestURI()
	fmt.Fprintf(&buf, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n", path, b.host, key)
	if err := out.Header.WriteSubset(&buf, map[string]bool{"Host": true, "Content-Length": true}); err != nil {
		return nil, err
	}
	buf.WriteString("\r\n")
	return buf.Bytes(), nil
}

// dialWebSocket connects to the backend rewrite picked, or to the next
// healthy one when it cannot be reached.
func (s *service) dialWebSocket(ctx context.Context) (net.Conn, *backend, error) {
	ex := exchangeOf(ctx)
	var tried uint64
	cur := ex.backend
	for {
		tried |= 1 << cur
		b := s.up.backends[cur]
		conn, err := dialBackend(ctx, b)
		if err == nil {
			return conn, b, nil
		}
		now := time.Now()
		s.stats.backendError(errorKind(err))
		s.up.failed(b, now)
		if ctx.Err() != nil {
			return nil, nil, err
		}
		if cur = s.up.next(tried, now.UnixNano()); cur < 0 {
			return nil, nil, err
		}
	}
}

// dialBackend opens a TCP (and for wss a TLS) connection to b with its
// transport's timeouts and TLS settings (truststore, client certificate).
func dialBackend(ctx context.Context, b *backend) (net.Conn, error) {
	tmo := b.tr.key.timeouts
	d := net.Dialer{Timeout: tmo.Dial, KeepAlive: 30 * time.Second, Control: b.tr.control}
	conn, err := d.DialContext(ctx, "tcp", b.hostPort)
	if err != nil {
		return nil, err
	}
	if b.scheme != "https" {
		return conn, nil
	}
	cfg := b.tr.tls.Clone()
	cfg.ServerName = b.hostname
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, tmo.TLSHandshake)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake with the backend: %w", err)
	}
	return tc, nil
}

// checkBackend101 checks the backend's switch: WebSocket, the accept key
// of the relay's key, a subprotocol the client offered, no extension but
// permessage-deflate when it was offered (deflate: the backend took it).
func checkBackend101(resp *http.Response, key string, in http.Header, offered bool) (deflate bool, err error) {
	h := resp.Header
	switch {
	case !strings.EqualFold(upgradeType(h), "websocket"):
		return false, fmt.Errorf("backend switched to %q", upgradeType(h))
	case h.Get("Sec-WebSocket-Accept") != wsrelay.AcceptKey(key):
		return false, errors.New("backend's Sec-WebSocket-Accept does not match the key sent")
	case !offered && h.Get("Sec-WebSocket-Extensions") != "":
		return false, errors.New("backend enabled an extension that was not offered")
	}
	if proto := h.Get("Sec-WebSocket-Protocol"); proto != "" && !headerHasToken(in, "Sec-Websocket-Protocol", proto) {
		return false, fmt.Errorf("backend chose subprotocol %q the client did not offer", proto)
	}
	if offered {
		return wsrelay.CheckDeflateAnswer(h.Values("Sec-Websocket-Extensions"))
	}
	return false, nil
}

// clientAnswer is the 101 for the client: the backend's headers (rewritten
// by the chain) and the gateway's, with the accept key of the client's key
// and the extension the relay took from the client's offers (ext, "" for
// none).
func (s *service) clientAnswer(ex *exchange, resp *http.Response, r *http.Request, ext string) []byte {
	h := ex.w.Header() // what the gateway and the chain set (X-Request-Id, cookies)
	removeHopHeaders(resp.Header)
	for k, vv := range resp.Header {
		switch k {
		case "Sec-Websocket-Accept", "Sec-Websocket-Extensions", "X-Request-Id", "Content-Length":
			continue
		}
		h[k] = append(h[k], vv...)
	}
	h["X-Request-Id"] = ex.idValues()
	var buf bytes.Buffer
	buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	buf.WriteString(wsrelay.AcceptKey(r.Header.Get("Sec-WebSocket-Key")))
	buf.WriteString("\r\n")
	if ext != "" {
		buf.WriteString("Sec-WebSocket-Extensions: " + ext + "\r\n")
	}
	_ = h.Write(&buf)
	buf.WriteString("\r\n")
	return buf.Bytes()
}

// passAnswer gives the client a backend's refusal of the upgrade (any
// status but 101) as an HTTP response; the connection stays HTTP.
func (s *service) passAnswer(ex *exchange, resp *http.Response) {
	defer resp.Body.Close()
	if err := s.rewriteResponseHeaders(resp); err != nil {
		writeError(ex, http.StatusBadGateway, "backend unavailable")
		return
	}
	if err := s.topo.chain.ModifyResponse(resp); err != nil {
		writeError(ex, http.StatusBadGateway, "backend unavailable")
		return
	}
	removeHopHeaders(resp.Header)
	h := ex.Header()
	for k, vv := range resp.Header {
		if k != "X-Request-Id" {
			h[k] = append(h[k], vv...)
		}
	}
	ex.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(ex, resp.Body)
}

// credentialGuard closes a connection (1008) once the credential used at
// its upgrade is revoked or expired: checked on every sweep of the hub.
func (p *Proxy) credentialGuard(who *identity.Principal) func(time.Time) (int, string) {
	id, exp := who.CredentialID, who.Expires
	rev, clock := p.host.Revocations, p.host.Clock
	if (id == "" || rev == nil) && exp.IsZero() {
		return nil
	}
	return func(time.Time) (int, string) {
		if id != "" && rev != nil && rev.Revoked(id) {
			return wsrelay.ClosePolicyViolation, "credential revoked"
		}
		if !exp.IsZero() && !clock.Now().Before(exp) {
			return wsrelay.ClosePolicyViolation, "credential expired"
		}
		return 0, ""
	}
}

// readHandshakeAnswer reads the backend's answer to a WebSocket
// handshake: its 101, or a final answer passed to the client. An
// informational answer before it (103 Early Hints, 102) is read past, not
// relayed: the client waits for the handshake's answer, and hints mean
// nothing to it; more than maxInformational of them fail, as on the HTTP
// path.
func readHandshakeAnswer(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(br, r)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, err
		}
		if n == maxInformational {
			return nil, errTooManyInformational
		}
	}
}
