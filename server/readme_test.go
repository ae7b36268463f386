package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeSection returns the README's "### title" section.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n### "+title+"\n")
	if i < 0 {
		t.Fatalf("README has no %q section", title)
	}
	s = s[i+1:]
	if j := strings.Index(s[4:], "\n#"); j >= 0 {
		s = s[:j+4]
	}
	return s
}

// Every metric the gateway registers is in the README's list.
func TestREADMEListsEveryMetric(t *testing.T) {
	section := readmeSection(t, "Metrics")
	name := regexp.MustCompile(`"(gateway_[a-z_]+)"`)
	found := 0
	err := filepath.WalkDir("../proxy", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range name.FindAllStringSubmatch(string(b), -1) {
			found++
			if !strings.Contains(section, "| `"+m[1]+"` |") {
				t.Errorf("%s registers %s, which the README's metrics list does not have", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 10 {
		t.Fatalf("found only %d metric names in proxy/", found)
	}
}

// Every field of the access log record is in the README's table.
func TestREADMEListsEveryAccessLogField(t *testing.T) {
	section := readmeSection(t, "Logs")
	b, err := os.ReadFile("../proxy/serve.go")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	i := strings.Index(src, "func (p *Proxy) finish(")
	j := strings.Index(src[max(i, 0):], `"access"`)
	if i < 0 || j < 0 {
		t.Fatal("cannot find the access log record in proxy/serve.go")
	}
	attrs := regexp.MustCompile(`slog\.(\w+)\("(\w+)"`).FindAllStringSubmatch(src[i:i+j], -1)
	if len(attrs) < 8 {
		t.Fatalf("found only %d access log fields", len(attrs))
	}
	for _, a := range attrs {
		field := a[2]
		if a[1] == "Duration" {
			field += "_ms" // durationsInMillis
		}
		if !strings.Contains(section, "| `"+field+"` |") {
			t.Errorf("the access log has %s, which the README's table does not", field)
		}
	}
}
