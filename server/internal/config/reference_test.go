package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// yamlKeys returns the dotted paths of every leaf key of t's YAML form.
func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration(0)) {
			out = append(out, yamlKeys(ft, key+".")...)
			continue
		}
		out = append(out, key)
	}
	return out
}

// The README's configuration reference documents every key of gateway.yaml,
// and no key that does not exist.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Configuration: gateway.yaml")
	if start < 0 {
		t.Fatal("README has no configuration section")
	}
	section := readme[start:]
	if end := strings.Index(section, "\n### "); end >= 0 {
		section = section[:end]
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	keys := yamlKeys(reflect.TypeOf(Config{}), "")
	sort.Strings(keys)
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("README's configuration reference does not document %s (add a row: | `%s` | default | what it does |)", k, k)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("README's configuration reference documents %s, which is no key of gateway.yaml", k)
	}
	if len(keys) < 30 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
}
