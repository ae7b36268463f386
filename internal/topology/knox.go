package topology

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// knoxService is where a Knox service role is published: the catalogue's
// path, backend path and WebSocket flag; roles outside it (NAMENODE,
// JOBTRACKER, Knox's own KNOXSSO…) at the role in lower case. known is
// false for a role that is neither in the catalogue nor one of the roles
// the gateway treats specially.
func knoxService(role string) (path, backend string, websocket, known bool) {
	if e, ok := LookupRole(role); ok {
		return e.Path, e.Backend, e.WebSocket, true
	}
	_, special := specialServiceRoles[role]
	return strings.ToLower(role), "", false, special
}

// knoxProviders maps Knox provider roles, then Knox provider names (lower
// case), to our provider names. Roles keep their Knox spelling.
var knoxProviders = map[string]map[string]string{
	"authentication": {
		"shiroprovider": "ldap",
		"anonymous":     "anonymous",
		"basicauth":     "basic",
		"hadoopauth":    "kerberos",
		"clientcert":    "client-cert",
	},
	"federation": {
		"headerpreauth":     "header-preauth",
		"ssocookieprovider": "sso-cookie",
		"jwtprovider":       "jwt",
		"pac4j":             "pac4j",
		"clientcert":        "client-cert",
	},
	"identity-assertion": {
		"default":             "default",
		"pseudo":              "default", // Knox's older name for Default
		"concat":              "concat",
		"regex":               "regex",
		"switchcase":          "switch-case",
		"hadoopgroupprovider": "hadoop-groups",
	},
	"authorization": {
		"aclsauthz": "acls",
	},
	"webappsec": {
		"webappsec": "webappsec",
	},
	"ha": {
		"haprovider": "ha",
	},
	"hostmap": {
		"static": "static",
	},
}

// federationDispatch is the Knox dispatch class of topology-based federation
// (seed 001); services using it send the asserted user in a header.
const federationDispatch = "HeaderPreAuthFederationDispatch"

// knoxAliasRef matches Knox credential references, ${ALIAS=name}.
var knoxAliasRef = regexp.MustCompile(`\$\{ALIAS=([^}]*)\}`)

// decodeKnox converts a Knox topology document. docName is the content of a
// top-level <name> element, if any.
func decodeKnox(doc []byte) (t *Topology, docName string, err error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	d.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not supported: topologies are UTF-8", charset)
	}
	r := &knoxReader{d: d}
	root, err := r.root()
	if err != nil {
		return nil, "", err
	}
	t, docName, err = r.topology(root)
	if err != nil {
		return nil, "", err
	}
	// Nothing but comments and white space may follow the root.
	for {
		tok, err := r.next()
		if errors.Is(err, io.EOF) {
			return t, docName, nil
		}
		if err != nil {
			return nil, "", err
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) > 0 {
			return nil, "", fmt.Errorf("line %d: unexpected content after </topology>", r.line())
		}
	}
}

type knoxReader struct {
	d *xml.Decoder
}

func (r *knoxReader) line() int {
	l, _ := r.d.InputPos()
	return l
}

// next returns the next element or text token. DOCTYPE and every other
// <!...> declaration are refused before anything could use them: entity
// declarations are how XXE and billion-laughs attacks start.
func (r *knoxReader) next() (xml.Token, error) {
	for {
		tok, err := r.d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, err
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("line %d: invalid XML: %s", se.Line, se.Msg)
			}
			return nil, fmt.Errorf("line %d: invalid XML: %w", r.line(), err)
		}
		switch tok := tok.(type) {
		case xml.Directive:
			kind := "declaration"
			if f := strings.Fields(string(tok)); len(f) > 0 {
				kind = f[0]
			}
			return nil, fmt.Errorf("line %d: <!%s ...> is not allowed: DOCTYPE and ENTITY declarations are refused in topology XML", r.line(), kind)
		case xml.Comment, xml.ProcInst:
			continue
		case xml.CharData:
			return tok.Copy(), nil
		default:
			return tok, nil
		}
	}
}

