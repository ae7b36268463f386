package cli

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportRule enforces the architecture's dependency rule: gatewayctl
// imports, from this module, only the generated API and internal/topology.
func TestImportRule(t *testing.T) {
	t.Parallel()
	const module = "github.com/securegw/gateway/"
	allowed := []string{module + "proto/gateway/v1", module + "internal/topology", module + "gatewayctl/"}
	root := filepath.Join("..", "..") // gatewayctl/
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || p == strings.TrimSuffix(a, "/") || (strings.HasSuffix(a, "/") && strings.HasPrefix(p, a))
			}
			if !ok {
				t.Errorf("%s imports %s: gatewayctl may import only the generated API and internal/topology", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files", checked)
	}
}
