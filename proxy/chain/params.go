package chain

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// ParamError is a configuration error about one provider param (or, with
// Also, several params with the same fault, such as unknown ones).
type ParamError struct {
	Param  string
	Reason string
	// Also are further params the Reason applies to.
	Also []string
}

func (e *ParamError) Error() string {
	if len(e.Also) == 0 {
		return fmt.Sprintf("param %q: %s", e.Param, e.Reason)
	}
	names := make([]string, 0, len(e.Also)+1)
	for _, n := range append([]string{e.Param}, e.Also...) {
		names = append(names, strconv.Quote(n))
	}
	return fmt.Sprintf("params %s: %s", strings.Join(names, ", "), e.Reason)
}

// Params are a provider's params, as the topology gives them. Providers
// read them with a Reader (Config.Read).
type Params map[string]string

// Param is one parameter a provider reads: its name, and the other names
// it is accepted under (Knox's: "main.ldapRealm.contextFactory.url" for
// "url"). Getters take the Name; errors name the param as it was given.
type Param struct {
	Name    string
	Aliases []string
}

// P declares a Param.
func P(name string, aliases ...string) Param { return Param{Name: name, Aliases: aliases} }

// Reader reads one provider's params: typed getters, Knox aliases, and
// every unknown param reported at once. Build it with Config.Read.
type Reader struct {
	c     Config
	given map[string]given // by Param.Name, and by name for dynamic params
}

type given struct {
	as, value string
	dynamic   bool // matched a dynamic matcher, not a known param
}

// Prefix matches the dynamic param names that start with prefix
// ("user." for basic's user.NAME).
func Prefix(prefix string) func(string) bool {
	return func(name string) bool { return strings.HasPrefix(name, prefix) }
}

// Suffix matches the dynamic param names that end with suffix (".acl" for
// an ACL per service).
func Suffix(suffix string) func(string) bool {
	return func(name string) bool { return strings.HasSuffix(name, suffix) && len(name) > len(suffix) }
}

// Read checks the provider's params against those it knows, by name or
// alias, and the dynamic names a matcher accepts (Prefix, Suffix). It
// returns a *ParamError naming every unknown param at once, or one given
// twice under two of its names.
func (c Config) Read(known []Param, dynamic ...func(string) bool) (*Reader, error) {
	r := &Reader{c: c, given: make(map[string]given, len(c.Params))}
	byName := make(map[string]string, len(known))
	for _, p := range known {
		byName[p.Name] = p.Name
		for _, a := range p.Aliases {
			byName[a] = p.Name
		}
	}
	var unknown []string
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		name, ok := byName[k]
		dyn := false
		if !ok && slices.ContainsFunc(dynamic, func(m func(string) bool) bool { return m(k) }) {
			name, ok, dyn = k, true, true
		}
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if prev, dup := r.given[name]; dup {
			return nil, &ParamError{Param: k, Reason: fmt.Sprintf("is the same setting as %q: give one of them", prev.as)}
		}
		r.given[name] = given{as: k, value: c.Params[k], dynamic: dyn}
	}
	switch len(unknown) {
	case 0:
		return r, nil
	case 1:
		return nil, &ParamError{Param: unknown[0], Reason: "is not a parameter of this provider"}
	}
	return nil, &ParamError{Param: unknown[0], Also: unknown[1:], Reason: "are not parameters of this provider"}
}

// Has reports whether the param was given (under any of its names).
func (r *Reader) Has(name string) bool { _, ok := r.given[name]; return ok }

// As is the name the param was given under, name itself when absent.
func (r *Reader) As(name string) string {
	if g, ok := r.given[name]; ok {
		return g.as
	}
	return name
}

// Raw returns the value as given, and whether the param was given.
func (r *Reader) Raw(name string) (string, bool) {
	g, ok := r.given[name]
	return g.value, ok
}