func (r *knoxReader) root() (xml.StartElement, error) {
	for {
		tok, err := r.next()
		if errors.Is(err, io.EOF) {
			return xml.StartElement{}, errEmpty
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local != "topology" {
				return xml.StartElement{}, fmt.Errorf("line %d: root element is <%s>, want <topology>", r.line(), tok.Name.Local)
			}
			return tok, nil
		case xml.CharData:
			if len(bytes.TrimSpace(tok)) > 0 {
				return xml.StartElement{}, fmt.Errorf("line %d: text before <topology>", r.line())
			}
		}
	}
}

// children calls fn for each child element of parent, refusing text between
// them. fn must consume the child up to its end tag.
func (r *knoxReader) children(parent string, fn func(xml.StartElement, int) error) error {
	for {
		tok, err := r.next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: unexpected end of document inside <%s>", r.line(), parent)
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if err := fn(tok, r.line()); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		case xml.CharData:
			if len(bytes.TrimSpace(tok)) > 0 {
				return fmt.Errorf("line %d: unexpected text %q inside <%s>", r.line(), truncate(strings.TrimSpace(string(tok)), 40), parent)
			}
		}
	}
}

// text returns the trimmed text content of a leaf element.
func (r *knoxReader) text(el xml.StartElement) (string, error) {
	var b strings.Builder
	for {
		tok, err := r.next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("line %d: unexpected end of document inside <%s>", r.line(), el.Name.Local)
		}
		if err != nil {
			return "", err
		}
		switch tok := tok.(type) {
		case xml.CharData:
			b.Write(tok)
		case xml.StartElement:
			return "", fmt.Errorf("line %d: unexpected element <%s> inside <%s>", r.line(), tok.Name.Local, el.Name.Local)
		case xml.EndElement:
			return strings.TrimSpace(b.String()), nil
		}
	}
}

// once reads a leaf element that may appear at most once.
func (r *knoxReader) once(dst *string, seen map[string]bool, el xml.StartElement, line int) error {
	name := el.Name.Local
	if seen[name] {
		return fmt.Errorf("line %d: <%s> given twice", line, name)
	}
	seen[name] = true
	v, err := r.text(el)
	*dst = v
	return err
}

func (r *knoxReader) topology(root xml.StartElement) (*Topology, string, error) {
	t := &Topology{}
	var docName, ignored string
	seen := map[string]bool{}
	err := r.children("topology", func(el xml.StartElement, line int) error {
		switch el.Name.Local {
		case "gateway":
			if seen["gateway"] {
				return fmt.Errorf("line %d: <gateway> given twice", line)
			}
			seen["gateway"] = true
			return r.children("gateway", func(el xml.StartElement, line int) error {
				if el.Name.Local != "provider" {
					return unknownElement(el, "gateway", line)
				}
				p, err := r.provider(line)
				if err != nil {
					return err
				}
				t.Providers = append(t.Providers, p)
				return nil
			})
		case "service":
			s, known, err := r.service(line)
			if err != nil {
				return err
			}
			if !known {
				t.conv.problems = append(t.conv.problems, FieldError{Field: fmt.Sprintf("services[%d].role", len(t.Services)), Line: line,
					Msg: fmt.Sprintf("Knox service role %s is not in the gateway's catalogue (gatewayctl topology roles lists it): publish the service from a native topology with its path", truncate(s.Role, 64))})
			}
			t.Services = append(t.Services, s)
			return nil
		case "name":
			return r.once(&docName, seen, el, line)
		case "version", "redeployTime", "generated":
			// Knox bookkeeping without meaning here.
			return r.once(&ignored, seen, el, line)
		case "application":
			name, err := r.application()
			t.conv.problems = append(t.conv.problems, FieldError{Field: "application", Line: line,
				Msg: fmt.Sprintf("Knox application %q is not supported: the gateway serves no Knox web applications", truncate(name, 64))})
			return err
		}
		return unknownElement(el, "topology", line)
	})
	if err == nil {
		dropShiroAnonURLs(t)
		convertHadoopAuth(t)
		assertUserInQuery(t)
		convertHA(t)
	}
	return t, docName, err
}

