package topology

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Change is what a deploy does to one service, or to the topology's
// providers (Path ProvidersPath) or its description (Path TopologyPath).
type Change struct {
	Kind ChangeKind
	// Path is the service path, or ProvidersPath or TopologyPath; neither
	// can be a service path.
	Path string
	// Details say what changed, e.g. "urls: [a] → [b]". Parameter values
	// are never shown, only the names of changed parameters.
	Details []string
}

// ChangeKind is what happens to a service (or the providers, or the topology).
type ChangeKind int

// The kinds of change.
const (
	ChangeAdded ChangeKind = iota + 1
	ChangeChanged
	ChangeRemoved
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeAdded:
		return "added"
	case ChangeChanged:
		return "changed"
	case ChangeRemoved:
		return "removed"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Pseudo-paths of changes that concern no single service. They sort before
// every service path.
const (
	ProvidersPath = "(providers)"
	TopologyPath  = "(topology)"
)

// maxListedKeys bounds the parameter names listed in one detail.
const maxListedKeys = 20

// Diff reports what changes from old to new, sorted by path. Services are
// matched by path; providers by role and name (their order does not matter:
// the proxy orders the chain itself). A nil old means a new topology, a nil
// new a deleted one. Equal topologies give no changes.
func Diff(old, new *Topology) []Change {
	var changes []Change
	if old != nil && new != nil {
		var details []string
		if old.Name != new.Name {
			details = append(details, fmt.Sprintf("name: %q → %q", old.Name, new.Name))
		}
		if old.Description != new.Description {
			details = append(details, "description changed")
		}
		if len(details) > 0 {
			changes = append(changes, Change{Kind: ChangeChanged, Path: TopologyPath, Details: details})
		}
	}
	if c, ok := diffProviders(old, new); ok {
		changes = append(changes, c)
	}

	oldSvc, newSvc := servicesByPath(old), servicesByPath(new)
	for path, o := range oldSvc {
		n, ok := newSvc[path]
		if !ok {
			changes = append(changes, Change{Kind: ChangeRemoved, Path: path})
			continue
		}
		if details := serviceDetails(o, n); len(details) > 0 {
			changes = append(changes, Change{Kind: ChangeChanged, Path: path, Details: details})
		}
	}
	for path := range newSvc {
		if _, ok := oldSvc[path]; !ok {
			changes = append(changes, Change{Kind: ChangeAdded, Path: path})
		}
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes
}

// servicesByPath indexes services by normalized path; on duplicate paths
// (which Validate refuses) the first wins.
func servicesByPath(t *Topology) map[string]*Service {
	m := map[string]*Service{}
	if t == nil {
		return m
	}
	for i := range t.Services {
		s := &t.Services[i]
		p := strings.Trim(s.Path, "/")
		if _, dup := m[p]; !dup {
			m[p] = s
		}
	}
	return m
}

func serviceDetails(a, b *Service) []string {
	var d []string
	if a.Role != b.Role {
		d = append(d, fmt.Sprintf("role: %q → %q", a.Role, b.Role))
	}
	if !slices.Equal(a.URLs, b.URLs) {
		d = append(d, fmt.Sprintf("urls: %s → %s", urlList(a.URLs), urlList(b.URLs)))
	}
	if a.WebSocket != b.WebSocket {
		d = append(d, fmt.Sprintf("websocket: %t → %t", a.WebSocket, b.WebSocket))
	}
	if keys := changedKeys(a.Params, b.Params); keys != "" {
		d = append(d, "params changed: "+keys)
	}
	d = append(d, structDiff("dispatch", a.Dispatch, b.Dispatch)...)
	d = append(d, structDiff("ha", a.HA, b.HA)...)
	return d
}

func urlList(urls []string) string {
	shown := make([]string, len(urls))
	for i, u := range urls {
		shown[i] = redactURL(u)
	}
	return "[" + strings.Join(shown, " ") + "]"
}

// changedKeys lists, sorted, the keys added, removed or changed between two
// parameter maps; "" when they are equal.
func changedKeys(a, b map[string]string) string {
	set := map[string]bool{}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			set[k] = true
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			set[k] = true
		}
	}
	if len(set) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(set))
	suffix := ""
	if len(keys) > maxListedKeys {
		suffix = fmt.Sprintf(" and %d more", len(keys)-maxListedKeys)
		keys = keys[:maxListedKeys]
	}
	for i, k := range keys {
		keys[i] = truncate(k, 80)
	}
	return strings.Join(keys, ", ") + suffix
}

// structDiff compares two optional structs field by field (a nil pointer is
// the zero value) and describes each difference as "prefix.field: a → b",
// naming fields by their JSON names.
func structDiff[T any](prefix string, a, b *T) []string {
	var za, zb T
	if a == nil {
		a = &za
	}
	if b == nil {
		b = &zb
	}
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var d []string
	for i := range va.NumField() {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		if reflect.DeepEqual(fa, fb) {
			continue
		}
		name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
		d = append(d, fmt.Sprintf("%s.%s: %s → %s", prefix, name, showValue(fa), showValue(fb)))
	}
	return d
}

func showValue(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", truncate(v, 80))
	case Duration:
		return v.String()
	}
	return fmt.Sprint(v)
}

type providerKey struct {
	role, name string
	n          int // occurrence, for repeated disabled providers
}

func (k providerKey) String() string {
	if k.n > 0 {
		return fmt.Sprintf("%s/%s#%d", k.role, k.name, k.n+1)
	}
	return k.role + "/" + k.name
}

func providersByKey(t *Topology) (map[providerKey]*Provider, []providerKey) {
	m := map[providerKey]*Provider{}
	var order []providerKey
	if t == nil {
		return m, nil
	}
	for i := range t.Providers {
		p := &t.Providers[i]
		k := providerKey{role: p.Role, name: p.Name}
		for m[k] != nil {
			k.n++
		}
		m[k] = p
		order = append(order, k)
	}
	return m, order
}

// diffProviders reports provider changes as one Change, if there are any.
func diffProviders(old, new *Topology) (Change, bool) {
	om, oorder := providersByKey(old)
	nm, norder := providersByKey(new)
	var details []string
	for _, k := range oorder {
		if nm[k] == nil {
			details = append(details, "removed "+k.String())
		}
	}
	for _, k := range norder {
		o, n := om[k], nm[k]
		if o == nil {
			details = append(details, "added "+k.String())
			continue
		}
		if o.IsEnabled() != n.IsEnabled() {
			details = append(details, fmt.Sprintf("%s: enabled %t → %t", k, o.IsEnabled(), n.IsEnabled()))
		}
		if keys := changedKeys(o.Params, n.Params); keys != "" {
			details = append(details, fmt.Sprintf("%s: params changed: %s", k, keys))
		}
	}
	if len(details) == 0 {
		return Change{}, false
	}
	kind := ChangeChanged
	switch {
	case old == nil:
		kind = ChangeAdded
	case new == nil:
		kind = ChangeRemoved
	}
	return Change{Kind: kind, Path: ProvidersPath, Details: details}, true
}
