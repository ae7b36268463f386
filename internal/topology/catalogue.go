package topology

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

// catalogueData is the service catalogue: one line per Knox service role
// (see the file for its columns and where its facts come from).
//
//go:embed catalogue.txt
var catalogueData string

// ServiceType is whether a role is an API, a web UI or both (Knox's
// metadata type).
type ServiceType string

// Service types of the catalogue.
const (
	TypeAPI   ServiceType = "api"
	TypeUI    ServiceType = "ui"
	TypeAPIUI ServiceType = "api+ui"
)

// Rewrite is what the gateway rewrites in a role's responses beyond the
// headers (Location, Content-Location, Refresh, Set-Cookie), which it
// rewrites for every service.
type Rewrite string

// Rewrite behaviours of the catalogue.
const (
	// RewriteHeaders: headers only.
	RewriteHeaders Rewrite = ""
	// RewriteBody: HTML, CSS, JavaScript and JSON bodies too (web UIs).
	RewriteBody Rewrite = "body"
	// RewriteDatanode: a redirect to a host outside the topology becomes a
	// sealed gateway URL the gateway dispatches (WebHDFS's datanodes).
	RewriteDatanode Rewrite = "datanode"
)

// RoleInfo is one entry of the catalogue.
type RoleInfo struct {
	Role string // upper case
	// Path is where a Knox topology's service of the role is published.
	Path string
	// Backend is a path a Knox topology's URLs get appended, "" for none
	// (Knox maps {Path}/x to {url}{Backend}/x).
	Backend   string
	Type      ServiceType
	WebSocket bool
	Rewrite   Rewrite
	// KnoxVersions are the Knox service definition versions the entry
	// was read from ("" for Knox's test roles).
	KnoxVersions []string
}

// catalogue holds the entries in file order; catalogueIndex maps roles to
// them.
var catalogue, catalogueIndex = mustParseCatalogue(catalogueData)

func mustParseCatalogue(data string) ([]RoleInfo, map[string]*RoleInfo) {
	entries, err := parseCatalogue(data)
	if err != nil {
		panic("topology: catalogue.txt: " + err.Error())
	}
	idx := make(map[string]*RoleInfo, len(entries))
	for i := range entries {
		idx[entries[i].Role] = &entries[i]
	}
	return entries, idx
}

// parseCatalogue reads the catalogue's lines: seven columns, "-" for none,
// # comments.
func parseCatalogue(data string) ([]RoleInfo, error) {
	var out []RoleInfo
	seen := map[string]bool{}
	for n, line := range strings.Split(data, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 7 {
			return nil, fmt.Errorf("line %d: %d columns, want 7", n+1, len(f))
		}
		dash := func(s string) string {
			if s == "-" {
				return ""
			}
			return s
		}
		e := RoleInfo{Role: f[0], Path: f[1], Backend: dash(f[2]), Type: ServiceType(f[3]), WebSocket: f[4] == "ws", Rewrite: Rewrite(dash(f[5]))}
		if v := dash(f[6]); v != "" {
			e.KnoxVersions = strings.Split(v, ",")
		}
		switch {
		case e.Role != strings.ToUpper(e.Role) || !serviceRoleRE.MatchString(e.Role):
			return nil, fmt.Errorf("line %d: role %q is not an upper-case service role", n+1, e.Role)
		case seen[e.Role]:
			return nil, fmt.Errorf("line %d: role %s listed twice", n+1, e.Role)
		case checkSegments(e.Path) != "" || strings.HasPrefix(e.Path, "/") || strings.HasSuffix(e.Path, "/"):
			return nil, fmt.Errorf("line %d: path %q is not a service path", n+1, e.Path)
		case e.Backend != "" && (!strings.HasPrefix(e.Backend, "/") || strings.HasSuffix(e.Backend, "/")):
			return nil, fmt.Errorf("line %d: backend %q must start with / and not end with it", n+1, e.Backend)
		case e.Type != TypeAPI && e.Type != TypeUI && e.Type != TypeAPIUI:
			return nil, fmt.Errorf("line %d: kind %q is not api, ui or api+ui", n+1, e.Type)
		case f[4] != "-" && f[4] != "ws":
			return nil, fmt.Errorf("line %d: ws column %q is not ws or -", n+1, f[4])
		case e.Rewrite != RewriteHeaders && e.Rewrite != RewriteBody && e.Rewrite != RewriteDatanode:
			return nil, fmt.Errorf("line %d: rewrite %q is not body, datanode or -", n+1, f[5])
		}
		seen[e.Role] = true
		out = append(out, e)
	}
	return out, nil
}

// Catalogue returns the catalogue's entries, in the order of its file.
func Catalogue() []RoleInfo {
	out := slices.Clone(catalogue)
	for i := range out {
		out[i].KnoxVersions = slices.Clone(out[i].KnoxVersions)
	}
	return out
}

// LookupRole returns the catalogue's entry of a service role (any case).
func LookupRole(role string) (RoleInfo, bool) {
	e, ok := catalogueIndex[strings.ToUpper(role)]
	if !ok {
		return RoleInfo{}, false
	}
	return *e, true
}

// RoleRewrite is the rewrite behaviour of a service role, RewriteHeaders
// for roles outside the catalogue.
func RoleRewrite(role string) Rewrite {
	if e, ok := catalogueIndex[strings.ToUpper(role)]; ok {
		return e.Rewrite
	}
	return RewriteHeaders
}