// assertUserInQuery gives Knox's identity assertion its Knox behaviour:
// Knox puts the asserted user into the query of every request it
// dispatches (IdentityAsserterHttpServletRequestWrapper), as user.name, or
// as doAs when the gateway authenticates to Kerberized backends itself.
// Without it a Hadoop service behind a converted topology would see no
// user (HDFS: dr.who). A query_param the document sets is kept.
func assertUserInQuery(t *Topology) {
	param := "user.name"
	if slices.ContainsFunc(t.Providers, isKerberosDispatch) {
		param = "doAs"
	}
	for i := range t.Providers {
		p := &t.Providers[i]
		if p.Role != "identity-assertion" {
			continue
		}
		if _, set := p.Params["query_param"]; set {
			continue
		}
		if p.Params == nil {
			p.Params = map[string]string{}
		}
		p.Params["query_param"] = param
	}
}

// dropShiroAnonURLs removes ShiroProvider params "urls./PATH" = anon whose
// PATH names no service of the topology (Knox's sandbox opens the JWKS of a
// KNOXTOKEN service it does not have): they would open nothing, and the
// provider has no anonymous paths. Dropping them only ever asks for more
// authentication; each is a warning. Those naming a service are kept, for
// the provider to refuse.
func dropShiroAnonURLs(t *Topology) {
	for i := range t.Providers {
		p := &t.Providers[i]
		if p.Role != "authentication" || p.Name != "ldap" {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(p.Params)) {
			path, ok := strings.CutPrefix(k, "urls.")
			if !ok || path == "/**" || !strings.EqualFold(strings.TrimSpace(p.Params[k]), "anon") {
				continue
			}
			first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
			if slices.ContainsFunc(t.Services, func(s Service) bool {
				sf, _, _ := strings.Cut(strings.Trim(s.Path, "/"), "/")
				return sf == first
			}) {
				continue
			}
			delete(p.Params, k)
			t.conv.warnings = append(t.conv.warnings, fmt.Sprintf("providers[%d]%s: Shiro param %q (anon) dropped: no service %q in this topology", i, lineSuffix(p.Line), truncate(k, 80), truncate(first, 40)))
		}
	}
}

func (r *knoxReader) provider(line int) (Provider, error) {
	var role, name, enabled string
	var params map[string]string
	seen := map[string]bool{}
	err := r.children("provider", func(el xml.StartElement, l int) error {
		switch el.Name.Local {
		case "role":
			return r.once(&role, seen, el, l)
		case "name":
			return r.once(&name, seen, el, l)
		case "enabled":
			return r.once(&enabled, seen, el, l)
		case "param":
			return r.param(&params, "provider", l)
		}
		return unknownElement(el, "provider", l)
	})
	if err != nil {
		return Provider{}, err
	}
	p := Provider{Role: role, Params: params, Line: line}
	switch {
	case role == "":
		return p, fmt.Errorf("line %d: provider has no <role>", line)
	case name == "":
		return p, fmt.Errorf("line %d: provider has no <name>", line)
	}
	// Known names become ours; others keep their name in lower case, for
	// Validate to refuse by name along with every other problem.
	p.Role = strings.ToLower(role)
	var ok bool
	if p.Name, ok = knoxProviders[p.Role][strings.ToLower(name)]; !ok {
		p.Name = strings.ToLower(name)
	}
	if seen["enabled"] {
		b, err := parseKnoxBool(enabled)
		if err != nil {
			return p, fmt.Errorf("line %d: provider %q: <enabled>: %w", line, name, err)
		}
		p.Enabled = &b
	}
	return p, nil
}

