package proxy_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/securegw/gateway"

// The data plane depends on neither the server, the store nor the CLI,
// directly or through the module's other packages (ARCHITECTURE.md).
func TestDependencyDirection(t *testing.T) {
	forbidden := []string{module + "/server", module + "/store", module + "/gatewayctl"}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var visit func(pkg string, via []string)
	visit = func(pkg string, via []string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("%s imports %s", strings.Join(via, " → "), pkg)
				return
			}
		}
		dir := filepath.Join(root, strings.TrimPrefix(pkg, module))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, n), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, module+"/") {
					visit(p, append(via, pkg))
				}
			}
		}
	}
	for _, pkg := range []string{"proxy", "proxy/chain", "proxy/providers", "proxy/identity", "proxy/frontend"} {
		visit(module+"/"+pkg, nil)
	}
	if len(seen) < 5 {
		t.Fatalf("visited only %v", seen)
	}
}
