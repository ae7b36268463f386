package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/securegw/gateway/internal/topology"
	"github.com/securegw/gateway/proxy/identity"
	"github.com/securegw/gateway/proxy/seal"
)

// Datanode redirects (WebHDFS and services that redirect the same way,
// catalogue rewrite "datanode"). A namenode answers CREATE, APPEND and OPEN
// with a redirect to a datanode: an address the client must not learn and
// may not reach. The gateway seals the target into a gateway URL under the
// service, {prefix}/data/v1{datanode path}?_={token} (Knox's shape), and
// dispatches a request to such a URL to the sealed target only: a token
// the gateway did not seal for this topology and service, or one that
// expired, is refused with 403 and nothing is sent anywhere.

// datanodePath is where a service's sealed URLs live, below its prefix.
const datanodePath = "/data/v1"

// sealParam is the query parameter carrying the token.
const sealParam = "_"

// errSealedTarget answers a request to a sealed URL that does not open.
var errSealedTarget = errors.New("invalid or expired datanode URL")

// datanodes is a service's dispatcher of sealed follow-up requests.
type datanodes struct {
	binding string          // topology NUL service: what a token is bound to
	http    *transportEntry // to any datanode over http
	https   *transportEntry // over https, with the service's TLS settings
}

// compileDatanodes gives s a datanode dispatcher when its role redirects
// to datanodes. Its transports are the service's TLS settings and
// timeouts, for any host: what it may reach is what the gateway sealed.
func (p *Proxy) compileDatanodes(c *Compiled, s *service, ts *topology.Service, tlsSet backendTLS, tmo Timeouts, d *topology.Dispatch, acquired map[transportKey]*transportEntry) {
	if topology.RoleRewrite(ts.Role) != topology.RewriteDatanode {
		return
	}
	dn := &datanodes{binding: c.name + "\x00" + s.path}
	get := func(scheme string) *transportEntry {
		key := transportKey{scheme: scheme, host: anyHost, timeouts: tmo}
		if scheme == "https" {
			key.insecure, key.roots, key.clientCert = d.InsecureSkipVerify, tlsSet.rootsID, tlsSet.certID
		}
		e, ok := acquired[key]
		if !ok {
			e = p.pool.acquire(key, tlsSet)
			acquired[key] = e
			c.transports = append(c.transports, e)
		}
		return e
	}
	dn.http, dn.https = get("http"), get("https")
	s.dn = dn
}

// claims reports whether rest (the request path below the service prefix)
// is a sealed datanode URL.
func (dn *datanodes) claims(rest string) bool {
	return rest == datanodePath || strings.HasPrefix(rest, datanodePath+"/")
}

// serveSealed dispatches a request to a sealed URL to its target.
func (s *service) serveSealed(ex *exchange, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	var target string
	if err == nil && len(q[sealParam]) == 1 {
		target, err = s.topo.p.sealer.Open(s.dn.binding, q[sealParam][0])
	} else {
		err = seal.ErrInvalid
	}
	var u *url.URL
	if err == nil {
		if u, err = url.Parse(target); err == nil {
			err = seal.CheckTarget(u)
		}
	}
	if err != nil {
		s.topo.p.log.Warn("proxy: sealed datanode URL refused", "request_id", ex.id(),
			"topology", s.topo.name, "service", s.path, "err", err)
		writeError(ex, http.StatusForbidden, errSealedTarget.Error())
		return
	}
	s.dispatch(ex, r, u)
}

// aimSealed aims the service's outbound request (headers scrubbed,
// credentials stripped, identity asserted) at the sealed target t. The
// target's own doAs and user.name (the namenode's view of the user) are
// replaced by what the gateway asserts for this request.
func aimSealed(out *http.Request, t *url.URL) {
	asserted := impersonationParams(out.URL.RawQuery)
	q, _ := identity.StripImpersonation(t.RawQuery)
	if asserted != "" {
		if q != "" {
			q += "&"
		}
		q += asserted
	}
	out.URL = &url.URL{Scheme: strings.ToLower(t.Scheme), Host: t.Host, Path: t.Path, RawPath: t.RawPath, RawQuery: q}
	out.Host = ""
}

