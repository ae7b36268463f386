package topology

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// FieldError is one problem in a topology.
type FieldError struct {
	// Field is the path of the field, e.g. "services[1].urls[0]"; empty for
	// the document as a whole.
	Field string
	// Line is the line in the source document, 0 when unknown. Fields
	// nested in a provider or service carry the line of that provider or
	// service.
	Line int
	Msg  string
}

func (e FieldError) Error() string {
	switch {
	case e.Field != "" && e.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", e.Field, e.Line, e.Msg)
	case e.Field != "":
		return e.Field + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ValidationError holds the problems found in a topology, in document
// order: all of them, up to maxProblems.
type ValidationError struct {
	Errors []FieldError
}

// maxProblems bounds the problems reported for one document, so that a
// hostile document cannot make a huge error; a last entry counts the rest.
const maxProblems = 100

// problems collects FieldErrors up to maxProblems.
type problems struct {
	errs    []FieldError
	dropped int
}

func (p *problems) add(field string, line int, format string, args ...any) {
	if len(p.errs) >= maxProblems {
		p.dropped++
		return
	}
	p.errs = append(p.errs, FieldError{Field: field, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// stop reports whether the list is full, in which case the caller stops
// looking and the rest count as dropped.
func (p *problems) stop() bool {
	if len(p.errs) >= maxProblems {
		p.dropped++
		return true
	}
	return false
}

// err returns the problems as a *ValidationError, or nil.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := p.errs
	if p.dropped > 0 {
		errs = append(errs, FieldError{Msg: fmt.Sprintf("... and more problems: only the first %d are shown", maxProblems)})
	}
	return &ValidationError{Errors: errs}
}

// Error lists the problems one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

var (
	topologyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	segmentRE      = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	serviceRoleRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// aliasNameRE is the rule for credential alias names.
	aliasNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
)

const (
	maxPathLen        = 256
	maxParamKeyLen    = 256
	maxDescriptionLen = 4096
	aliasRefPrefix    = "${alias:"
	maxFailuresLimit  = 1_000_000
)

// Bounds of HA.SafeModeRetries and HA.SafeModeRetrySleep: a request waits
// at most their product for a namenode to leave safe mode, and asks it at
// most MaxSafeModeRetries+1 times.
const (
	MaxSafeModeRetries    = 10
	MaxSafeModeRetrySleep = time.Minute
)

// Validate checks t, which should be normalized (Parse does that). It returns
// a *ValidationError listing every problem, and warnings about risky but
// legal settings such as insecure_skip_verify. The proxy runs it before
// compiling, so the verdict is the same offline and on the server; what it
// cannot check without the server is listed by ServerChecks.
//
// Rules: the name matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (so never "."
// or ".." and never a slash); there is at least one service; each service
// path is 1-256 characters of at most MaxServiceDepth "/"-separated segments
// of [A-Za-z0-9._~-], none empty, "." or "..", without leading or trailing
// slash, not starting with the reserved "auth", unique within the topology;
// each routed service has 1-MaxServiceURLs URLs, each http, https, ws or
// wss, with a host, a valid port if any, and no user info, query or
// fragment; ws and wss need websocket: true; two-way TLS needs https or wss
// and a client certificate; services kept for discovery only (NAMENODE,
// JOBTRACKER) have URLs of any scheme and nothing to dispatch; services
// Knox serves itself (KNOX, KNOXSSO, KNOXTOKEN, KNOX-SESSION) are refused;
// every enabled provider is one the gateway implements (SupportedProviders),
// at most once, and one of them authenticates (role authentication or
// federation); param keys are non-empty, and neither keys nor values hold
// control characters; ${alias:NAME} references are well formed; durations,
// sizes and max_failures are not negative; failover statuses are 100-599.
// Items of a Knox document without an equivalent (an <application>) are
// reported too, all in one answer.
func Validate(t *Topology) (warnings []string, err error) {
	return ValidateWith(t, ProviderSupported)
}

// ValidateWith is Validate with the set of providers that can be built
// given by supported (the proxy passes its provider registry, which a test
// keeps equal to SupportedProviders).
func ValidateWith(t *Topology, supported func(role, name string) bool) (warnings []string, err error) {
	if t == nil {
		return nil, &ValidationError{Errors: []FieldError{{Msg: "no topology"}}}
	}
	v := &validator{supported: supported}
	for _, fe := range t.conv.problems {
		v.add(fe.Field, fe.Line, "%s", fe.Msg)
	}
	for _, w := range t.conv.warnings {
		v.warn("%s", w)
	}
	v.topology(t)
	if err := v.err(); err != nil {
		return v.warnings, err
	}
	return v.warnings, nil
}

type validator struct {
	problems
	warnings  []string
	supported func(role, name string) bool
}

func (v *validator) warn(format string, args ...any) {
	if len(v.warnings) >= maxProblems {
		return
	}
	v.warnings = append(v.warnings, fmt.Sprintf(format, args...))
}

func (v *validator) topology(t *Topology) {
	switch {
	case t.Name == "":
		v.add("name", 0, "a topology needs a name")
	case t.Name == "." || t.Name == ".." || !topologyNameRE.MatchString(t.Name):
		v.add("name", 0, "%q is not a valid topology name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", truncate(t.Name, 80))
	}
	if len(t.Description) > maxDescriptionLen {
		v.add("description", 0, "longer than %d bytes", maxDescriptionLen)
	}
	if strings.ContainsFunc(t.Description, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		v.add("description", 0, "contains control characters")
	}

	type key struct{ role, name string }
	enabled := map[key]int{}
	authenticates := false
	for i, p := range t.Providers {
		f := fmt.Sprintf("providers[%d]", i)
		v.provider(f, p)
		if !p.IsEnabled() {
			continue
		}
		if r := strings.ToLower(p.Role); (r == "authentication" || r == "federation") && v.supported(p.Role, p.Name) {
			authenticates = true
		}
		k := key{p.Role, p.Name}
		if j, dup := enabled[k]; dup {
			v.add(f, p.Line, "provider %s/%s is enabled twice (also providers[%d]%s)", p.Role, p.Name, j, lineSuffix(t.Providers[j].Line))
			continue
		}
		enabled[k] = i
	}

	if !authenticates {
		v.add("providers", 0, `no enabled authentication or federation provider: add one (provider "anonymous" to allow unauthenticated access explicitly)`)
	}
	if len(t.Services) == 0 {
		v.add("services", 0, "a topology needs at least one service")
	}
	paths := map[string]int{}
	for i := range t.Services {
		s := &t.Services[i]
		f := fmt.Sprintf("services[%d]", i)
		v.service(f, s)
		if j, dup := paths[s.Path]; dup && s.Path != "" {
			v.add(f+".path", s.Line, "duplicate path %q: services[%d]%s has it too", s.Path, j, lineSuffix(t.Services[j].Line))
			continue
		}
		paths[s.Path] = i
	}
	v.kerberosUserName(t)
}

// maxNamed is the most services a warning names.
const maxNamed = 10

// kerberosUserName warns when the gateway authenticates itself to its
// backends with Kerberos (the kerberos dispatch) while identity assertion
// sends the user as user.name: a Kerberized Hadoop service takes the caller
// from Kerberos and ignores user.name (the user a trusted proxy acts for is
// doAs), so every request would be the gateway principal's, and so would the
// files it creates. It names the services concerned: those routed to a
// backend, not federated (a federated request carries the user in its
// federation header).
func (v *validator) kerberosUserName(t *Topology) {
	if !slices.ContainsFunc(t.Providers, isKerberosDispatch) {
		return
	}
	i := slices.IndexFunc(t.Providers, func(p Provider) bool {
		return p.Role == "identity-assertion" && p.IsEnabled() && strings.EqualFold(p.Params["query_param"], "user.name")
	})
	if i < 0 {
		return
	}
	var named []string
	n := 0
	for _, s := range t.Services {
		if s.Path == "" || ServiceRoleKind(s.Role) != ServiceRouted || s.Dispatch != nil && s.Dispatch.Federate {
			continue
		}
		if n++; n <= maxNamed {
			named = append(named, strconv.Quote(truncate(s.Path, 80)))
		}
	}
	if n == 0 {
		return
	}
	what := "service " + named[0]
	if n > 1 {
		what = "services " + strings.Join(named, ", ")
		if n > maxNamed {
			what += fmt.Sprintf(" and %d more", n-maxNamed)
		}
	}
	p := t.Providers[i]
	v.warn("%s: the kerberos dispatch authenticates the gateway to the backend, and providers[%d]%s (identity-assertion) sends the user as query_param %q, "+
		"which a Kerberized Hadoop service ignores (it takes the caller from Kerberos, the user it acts for from doAs): "+
		"requests would run as the gateway's principal, which would own the files they create; set query_param: doAs",
		what, i, lineSuffix(p.Line), truncate(p.Params["query_param"], 16))
}

// isKerberosDispatch reports whether p is the enabled kerberos dispatch:
// the gateway authenticates to the backends with its own Kerberos principal.
func isKerberosDispatch(p Provider) bool {
	return p.Role == "dispatch" && p.Name == "kerberos" && p.IsEnabled()
}

func lineSuffix(line int) string {
	if line > 0 {
		return fmt.Sprintf(" at line %d", line)
	}
	return ""
}

func (v *validator) provider(f string, p Provider) {
	switch {
	case p.Role == "":
		v.add(f+".role", p.Line, "a provider needs a role")
	case p.Name == "":
		v.add(f+".name", p.Line, "a provider needs a name")
	case v.supported(p.Role, p.Name):
	case !p.IsEnabled():
		v.warn("%s%s: provider %q (role %q) is disabled; it is not supported and would be refused if enabled", f, lineSuffix(p.Line), truncate(p.Name, 64), truncate(p.Role, 32))
	default:
		if names, ok := supportedNames(p.Role); ok {
			v.add(f, p.Line, "provider %q (role %q) is not supported: role %s supports %s", truncate(p.Name, 64), truncate(p.Role, 32), p.Role, strings.Join(names, ", "))
		} else {
			v.add(f+".role", p.Line, "provider %q: role %q is not supported: the roles are %s", truncate(p.Name, 64), truncate(p.Role, 32), strings.Join(names, ", "))
		}
	}
	v.params(f+".params", p.Line, p.Params)
}

func (v *validator) service(f string, s *Service) {
	switch {
	case s.Path == "":
		v.add(f+".path", s.Line, "a service needs a path")
	case len(s.Path) > maxPathLen:
		v.add(f+".path", s.Line, "path is %d bytes long, the limit is %d", len(s.Path), maxPathLen)
	case strings.Count(s.Path, "/") >= MaxServiceDepth:
		v.add(f+".path", s.Line, "path has more than %d segments", MaxServiceDepth)
	default:
		if msg := checkSegments(s.Path); msg != "" {
			v.add(f+".path", s.Line, "%s", msg)
		} else if first, _, _ := strings.Cut(s.Path, "/"); first == ReservedPath {
			v.add(f+".path", s.Line, "path %q is reserved: /gateway/{topology}/%s/ is the gateway's own API", truncate(s.Path, 80), ReservedPath)
		}
	}
	if s.Role != "" && !serviceRoleRE.MatchString(s.Role) {
		v.add(f+".role", s.Line, "%q is not a valid service role: it must match %s", truncate(s.Role, 80), serviceRoleRE)
	}
	switch ServiceRoleKind(s.Role) {
	case ServiceUnsupported:
		v.add(f+".role", s.Line, "service role %s is served by Knox itself; the gateway has no equivalent: remove the service", s.Role)
		return
	case ServiceNotRouted:
		v.notRouted(f, s)
		return
	case ServiceGateway:
		if len(s.URLs) > 0 || s.WebSocket || s.Dispatch != nil || s.HA != nil {
			v.add(f, s.Line, "a %s service is served by the gateway itself: urls, websocket, dispatch and ha have no meaning", strings.ToUpper(s.Role))
		}
		v.params(f+".params", s.Line, s.Params)
		return
	}
	switch {
	case len(s.URLs) == 0:
		v.add(f+".urls", s.Line, "a service needs at least one backend URL")
	case len(s.URLs) > MaxServiceURLs:
		v.add(f+".urls", s.Line, "%d URLs: at most %d per service", len(s.URLs), MaxServiceURLs)
	}
	seen := map[string]int{}
	for i, raw := range s.URLs {
		uf := fmt.Sprintf("%s.urls[%d]", f, i)
		u, msg := checkURL(raw)
		if msg != "" {
			v.add(uf, s.Line, "%s", msg)
			continue
		}
		if j, dup := seen[raw]; dup {
			v.add(uf, s.Line, "%q repeats urls[%d]", raw, j)
			continue
		}
		seen[raw] = i
		if (u.Scheme == "ws" || u.Scheme == "wss") && !s.WebSocket {
			v.add(uf, s.Line, "%q is a WebSocket URL but the service does not set websocket: true", raw)
		}
		if s.Dispatch != nil && s.Dispatch.UseTwoWayTLS && u.Scheme != "https" && u.Scheme != "wss" {
			v.add(uf, s.Line, "%q: use_two_way_tls needs an https or wss URL", raw)
		}
	}
	v.params(f+".params", s.Line, s.Params)
	if s.Dispatch != nil {
		v.dispatch(f+".dispatch", s)
	}
	if s.HA != nil {
		v.ha(f+".ha", s)
	}
}

// notRouted checks a service kept for service discovery only: its URLs name
// RPC endpoints of any scheme, and it has nothing to dispatch.
func (v *validator) notRouted(f string, s *Service) {
	if len(s.URLs) == 0 {
		v.add(f+".urls", s.Line, "a %s service needs its endpoint URL (e.g. hdfs://namenode:8020)", s.Role)
	}
	for i, raw := range s.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Scheme == "" || u.Hostname() == "" || strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
			v.add(fmt.Sprintf("%s.urls[%d]", f, i), s.Line, "%q is not a URL with a scheme and a host", redactURL(raw))
		case u.User != nil:
			v.add(fmt.Sprintf("%s.urls[%d]", f, i), s.Line, "%q contains credentials: keep them in an alias", u.Redacted())
		}
	}
	if s.WebSocket || s.Dispatch != nil || s.HA != nil {
		v.add(f, s.Line, "a %s service is not routed (kept for service discovery): websocket, dispatch and ha have no meaning", s.Role)
	}
	v.params(f+".params", s.Line, s.Params)
}

// checkSegments reports the first bad segment of a path.
func checkSegments(path string) string {
	for seg := range strings.SplitSeq(path, "/") {
		switch {
		case seg == "":
			return fmt.Sprintf("%q has an empty segment", truncate(path, 80))
		case seg == "." || seg == "..":
			return fmt.Sprintf("%q has a %q segment", truncate(path, 80), seg)
		case !segmentRE.MatchString(seg):
			return fmt.Sprintf("%q: segment %q may hold only letters, digits and . _ ~ -", truncate(path, 80), truncate(seg, 40))
		}
	}
	return ""
}

// checkURL returns the parsed URL, or a message saying what is wrong with
// it. Messages never show a password.
func checkURL(raw string) (*url.URL, string) {
	if raw == "" {
		return nil, "empty URL"
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return nil, fmt.Sprintf("%q contains white space or control characters", redactURL(raw))
	}
	if !strings.Contains(raw, "://") {
		return nil, fmt.Sprintf("%q has no scheme (want http, https, ws or wss)", redactURL(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		msg := err.Error()
		if errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		if strings.Contains(raw, "@") {
			msg = "malformed user info or host"
		}
		return nil, fmt.Sprintf("%q is not a valid URL: %s", redactURL(raw), msg)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss":
		return nil, fmt.Sprintf("%q: scheme %q is not allowed (want http, https, ws or wss)", redactURL(raw), u.Scheme)
	case u.User != nil:
		return nil, fmt.Sprintf("%q contains credentials: keep them in an alias and refer to it with ${alias:NAME}", u.Redacted())
	case u.Hostname() == "":
		return nil, fmt.Sprintf("%q has no host", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Sprintf("%q has a query; backend URLs may not", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Sprintf("%q has a fragment; backend URLs may not", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Sprintf("%q: port %q is out of range", raw, p)
		}
	}
	return u, ""
}

// redactURL hides what may be user info in a URL that could not be parsed.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return truncate(raw, 200)
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return truncate(raw[:start]+"xxxxx"+raw[at:], 200)
}

// params checks keys and values; messages name keys, never values, which may
// be secrets.
func (v *validator) params(f string, line int, params map[string]string) {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pf := fmt.Sprintf("%s[%q]", f, truncate(k, 80))
		switch {
		case k == "":
			v.add(pf, line, "empty parameter name")
		case len(k) > maxParamKeyLen:
			v.add(pf, line, "parameter name longer than %d bytes", maxParamKeyLen)
		case strings.ContainsFunc(k, unicode.IsControl):
			v.add(pf, line, "parameter name contains control characters")
		}
		val := params[k]
		if strings.ContainsFunc(val, unicode.IsControl) {
			v.add(pf, line, "value contains control characters")
		}
		if strings.Contains(val, "${ALIAS=") {
			v.add(pf, line, "Knox-style ${ALIAS=...} reference: write ${alias:NAME}")
		}
		if _, err := scanAliasRefs(val); err != nil {
			v.add(pf, line, "%v", err)
		}
	}
}

// scanAliasRefs returns the alias names referred to as ${alias:NAME} in s.
func scanAliasRefs(s string) ([]string, error) {
	var names []string
	for {
		i := strings.Index(s, aliasRefPrefix)
		if i < 0 {
			return names, nil
		}
		rest := s[i+len(aliasRefPrefix):]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return names, errors.New("unterminated ${alias:...} reference")
		}
		name := rest[:j]
		if !aliasNameRE.MatchString(name) {
			return names, fmt.Errorf("malformed reference ${alias:%s}: alias names must match %s", truncate(name, 40), aliasNameRE)
		}
		names = append(names, name)
		s = rest[j+1:]
	}
}

func (v *validator) dispatch(f string, s *Service) {
	d := s.Dispatch
	for _, dd := range []struct {
		name string
		d    Duration
	}{
		{"dial_timeout", d.DialTimeout},
		{"tls_handshake_timeout", d.TLSHandshakeTimeout},
		{"response_header_timeout", d.ResponseHeaderTimeout},
		{"idle_timeout", d.IdleTimeout},
	} {
		if dd.d < 0 {
			v.add(f+"."+dd.name, s.Line, "negative duration %s", dd.d)
		}
	}
	if d.MaxBodyBytes < 0 {
		v.add(f+".max_body_bytes", s.Line, "negative size %d (0 means no limit)", d.MaxBodyBytes)
	}
	if d.UseTwoWayTLS && d.ClientCertificate == "" {
		v.add(f+".client_certificate", s.Line, "use_two_way_tls needs a client certificate: the alias holding its PEM certificate and key")
	}
	if d.ClientCertificate != "" {
		if !aliasNameRE.MatchString(d.ClientCertificate) {
			v.add(f+".client_certificate", s.Line, "%q is not a valid alias name (it must match %s)", truncate(d.ClientCertificate, 80), aliasNameRE)
		}
		if !d.UseTwoWayTLS {
			v.add(f+".client_certificate", s.Line, "a client certificate is set but use_two_way_tls is false")
		}
	}
	if d.Truststore != "" && !aliasNameRE.MatchString(d.Truststore) {
		v.add(f+".truststore", s.Line, "%q is not a valid truststore name (it must match %s)", truncate(d.Truststore, 80), aliasNameRE)
	}
	if d.InsecureSkipVerify {
		if d.Truststore != "" {
			v.add(f+".insecure_skip_verify", s.Line, "contradicts truststore %q: choose one", d.Truststore)
		}
		v.warn("service %q: insecure_skip_verify is on: the backend's TLS certificate is not verified", s.Path)
	}
	if d.FederationHeader != "" && !headerNameRE.MatchString(d.FederationHeader) {
		v.add(f+".federation_header", s.Line, "%q is not a valid HTTP header name", truncate(d.FederationHeader, 80))
	}
	if d.FederationSecret != "" && !aliasNameRE.MatchString(d.FederationSecret) {
		v.add(f+".federation_secret", s.Line, "%q is not a valid alias name (it must match %s)", truncate(d.FederationSecret, 80), aliasNameRE)
	}
	if len(d.Classname) > 256 || strings.ContainsFunc(d.Classname, unicode.IsControl) {
		v.add(f+".classname", s.Line, "not a class name")
	}
}

func (v *validator) ha(f string, s *Service) {
	h := s.HA
	for i, st := range h.FailoverStatuses {
		if st < 100 || st > 599 {
			v.add(fmt.Sprintf("%s.failover_statuses[%d]", f, i), s.Line, "%d is not an HTTP status (100-599)", st)
		}
	}
	if h.MaxFailures < 0 || h.MaxFailures > maxFailuresLimit {
		v.add(f+".max_failures", s.Line, "%d is out of range (0-%d)", h.MaxFailures, maxFailuresLimit)
	}
	if h.Cooloff < 0 {
		v.add(f+".cooloff", s.Line, "negative duration %s", h.Cooloff)
	}
	if h.HealthCheckInterval < 0 {
		v.add(f+".health_check_interval", s.Line, "negative duration %s", h.HealthCheckInterval)
	}
	if p := h.HealthCheckPath; p != "" && (!strings.HasPrefix(p, "/") || len(p) > 1024 ||
		strings.ContainsFunc(p, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) || strings.Contains(p, "#")) {
		v.add(f+".health_check_path", s.Line, "%q is not an absolute path (it must start with / and hold no white space or #)", truncate(p, 80))
	}
	if h.HealthCheckInterval > 0 && h.HealthCheckPath == "" {
		v.add(f+".health_check_interval", s.Line, "set without health_check_path")
	}
	if h.SafeModeRetries < 0 || h.SafeModeRetries > MaxSafeModeRetries {
		v.add(f+".safe_mode_retries", s.Line, "%d is out of range (0-%d)", h.SafeModeRetries, MaxSafeModeRetries)
	}
	if h.SafeModeRetrySleep < 0 || h.SafeModeRetrySleep.D() > MaxSafeModeRetrySleep {
		v.add(f+".safe_mode_retry_sleep", s.Line, "%s is out of range (0-%s)", h.SafeModeRetrySleep, Duration(MaxSafeModeRetrySleep))
	}
	if h.SafeModeRetrySleep != 0 && h.SafeModeRetries == 0 {
		v.add(f+".safe_mode_retry_sleep", s.Line, "set without safe_mode_retries")
	}
	if len(s.URLs) < 2 && h.SafeModeRetries == 0 {
		v.warn("service %q: ha has no effect with fewer than two URLs", s.Path)
	}
	if h.SafeModeRetries > 0 && ResourceManagerRole(s.Role) {
		v.warn("service %q: ha.safe_mode_retries has no effect on a %s service (it retries a WebHDFS namenode's safe-mode answer)", s.Path, truncate(s.Role, 32))
	}
}

// AliasRefs returns the credential aliases t refers to, sorted and unique:
// ${alias:NAME} in provider and service params, and dispatch
// client_certificate. Malformed references are skipped (Validate reports
// them).
func AliasRefs(t *Topology) []string {
	if t == nil {
		return nil
	}
	set := map[string]bool{}
	addParams := func(m map[string]string) {
		for _, val := range m {
			names, _ := scanAliasRefs(val)
			for _, n := range names {
				set[n] = true
			}
		}
	}
	for _, p := range t.Providers {
		addParams(p.Params)
	}
	for _, s := range t.Services {
		addParams(s.Params)
		if s.Dispatch != nil {
			for _, a := range []string{s.Dispatch.ClientCertificate, s.Dispatch.FederationSecret} {
				if a != "" && aliasNameRE.MatchString(a) {
					set[a] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