// service reads a <service>; known reports whether its role is in the
// catalogue or treated specially.
func (r *knoxReader) service(line int) (s Service, known bool, err error) {
	s = Service{Line: line}
	var role, ignored string
	seen := map[string]bool{}
	err = r.children("service", func(el xml.StartElement, l int) error {
		switch el.Name.Local {
		case "role":
			return r.once(&role, seen, el, l)
		case "name", "version":
			// A service definition's name and version: we have no
			// definitions to choose between.
			return r.once(&ignored, seen, el, l)
		case "url":
			u, err := r.text(el)
			s.URLs = append(s.URLs, u)
			return err
		case "param":
			return r.param(&s.Params, "service", l)
		case "dispatch":
			if seen["dispatch"] {
				return fmt.Errorf("line %d: <dispatch> given twice", l)
			}
			seen["dispatch"] = true
			d, err := r.dispatch(l)
			s.Dispatch = d
			return err
		}
		return unknownElement(el, "service", l)
	})
	if err != nil {
		return s, false, err
	}
	if role == "" {
		return s, false, fmt.Errorf("line %d: service has no <role>", line)
	}
	s.Role = strings.ToUpper(role)
	var backend string
	s.Path, backend, s.WebSocket, known = knoxService(s.Role)
	for i, raw := range s.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue // Validate names it
		}
		// Knox proxies WebSocket for any ws:// or wss:// backend.
		if u.Scheme == "ws" || u.Scheme == "wss" {
			s.WebSocket = true
		}
		if backend != "" && !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), backend) {
			u.Path = strings.TrimSuffix(u.Path, "/") + backend
			u.RawPath = ""
			s.URLs[i] = u.String()
		}
	}
	return s, known, nil
}

// application reads an <application> element, returning its name.
func (r *knoxReader) application() (string, error) {
	var name string
	seen := map[string]bool{}
	err := r.children("application", func(el xml.StartElement, l int) error {
		if el.Name.Local == "name" {
			return r.once(&name, seen, el, l)
		}
		return r.d.Skip()
	})
	return name, err
}

func (r *knoxReader) dispatch(line int) (*Dispatch, error) {
	d := &Dispatch{}
	var twoWay string
	seen := map[string]bool{}
	err := r.children("dispatch", func(el xml.StartElement, l int) error {
		switch el.Name.Local {
		case "classname":
			return r.once(&d.Classname, seen, el, l)
		case "use-two-way-ssl":
			return r.once(&twoWay, seen, el, l)
		case "contributor-name", "ha-classname", "ha-contributor-name", "http-client-factory":
			return fmt.Errorf("line %d: <dispatch><%s> is not supported: there are no Java dispatch classes here", l, el.Name.Local)
		}
		return unknownElement(el, "dispatch", l)
	})
	if err != nil {
		return nil, err
	}
	if seen["use-two-way-ssl"] {
		b, err := parseKnoxBool(twoWay)
		if err != nil {
			return nil, fmt.Errorf("line %d: <use-two-way-ssl>: %w", line, err)
		}
		d.UseTwoWayTLS = b
	}
	// The federation dispatch class sets Federate in Normalize, which
	// applies to every format; its header is the gateway's
	// federation.header (Knox's gateway.custom.federation.header.name).
	return d, nil
}

// param reads <param><name/><value/></param> into *params. Values keep
// their text (trimmed of surrounding white space) except that Knox alias
// references ${ALIAS=name} become ours, ${alias:name}.
func (r *knoxReader) param(params *map[string]string, parent string, line int) error {
	var name, value string
	seen := map[string]bool{}
	err := r.children("param", func(el xml.StartElement, l int) error {
		switch el.Name.Local {
		case "name":
			return r.once(&name, seen, el, l)
		case "value":
			return r.once(&value, seen, el, l)
		}
		return unknownElement(el, "param", l)
	})
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("line %d: %s param has no <name>", line, parent)
	}
	if *params == nil {
		*params = map[string]string{}
	}
	if _, dup := (*params)[name]; dup {
		return fmt.Errorf("line %d: %s param %q given twice", line, parent, name)
	}
	(*params)[name] = knoxAliasRef.ReplaceAllString(value, "$${alias:$1}")
	return nil
}

func unknownElement(el xml.StartElement, parent string, line int) error {
	return fmt.Errorf("line %d: unknown element <%s> in <%s>", line, el.Name.Local, parent)
}

// parseKnoxBool accepts true and false in any case.
func parseKnoxBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", truncate(s, 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