// impersonationParams returns the doAs and user.name parameters of
// rawQuery, '&'-joined as they were: after rewrite, those identity
// assertion set (the client's were stripped).
func impersonationParams(rawQuery string) string {
	stripped, removed := identity.StripImpersonation(rawQuery)
	if !removed {
		return ""
	}
	var kept []string
	for p := range strings.SplitSeq(rawQuery, "&") {
		if p == "" || strings.Contains("&"+stripped+"&", "&"+p+"&") {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}

// homeDir maps WebHDFS's home directory shortcut as Knox's WEBHDFS
// inbound rules do: /v1/~ and /v1/~/{path} are /v1/user/{user}[/{path}],
// for the user the gateway asserts. A name that is not one path segment
// leaves rest as it is.
func homeDir(ctx context.Context, rest string) string {
	tail, ok := strings.CutPrefix(rest, "/v1/~")
	if !ok || (tail != "" && tail[0] != '/') {
		return rest
	}
	who, ok := identity.FromContext(ctx)
	if !ok || who.Name == "" || who.Name == "." || who.Name == ".." || strings.ContainsAny(who.Name, "/\x00") {
		return rest
	}
	return "/v1/user/" + who.Name + tail
}

// roundTrip sends a request to its sealed target over the service's
// datanode transports (no failover: the target is the one sealed).
func (dn *datanodes) roundTrip(ex *exchange, req *http.Request) (*http.Response, error) {
	var e *transportEntry
	switch req.URL.Scheme {
	case "http":
		e = dn.http
	case "https":
		e = dn.https
	default:
		return nil, errNoBackend
	}
	pool, err := e.poolFor(req.URL.Host)
	if err != nil {
		return nil, err
	}
	return send(ex, pool, e.key.timeouts.ResponseHeader, req)
}

// sealLocation maps the Location of a redirect of a datanode service: a
// URL naming a host that is not a backend of the topology becomes a sealed
// gateway URL. handled is false when the URL is for the usual mapping
// (relative, or naming a backend); err refuses the redirect (a scheme other
// than http and https, a metadata address).
func (s *service) sealLocation(v, pub string) (nv string, handled bool, err error) {
	u, perr := url.Parse(v)
	if perr != nil {
		return "", false, nil
	}
	if u.Scheme != "" && !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https") {
		return "", true, fmt.Errorf("%w: scheme %q", errUnroutableRedirect, u.Scheme)
	}
	if u.Host == "" {
		return "", false, nil
	}
	if _, _, found, known := s.topo.origins.lookup(u, s); found || known {
		return "", false, nil
	}
	if err := seal.CheckTarget(u); err != nil {
		return "", true, fmt.Errorf("%w: %v", errUnroutableRedirect, err)
	}
	tok, err := s.topo.p.sealer.Seal(s.dn.binding, u.String())
	if err != nil {
		return "", true, fmt.Errorf("%w: %v", errUnroutableRedirect, err)
	}
	p := path.Clean("/" + u.Path)
	if p == "/" {
		p = ""
	}
	g := &url.URL{Path: s.prefix + datanodePath + p, RawQuery: sealParam + "=" + tok}
	return pub + g.String(), true, nil
}

// fileSystemURL maps a file system URL a datanode answers with, the
// Location of a 201 to CREATE (hdfs://{namenode RPC address}/{path}, or
// webhdfs://…), to the service's gateway URL of that path,
// {pub}{prefix}/v1/{path}, as Knox's WEBHDFS outbound rules do: the
// namenode's RPC address never reaches the client. ok is false for any
// other URL.
func (s *service) fileSystemURL(v, pub string) (nv string, ok bool) {
	u, err := url.Parse(v)
	if err != nil || (!strings.EqualFold(u.Scheme, "hdfs") && !strings.EqualFold(u.Scheme, "webhdfs")) {
		return "", false
	}
	g := &url.URL{Path: s.prefix + "/v1" + path.Clean("/"+u.Path), RawQuery: u.RawQuery}
	return pub + g.String(), true
}

// maxLocationJSON bounds the body read for a noredirect answer.
const maxLocationJSON = 64 << 10

// sealJSONLocation seals the datanode URL of a WebHDFS answer under
// noredirect=true, {"Location": "http://datanode…"}, as sealLocation does
// for the header.
func (s *service) sealJSONLocation(resp *http.Response) error {
	req := resp.Request
	if resp.StatusCode != http.StatusOK || req == nil || resp.Body == nil || resp.Body == http.NoBody ||
		!strings.Contains(strings.ToLower(req.URL.RawQuery), "noredirect=true") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLocationJSON+1))
	if err != nil {
		return fmt.Errorf("reading a noredirect answer: %w", err)
	}
	if len(b) > maxLocationJSON {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		return nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var doc map[string]json.RawMessage
	var loc string
	if json.Unmarshal(b, &doc) != nil || json.Unmarshal(doc["Location"], &loc) != nil || loc == "" {
		return nil
	}
	pub := s.topo.p.linkOrigin(req)
	nv, handled, err := s.sealLocation(loc, pub)
	if !handled {
		nv, handled = s.rewriteURL(loc, pub)
		if !handled {
			err = fmt.Errorf("%w: %s", errUnroutableRedirect, redactedTarget(loc))
		}
	}
	if err != nil {
		return err
	}
	if doc["Location"], err = json.Marshal(nv); err != nil {
		return err
	}
	if b, err = json.Marshal(doc); err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}
