package webappsec

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/securegw/gateway/proxy/chain"
)

// Name is the provider's name (Knox's WebAppSec).
const Name = "webappsec"

func init() {
	chain.Register(chain.Factory{Name: Name, Role: chain.RoleWebAppSec, New: newWebAppSec})
}

// params are the provider's params; Knox's older CORS names are aliases.
var params = []chain.Param{
	chain.P("csrf.enabled"), chain.P("csrf.customHeader"), chain.P("csrf.methodsToIgnore"),
	chain.P("cors.enabled"), chain.P("cors.allowOrigin"), chain.P("cors.allowSubdomains"), chain.P("cors.allowGenericHttpRequests"),
	chain.P("cors.allowMethods", "cors.supportedMethods"), chain.P("cors.allowHeaders", "cors.supportedHeaders"),
	chain.P("cors.exposedHeaders"), chain.P("cors.allowCredentials", "cors.supportsCredentials"), chain.P("cors.maxAge"),
	chain.P("xframe.options.enabled"), chain.P("xframe.options.value"),
	chain.P("xcontent-type.options.enabled"), chain.P("xcontent-type.options"),
	chain.P("strict.transport.enabled"), chain.P("strict.transport"),
	chain.P("xss.protection.enabled"),
}

// header is a response header the gateway owns; its value is shared by
// every response (a full slice: an Add elsewhere copies instead of writing
// into it).
type header struct {
	name  string
	value []string
}

type handler struct {
	headers    []header // set on every response
	csrf       bool
	csrfHeader string   // canonical
	csrfIgnore []string // methods, upper case
	cors       *cors
}

var (
	_ chain.Inbound          = (*handler)(nil)
	_ chain.ResponseModifier = (*handler)(nil)
)

func newWebAppSec(_ context.Context, c chain.Config) (chain.Handler, error) {
	p := c.Params
	for k := range p {
		if strings.HasPrefix(k, "rate.limiting.") {
			return nil, &chain.ParamError{Param: k, Reason: "rate limiting is not supported by this gateway's webappsec provider"}
		}
	}
	r, err := c.Read(params)
	if err != nil {
		return nil, err
	}
	h := &handler{}
	if h.csrf, err = r.Bool("csrf.enabled", false); err != nil {
		return nil, err
	}
	if h.csrf {
		name := "X-XSRF-Header"
		if v, ok := r.Raw("csrf.customHeader"); ok {
			name = strings.TrimSpace(v)
		}
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, &chain.ParamError{Param: "csrf.customHeader", Reason: fmt.Sprintf("%q is not a valid header name", name)}
		}
		h.csrfHeader = http.CanonicalHeaderKey(name)
		ignore := "GET,OPTIONS,HEAD"
		if v, ok := r.Raw("csrf.methodsToIgnore"); ok {
			ignore = v
		}
		if h.csrfIgnore, err = methodList("csrf.methodsToIgnore", ignore, true); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		enabled, valueParam, name, def string
		check                          func(string) bool
	}{
		{"xframe.options.enabled", "xframe.options.value", "X-Frame-Options", "DENY", validXFrame},
		{"xcontent-type.options.enabled", "xcontent-type.options", "X-Content-Type-Options", "nosniff", func(v string) bool { return strings.EqualFold(v, "nosniff") }},
		{"strict.transport.enabled", "strict.transport", "Strict-Transport-Security", "max-age=31536000", validHSTS},
		{"xss.protection.enabled", "", "X-XSS-Protection", "1; mode=block", nil},
	} {
		on, err := r.Bool(f.enabled, false)
		if err != nil {
			return nil, err
		}
		v := f.def
		if f.valueParam != "" {
			if pv, ok := r.Raw(f.valueParam); ok {
				v = strings.TrimSpace(pv)
				if !f.check(v) || !httpguts.ValidHeaderFieldValue(v) {
					return nil, &chain.ParamError{Param: f.valueParam, Reason: fmt.Sprintf("%q is not a valid %s value", v, f.name)}
				}
			}
		}
		if on {
			h.headers = append(h.headers, header{name: http.CanonicalHeaderKey(f.name), value: []string{v}})
		}
	}
	if h.cors, err = parseCORS(r, c.Host.PublicOrigin); err != nil {
		return nil, err
	}
	if !h.csrf && h.cors == nil && len(h.headers) == 0 {
		return nil, nil // nothing enabled: no link
	}
	return h, nil
}

func validXFrame(v string) bool {
	u := strings.ToUpper(v)
	return u == "DENY" || u == "SAMEORIGIN" || strings.HasPrefix(u, "ALLOW-FROM ")
}

func validHSTS(v string) bool {
	for d := range strings.SplitSeq(v, ";") {
		d = strings.TrimSpace(d)
		if k, n, ok := strings.Cut(d, "="); ok && strings.EqualFold(strings.TrimSpace(k), "max-age") {
			_, err := strconv.ParseUint(strings.TrimSpace(n), 10, 32)
			return err == nil
		}
	}
	return false
}

