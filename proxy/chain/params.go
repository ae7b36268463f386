package chain

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// ParamError is a configuration error about one provider param.
type ParamError struct {
	Param  string
	Reason string
}

func (e *ParamError) Error() string { return fmt.Sprintf("param %q: %s", e.Param, e.Reason) }

// Params are a provider's params.
type Params map[string]string

// Get returns the param's value, "" when absent.
func (p Params) Get(name string) string { return p[name] }

// Required returns the param's value or a *ParamError when it is absent or empty.
func (p Params) Required(name string) (string, error) {
	v := p[name]
	if v == "" {
		return "", &ParamError{Param: name, Reason: "is required"}
	}
	return v, nil
}

// Bool parses a boolean param, def when absent.
func (p Params) Bool(name string, def bool) (bool, error) {
	v, ok := p[name]
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &ParamError{Param: name, Reason: "must be true or false"}
	}
	return b, nil
}

// Allow returns a *ParamError for the first (in sorted order) param not in names.
func (p Params) Allow(names ...string) error {
	var unknown []string
	for k := range p {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return &ParamError{Param: unknown[0], Reason: "is not a parameter of this provider"}
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
