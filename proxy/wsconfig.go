package proxy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/securegw/gateway/internal/fdlimit"
	"github.com/securegw/gateway/proxy/wsrelay"
)

// WebSocketLimits are the gateway's limits of WebSocket connections; a
// service overrides them with websocket.* params. Zero fields take the
// defaults: 1 MiB messages, 10s write timeout, no idle timeout, no
// keepalive pings, no connection limits.
type WebSocketLimits struct {
	MaxMessageBytes int64
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	PingInterval    time.Duration
	// MaxConnections bounds a topology's WebSocket connections (503 past it).
	MaxConnections int
	// MaxConnectionsPerPrincipal bounds one principal's connections to a
	// topology (503 past it).
	MaxConnectionsPerPrincipal int
}

// wsService is a WebSocket service's compiled settings.
type wsService struct {
	limits                    wsrelay.Limits
	maxConns, maxPerPrincipal int
	inbound, outbound         *wsrelay.Rules // client→backend, backend→client
	deflate                   bool           // negotiate permessage-deflate with each side
}

// Service params of WebSocket services.
const (
	wsParamPrefix       = "websocket."
	wsRewriteInbound    = "websocket.rewrite.inbound."
	wsRewriteOutbound   = "websocket.rewrite.outbound."
	maxRewriteRules     = 64
	maxWebSocketMessage = 64 << 20
)

// compileWebSocket reads a service's websocket.* params over the
// gateway's defaults: limits, and the rewrite rules of each direction
// (websocket.rewrite.inbound.N, websocket.rewrite.outbound.N, applied in
// the order of N). Errors name the param.
func compileWebSocket(d WebSocketLimits, websocket bool, params map[string]string) (wsService, error) {
	ws := wsService{
		limits: wsrelay.Limits{MaxMessageBytes: d.MaxMessageBytes, WriteTimeout: d.WriteTimeout,
			IdleTimeout: d.IdleTimeout, PingInterval: d.PingInterval},
		maxConns: d.MaxConnections, maxPerPrincipal: d.MaxConnectionsPerPrincipal,
	}
	type numbered struct {
		n    int
		rule wsrelay.Rule
	}
	var in, out []numbered
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !strings.HasPrefix(k, wsParamPrefix) {
			continue
		}
		if !websocket {
			return ws, fmt.Errorf("params[%q]: the service does not set websocket: true", k)
		}
		v := params[k]
		var err error
		switch k {
		case "websocket.max_message_bytes":
			ws.limits.MaxMessageBytes, err = strconv.ParseInt(v, 10, 64)
			if err == nil && (ws.limits.MaxMessageBytes < 1 || ws.limits.MaxMessageBytes > maxWebSocketMessage) {
				err = fmt.Errorf("must be 1 to %d", maxWebSocketMessage)
			}
		case "websocket.write_timeout":
			ws.limits.WriteTimeout, err = positiveDuration(v)
		case "websocket.idle_timeout":
			ws.limits.IdleTimeout, err = positiveDuration(v)
		case "websocket.ping_interval":
			ws.limits.PingInterval, err = positiveDuration(v)
		case "websocket.max_connections":
			ws.maxConns, err = positiveInt(v)
		case "websocket.max_connections_per_principal":
			ws.maxPerPrincipal, err = positiveInt(v)
		case "websocket.permessage_deflate":
			ws.deflate, err = strconv.ParseBool(v)
		default:
			dir := &in
			num, ok := strings.CutPrefix(k, wsRewriteInbound)
			if !ok {
				dir = &out
				num, ok = strings.CutPrefix(k, wsRewriteOutbound)
			}
			if !ok {
				return ws, fmt.Errorf("params[%q]: unknown WebSocket setting (max_message_bytes, write_timeout, idle_timeout, ping_interval, max_connections, max_connections_per_principal, permessage_deflate, rewrite.inbound.N, rewrite.outbound.N)", k)
			}
			n, nerr := strconv.Atoi(num)
			if nerr != nil || n < 0 {
				return ws, fmt.Errorf("params[%q]: a rewrite rule is numbered (rewrite.inbound.1, rewrite.inbound.2, …)", k)
			}
			r, rerr := wsrelay.ParseRule(k, v)
			if rerr != nil {
				return ws, rerr
			}
			*dir = append(*dir, numbered{n, r})
		}
		if err != nil {
			return ws, fmt.Errorf("params[%q]: %q: %w", k, v, err)
		}
	}
	if len(in)+len(out) > maxRewriteRules {
		return ws, fmt.Errorf("more than %d WebSocket rewrite rules", maxRewriteRules)
	}
	for _, dir := range []struct {
		rules []numbered
		dst   **wsrelay.Rules
	}{{in, &ws.inbound}, {out, &ws.outbound}} {
		slices.SortFunc(dir.rules, func(a, b numbered) int { return a.n - b.n })
		rs := make([]wsrelay.Rule, len(dir.rules))
		for i, r := range dir.rules {
			rs[i] = r.rule
		}
		*dir.dst = wsrelay.NewRules(rs)
	}
	return ws, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil && d <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return d, err
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && n <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return n, err
}

// openFileLimit is the descriptor ceiling when the config gives none.
func openFileLimit() int { return fdlimit.Ceiling() }