// methodList parses a comma-separated list of HTTP methods.
func methodList(param, v string, upper bool) ([]string, error) {
	var out []string
	for m := range strings.SplitSeq(v, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !httpguts.ValidHeaderFieldName(m) { // a method is a token
			return nil, &chain.ParamError{Param: param, Reason: fmt.Sprintf("%q is not an HTTP method", m)}
		}
		if upper {
			m = strings.ToUpper(m)
		}
		out = append(out, m)
	}
	return out, nil
}

// ServeInbound sets the security headers of the response, answers CORS
// preflights and refuses cross-origin and CSRF-suspect requests.
func (h *handler) ServeInbound(w http.ResponseWriter, r *http.Request) *http.Request {
	rh := w.Header()
	for _, x := range h.headers {
		rh[x.name] = x.value
	}
	if h.cors != nil && !h.cors.serve(w, r) {
		return nil
	}
	if h.csrf && !slices.Contains(h.csrfIgnore, r.Method) {
		if _, ok := r.Header[h.csrfHeader]; !ok {
			// Knox answers 400 too.
			chain.WriteError(w, http.StatusBadRequest, "missing header "+h.csrfHeader+" (CSRF protection)")
			return nil
		}
	}
	return r
}

// ModifyResponse drops the backend's copies of the headers the gateway
// sets, so the client gets exactly one, the gateway's.
func (h *handler) ModifyResponse(resp *http.Response) error {
	for _, x := range h.headers {
		delete(resp.Header, x.name)
	}
	if h.cors != nil {
		for _, n := range corsResponseHeaders {
			delete(resp.Header, n)
		}
	}
	return nil
}

// cors is the CORS configuration.
type cors struct {
	// public is the gateway's configured public origin (chain.Host's
	// PublicOrigin): when set, the gateway's own origin is it, not the
	// request's Host.
	public        string
	anyOrigin     bool
	origins       []origin
	subdomains    bool
	allowGeneric  bool
	methods       []string // as configured
	methodsValue  []string // Access-Control-Allow-Methods
	anyHeader     bool
	headers       []string // lower case
	headersValue  []string // Access-Control-Allow-Headers
	exposedValue  []string // Access-Control-Expose-Headers, nil: none
	credentials   bool
	maxAge        []string // nil: not sent
	trueValue     []string
	anyOriginResp []string
}

type origin struct{ scheme, host, port string }

var corsResponseHeaders = []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
	"Access-Control-Expose-Headers", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"}

// alias reads a param that has a Knox name besides ours: its value (def
// when absent) and the name it was given under.
func alias(r *chain.Reader, ours, def string) (string, string) {
	if v, ok := r.Raw(ours); ok {
		return v, r.As(ours)
	}
	return def, ours
}

func parseCORS(p *chain.Reader, public string) (*cors, error) {
	on, err := p.Bool("cors.enabled", false)
	if err != nil || !on {
		return nil, err
	}
	c := &cors{trueValue: []string{"true"}, anyOriginResp: []string{"*"}, public: public}
	if c.subdomains, err = p.Bool("cors.allowSubdomains", false); err != nil {
		return nil, err
	}
	if c.allowGeneric, err = p.Bool("cors.allowGenericHttpRequests", true); err != nil {
		return nil, err
	}
	origins := "*"
	if v, ok := p.Raw("cors.allowOrigin"); ok {
		origins = v
	}
	for o := range strings.FieldsSeq(strings.ReplaceAll(origins, ",", " ")) {
		if o == "*" {
			c.anyOrigin = true
			continue
		}
		po, ok := parseOrigin(o)
		if !ok {
			return nil, &chain.ParamError{Param: "cors.allowOrigin", Reason: fmt.Sprintf("%q is not an origin (scheme://host[:port])", o)}
		}
		c.origins = append(c.origins, po)
	}
	if !c.anyOrigin && len(c.origins) == 0 {
		return nil, &chain.ParamError{Param: "cors.allowOrigin", Reason: "no origin (* for any)"}
	}
	v, param := alias(p, "cors.allowMethods", "GET,POST,HEAD,OPTIONS")
	if c.methods, err = methodList(param, v, false); err != nil {
		return nil, err
	}
	c.methodsValue = []string{strings.Join(c.methods, ", ")}
	v, param = alias(p, "cors.allowHeaders", "*")
	if strings.TrimSpace(v) == "*" {
		c.anyHeader = true
	} else {
		for hn := range strings.SplitSeq(v, ",") {
			if hn = strings.TrimSpace(hn); hn == "" {
				continue
			}
			if !httpguts.ValidHeaderFieldName(hn) {
				return nil, &chain.ParamError{Param: param, Reason: fmt.Sprintf("%q is not a header name", hn)}
			}
			c.headers = append(c.headers, strings.ToLower(hn))
		}
		c.headersValue = []string{strings.Join(c.headers, ", ")}
	}
	if v, ok := p.Raw("cors.exposedHeaders"); ok && strings.TrimSpace(v) != "" {
		var names []string
		for hn := range strings.SplitSeq(v, ",") {
			if hn = strings.TrimSpace(hn); hn == "" {
				continue
			}
			if !httpguts.ValidHeaderFieldName(hn) {
				return nil, &chain.ParamError{Param: "cors.exposedHeaders", Reason: fmt.Sprintf("%q is not a header name", hn)}
			}
			names = append(names, hn)
		}
		c.exposedValue = []string{strings.Join(names, ", ")}
	}
	v, param = alias(p, "cors.allowCredentials", "false")
	if c.credentials, err = strconv.ParseBool(strings.TrimSpace(v)); err != nil {
		return nil, &chain.ParamError{Param: param, Reason: "must be true or false"}
	}
	if c.credentials && c.anyOrigin {
		return nil, &chain.ParamError{Param: param, Reason: "credentials cannot be allowed for any origin (*): list the origins in cors.allowOrigin"}
	}
	if v, ok := p.Raw("cors.maxAge"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < -1 {
			return nil, &chain.ParamError{Param: "cors.maxAge", Reason: "must be a number of seconds (-1: not sent)"}
		}
		if n >= 0 {
			c.maxAge = []string{strconv.Itoa(n)}
		}
	}
	return c, nil
}

