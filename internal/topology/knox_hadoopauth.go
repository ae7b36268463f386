package topology

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// defaultHadoopAuthPrefix is Knox's HadoopAuth config.prefix default.
const defaultHadoopAuthPrefix = "hadoop.auth.config"

// aliasNameChars are the characters an alias name may not hold.
var aliasNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// convertHadoopAuth turns the params of Knox's HadoopAuth provider (now
// authentication/kerberos) into ours: names lose config.prefix, type must
// be kerberos, token.validity (seconds) becomes cookie.validity, a keytab
// file path becomes a reference to an alias named after the file (which
// must be created from it: a warning says how), multi-line
// kerberos.name.rules are joined, and simple.anonymous.allowed (for type
// simple) goes.
func convertHadoopAuth(t *Topology) {
	for i := range t.Providers {
		p := &t.Providers[i]
		if p.Role != "authentication" || p.Name != "kerberos" || p.Params == nil {
			continue
		}
		field := fmt.Sprintf("providers[%d]", i)
		prefix := defaultHadoopAuthPrefix
		if v, ok := p.Params["config.prefix"]; ok {
			prefix = strings.TrimSpace(v)
			delete(p.Params, "config.prefix")
		}
		params := map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(p.Params)) {
			name := k
			if prefix != "" {
				name = strings.TrimPrefix(k, prefix+".")
			}
			params[name] = p.Params[k]
		}
		if typ, ok := params["type"]; ok {
			if !strings.EqualFold(strings.TrimSpace(typ), "kerberos") {
				t.conv.problems = append(t.conv.problems, FieldError{Field: field + `.params["type"]`, Line: p.Line,
					Msg: fmt.Sprintf("HadoopAuth type %q is not supported: only kerberos", truncate(typ, 40))})
			}
			delete(params, "type")
		}
		delete(params, "simple.anonymous.allowed")
		if v, ok := params["token.validity"]; ok {
			delete(params, "token.validity")
			secs, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || secs < 0 {
				t.conv.problems = append(t.conv.problems, FieldError{Field: field + `.params["token.validity"]`, Line: p.Line,
					Msg: fmt.Sprintf("%q is not a number of seconds", truncate(v, 40))})
			} else {
				params["cookie.validity"] = strconv.Itoa(secs) + "s"
			}
		}
		if v, ok := params["kerberos.name.rules"]; ok {
			params["kerberos.name.rules"] = strings.Join(strings.Fields(v), " ")
		}
		if v, ok := params["kerberos.keytab"]; ok && !strings.HasPrefix(strings.TrimSpace(v), "${alias:") {
			file := strings.TrimSpace(v)
			alias := strings.Trim(aliasNameChars.ReplaceAllString(path.Base(file), "-"), "-._")
			if alias == "" {
				alias = "keytab"
			}
			alias = truncate(alias, 120)
			params["kerberos.keytab"] = "${alias:" + alias + "}"
			t.conv.warnings = append(t.conv.warnings, fmt.Sprintf("%s%s: kerberos.keytab %q is a file: keytabs are aliases here; "+
				"the topology now uses ${alias:%s}: create it with gatewayctl alias create %s --from-file %s",
				field, lineSuffix(p.Line), truncate(file, 80), alias, alias, truncate(file, 80)))
		}
		p.Params = params
	}
}
