package assertion

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/securegw/gateway/proxy/chain"
	"github.com/securegw/gateway/proxy/providers/internal/match"
)

// principalMapping is Knox's principal.mapping: "guest,alice=hdfs;mary=alice2",
// with "*" on the left for every user not named elsewhere.
type principalMapping struct {
	users map[string]string
	any   string
}

func parsePrincipalMapping(param, v string) (principalMapping, error) {
	m := principalMapping{users: map[string]string{}}
	err := parseEntries(param, v, func(users []string, right string) error {
		to := strings.TrimSpace(right)
		if to == "" || strings.Contains(to, ",") || match.HasControl(to) {
			return fmt.Errorf("%q: the right side must be one user name", right)
		}
		for _, u := range users {
			if u == "*" {
				if m.any != "" {
					return fmt.Errorf("* is mapped twice")
				}
				m.any = to
				continue
			}
			if _, dup := m.users[u]; dup {
				return fmt.Errorf("user %q is mapped twice", u)
			}
			m.users[u] = to
		}
		return nil
	})
	return m, err
}

func (m principalMapping) apply(name string) string {
	if to, ok := m.users[name]; ok {
		return to
	}
	if m.any != "" {
		return m.any
	}
	return name
}

// groupMapping is Knox's group.principal.mapping, "*=users;hdfs,bob=admin,ops",
// and Hadoop's hadoop.user.group.static.mapping.overrides,
// "user1=group1,group2;user2=": groups added to a principal by name.
type groupMapping struct {
	users map[string][]string
	all   []string // for every user ("*")
}

func (g *groupMapping) parse(param, v string, singleUser bool) error {
	if g.users == nil {
		g.users = map[string][]string{}
	}
	return parseEntries(param, v, func(users []string, right string) error {
		if singleUser && len(users) != 1 {
			return fmt.Errorf("one user per entry (user=group1,group2)")
		}
		var groups []string
		if strings.TrimSpace(right) != "" {
			for gname := range strings.SplitSeq(right, ",") {
				gname = strings.TrimSpace(gname)
				if gname == "" || match.HasControl(gname) {
					return fmt.Errorf("%q: empty group name or control characters", right)
				}
				groups = append(groups, gname)
			}
		} else if !singleUser {
			return fmt.Errorf("no groups for %s", strings.Join(users, ","))
		}
		for _, u := range users {
			if u == "*" {
				g.all = appendNew(g.all, groups...)
			} else {
				g.users[u] = appendNew(g.users[u], groups...)
			}
		}
		return nil
	})
}

func (g *groupMapping) empty() bool { return len(g.users) == 0 && len(g.all) == 0 }

// of returns the groups mapped to name (shared slices: do not modify).
func (g *groupMapping) of(name string) (own, all []string) { return g.users[name], g.all }

// parseEntries splits "a,b=x;c=y" into entries, calling fn with the trimmed
// left-side names and the raw right side. Empty entries (a trailing ";") are
// skipped.
func parseEntries(param, v string, fn func(left []string, right string) error) error {
	n := 0
	for entry := range strings.SplitSeq(v, ";") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		n++
		left, right, ok := strings.Cut(entry, "=")
		if !ok {
			return &chain.ParamError{Param: param, Reason: fmt.Sprintf("entry %q has no '='", strings.TrimSpace(entry))}
		}
		var users []string
		for u := range strings.SplitSeq(left, ",") {
			u = strings.TrimSpace(u)
			if u == "" || match.HasControl(u) {
				return &chain.ParamError{Param: param, Reason: fmt.Sprintf("entry %q: empty user name or control characters", strings.TrimSpace(entry))}
			}
			users = append(users, u)
		}
		if err := fn(users, right); err != nil {
			return &chain.ParamError{Param: param, Reason: err.Error()}
		}
	}
	if n == 0 {
		return &chain.ParamError{Param: param, Reason: "no mapping (name=value;…)"}
	}
	return nil
}

func appendNew(dst []string, add ...string) []string {
	for _, s := range add {
		found := false
		for _, d := range dst {
			found = found || d == s
		}
		if !found {
			dst = append(dst, s)
		}
	}
	return dst
}

// caseFunc parses a case param: lower, upper or none.
func caseFunc(param, v string) (func(string) string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "lower":
		return strings.ToLower, nil
	case "upper":
		return strings.ToUpper, nil
	case "none":
		return nil, nil
	}
	return nil, &chain.ParamError{Param: param, Reason: fmt.Sprintf("%q: must be lower, upper or none", v)}
}

// regexTemplate is Knox's Regex identity assertion: input is searched for
// in the name (unanchored, as Knox's find()); output is a template of
// literal text, {n} (group n) and {[n]} (group n translated by lookup). A
// name that input does not match is left unchanged (Knox would assert the
// raw template). Replacements are not expanded again.
type regexTemplate struct {
	re           *regexp.Regexp
	parts        []templatePart
	lookup       map[string]string
	keepOnFailed bool
}

type templatePart struct {
	lit    string
	group  int // -1: literal
	lookup bool
}

var templateRef = regexp.MustCompile(`\{(\[)?(\d+)(\])?\}`)

func parseRegexTemplate(input, output, lookup string, keep bool) (*regexTemplate, error) {
	re, err := regexp.Compile(input)
	if err != nil {
		return nil, &chain.ParamError{Param: "input", Reason: err.Error()}
	}
	t := &regexTemplate{re: re, keepOnFailed: keep, lookup: map[string]string{}}
	last := 0
	for _, m := range templateRef.FindAllStringSubmatchIndex(output, -1) {
		open, closed := m[2] >= 0, m[6] >= 0
		if open != closed {
			return nil, &chain.ParamError{Param: "output", Reason: fmt.Sprintf("%q: unbalanced [ ] in a group reference", output[m[0]:m[1]])}
		}
		n, err := strconv.Atoi(output[m[4]:m[5]])
		if err != nil || n > re.NumSubexp() {
			return nil, &chain.ParamError{Param: "output", Reason: fmt.Sprintf("%q refers to a group that input does not have (it has %d)", output[m[0]:m[1]], re.NumSubexp())}
		}
		if m[0] > last {
			t.parts = append(t.parts, templatePart{lit: output[last:m[0]], group: -1})
		}
		t.parts = append(t.parts, templatePart{group: n, lookup: open})
		last = m[1]
	}
	if last < len(output) {
		t.parts = append(t.parts, templatePart{lit: output[last:], group: -1})
	}
	if strings.TrimSpace(lookup) != "" {
		err := parseEntries("lookup", lookup, func(left []string, right string) error {
			for _, k := range left {
				t.lookup[k] = strings.TrimSpace(right)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *regexTemplate) apply(name string) string {
	m := t.re.FindStringSubmatchIndex(name)
	if m == nil {
		return name
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.group < 0 {
			b.WriteString(p.lit)
			continue
		}
		v := ""
		if m[2*p.group] >= 0 {
			v = name[m[2*p.group]:m[2*p.group+1]]
		}
		if p.lookup {
			tr, ok := t.lookup[v]
			switch {
			case ok:
				v = tr
			case !t.keepOnFailed:
				v = ""
			}
		}
		b.WriteString(v)
	}
	return b.String()
}