func parseOrigin(s string) (origin, bool) {
	u, err := url.Parse(strings.ToLower(strings.TrimSuffix(s, "/")))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Hostname(), "*") {
		return origin{}, false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return origin{u.Scheme, u.Hostname(), port}, true
}

func (c *cors) allowed(o string) bool {
	if c.anyOrigin {
		return true
	}
	po, ok := parseOrigin(o)
	if !ok {
		return false
	}
	for _, a := range c.origins {
		if a.scheme != po.scheme || a.port != po.port {
			continue
		}
		if a.host == po.host || c.subdomains && strings.HasSuffix(po.host, "."+a.host) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether origin is the request's own scheme://Host.
func sameOrigin(o string, r *http.Request) bool {
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	return len(o) > len(scheme) && strings.EqualFold(o[:len(scheme)], scheme) && strings.EqualFold(o[len(scheme):], r.Host)
}

// ownOrigin reports whether origin is the gateway's own: the configured
// public origin when there is one (whatever Host the client sent), else
// the request's scheme://Host.
func (c *cors) ownOrigin(o string, r *http.Request) bool {
	if c.public != "" {
		return strings.EqualFold(o, c.public)
	}
	return sameOrigin(o, r)
}

// serve handles the CORS part of a request; false when it answered.
func (c *cors) serve(w http.ResponseWriter, r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		if !c.allowGeneric {
			chain.WriteError(w, http.StatusForbidden, "CORS: not a cross-origin request")
			return false
		}
		return true
	}
	if c.ownOrigin(o, r) {
		return true
	}
	allowed := c.allowed(o)
	h := w.Header()
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h["Vary"] = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
		if !allowed {
			chain.WriteError(w, http.StatusForbidden, "CORS: origin not allowed")
			return false
		}
		if !slices.Contains(c.methods, r.Header.Get("Access-Control-Request-Method")) {
			chain.WriteError(w, http.StatusMethodNotAllowed, "CORS: method not allowed")
			return false
		}
		req := r.Header.Get("Access-Control-Request-Headers")
		if c.anyHeader {
			if req != "" {
				h["Access-Control-Allow-Headers"] = []string{req}
			}
		} else {
			for hn := range strings.SplitSeq(req, ",") {
				if hn = strings.TrimSpace(hn); hn != "" && !slices.Contains(c.headers, strings.ToLower(hn)) {
					chain.WriteError(w, http.StatusForbidden, "CORS: header not allowed")
					return false
				}
			}
			h["Access-Control-Allow-Headers"] = c.headersValue
		}
		c.setOrigin(h, o, false)
		h["Access-Control-Allow-Methods"] = c.methodsValue
		if c.maxAge != nil {
			h["Access-Control-Max-Age"] = c.maxAge
		}
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	if !allowed {
		chain.WriteError(w, http.StatusForbidden, "CORS: origin not allowed")
		return false
	}
	c.setOrigin(h, o, true)
	if c.exposedValue != nil {
		h["Access-Control-Expose-Headers"] = c.exposedValue
	}
	return true
}

// setOrigin sets Access-Control-Allow-Origin (and -Credentials) for the
// allowed origin o; vary adds "Vary: Origin" when the answer depends on it.
func (c *cors) setOrigin(h http.Header, o string, vary bool) {
	if c.anyOrigin && !c.credentials {
		h["Access-Control-Allow-Origin"] = c.anyOriginResp
		return
	}
	h["Access-Control-Allow-Origin"] = []string{o}
	if vary {
		h["Vary"] = append(h["Vary"], "Origin")
	}
	if c.credentials {
		h["Access-Control-Allow-Credentials"] = c.trueValue
	}
}