// Dynamic lists, sorted, the given params that matched a dynamic matcher
// and whose name starts with prefix.
func (r *Reader) Dynamic(prefix string) []string {
	var out []string
	for name, g := range r.given {
		if g.dynamic && strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Errorf is a *ParamError about the param, named as it was given.
func (r *Reader) Errorf(name, format string, args ...any) error {
	return &ParamError{Param: r.As(name), Reason: fmt.Sprintf(format, args...)}
}

// String returns the trimmed value, def when absent. A value with control
// characters is an error.
func (r *Reader) String(name, def string) (string, error) {
	v, ok := r.Raw(name)
	if !ok {
		return def, nil
	}
	v = strings.TrimSpace(v)
	if strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return "", r.Errorf(name, "must not contain control characters")
	}
	return v, nil
}

// Required returns the trimmed value; absent or empty is an error.
func (r *Reader) Required(name string) (string, error) {
	v, err := r.String(name, "")
	if err == nil && v == "" {
		err = r.Errorf(name, "is required")
	}
	return v, err
}

// Bool parses a boolean (true, false, 1, 0, …), def when absent.
func (r *Reader) Bool(name string, def bool) (bool, error) {
	v, ok := r.Raw(name)
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, r.Errorf(name, "must be true or false")
	}
	return b, nil
}

// Int parses a whole number from minimum to maximum, def when absent.
func (r *Reader) Int(name string, def, minimum, maximum int) (int, error) {
	v, ok := r.Raw(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < minimum || n > maximum {
		return 0, r.Errorf(name, "must be a whole number from %d to %d", minimum, maximum)
	}
	return n, nil
}

// Duration parses a Go duration ("5s", "500ms") from minimum to maximum,
// def when absent.
func (r *Reader) Duration(name string, def, minimum, maximum time.Duration) (time.Duration, error) {
	v, ok := r.Raw(name)
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, r.Errorf(name, "must be a duration such as 5s or 500ms")
	}
	if d < minimum || d > maximum {
		return 0, r.Errorf(name, "must be between %v and %v", minimum, maximum)
	}
	return d, nil
}

// List splits a comma-separated value into its trimmed, non-empty items;
// def when absent.
func (r *Reader) List(name string, def []string) []string {
	v, ok := r.Raw(name)
	if !ok {
		return def
	}
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Secret returns the value with each ${alias:NAME} replaced by the secret
// stored under NAME (Config.Expand); def when absent. Errors name the
// param and the alias, never the secret.
func (r *Reader) Secret(ctx context.Context, name, def string) (string, error) {
	v, ok := r.Raw(name)
	if !ok {
		return def, nil
	}
	return r.c.Expand(ctx, r.As(name), v)
}

// Expand replaces each ${alias:NAME} in the value of param with the secret
// stored under NAME. Errors name the param and the alias, never the secret.
func (c Config) Expand(ctx context.Context, param, value string) (string, error) {
	const open = "${alias:"
	if !strings.Contains(value, open) {
		return value, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(value, open)
		if i < 0 {
			b.WriteString(value)
			return b.String(), nil
		}
		j := strings.IndexByte(value[i:], '}')
		if j < 0 {
			return "", &ParamError{Param: param, Reason: "unterminated ${alias:…}"}
		}
		alias := value[i+len(open) : i+j]
		if alias == "" {
			return "", &ParamError{Param: param, Reason: "empty alias name in ${alias:}"}
		}
		if c.Resolve == nil {
			return "", &ParamError{Param: param, Reason: fmt.Sprintf("alias %q: no secret resolver configured", alias)}
		}
		secret, err := c.Resolve(ctx, alias)
		if err != nil {
			return "", &ParamError{Param: param, Reason: fmt.Sprintf("alias %q: %v", alias, err)}
		}
		b.WriteString(value[:i])
		b.Write(secret)
		value = value[i+j+1:]
	}
}

// reservedHeaders are managed by the gateway or by HTTP framing.
var reservedHeaders = []string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer",
	"Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate",
	"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Forwarded-Context", "Forwarded",
}

// HeaderName checks name, the value of param, as the name of a header that a
// handler sets on backend requests: a valid field name that neither the
// gateway nor HTTP framing manages. It returns the canonical form.
func HeaderName(param, name string) (string, error) {
	if !httpguts.ValidHeaderFieldName(name) {
		return "", &ParamError{Param: param, Reason: fmt.Sprintf("%q is not a valid header name", name)}
	}
	name = http.CanonicalHeaderKey(name)
	for _, r := range reservedHeaders {
		if strings.EqualFold(r, name) {
			return "", &ParamError{Param: param, Reason: fmt.Sprintf("header %q is managed by the gateway", name)}
		}
	}
	return name, nil
}
