package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/securegw/gateway"

// dataPlaneForbidden are what nothing under proxy/ may depend on.
var dataPlaneForbidden = []string{
	module + "/server",
	module + "/store",
	module + "/gatewayctl",
	module + "/proto",
	"google.golang.org/grpc",
}

// cliAllowed are the module packages gatewayctl may import; a trailing "/"
// allows the subtree.
var cliAllowed = []string{
	module + "/gatewayctl/",
	module + "/proto/gateway/v1",
	module + "/internal/topology",
	module + "/internal/topologypb",
	module + "/internal/flagerr",
}

// pkg is the part of `go list -json` the rules read.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func under(path, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix) || path == strings.TrimSuffix(prefix, "/")
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// dataPlaneViolations lists the forbidden dependencies of the given packages.
func dataPlaneViolations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, d := range append(slices.Clone(p.Imports), p.Deps...) {
			for _, f := range dataPlaneForbidden {
				if under(d, f) {
					out = append(out, fmt.Sprintf("%s depends on %s", p.ImportPath, d))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cliViolations lists the module imports of gatewayctl's packages that the
// rule does not allow.
func cliViolations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if !under(imp, module) {
				continue
			}
			if !slices.ContainsFunc(cliAllowed, func(a string) bool { return under(imp, a) }) {
				out = append(out, fmt.Sprintf("%s imports %s", p.ImportPath, imp))
			}
		}
	}
	return out
}

// TestDataPlaneDependencies: the proxy compiles from plain Go types and
// links neither gRPC nor the generated API, nor the server, store or CLI.
func TestDataPlaneDependencies(t *testing.T) {
	t.Parallel()
	pkgs := goList(t, "-test", "./proxy/...")
	var inModule int
	for _, p := range pkgs {
		if strings.HasPrefix(p.ImportPath, module+"/proxy") {
			inModule++
		}
	}
	if inModule < 10 || len(pkgs[0].Deps) == 0 {
		t.Fatalf("go list saw only %d proxy packages", inModule)
	}
	for _, v := range dataPlaneViolations(pkgs) {
		t.Error(v)
	}
}

// TestCLIImports: gatewayctl reaches the server only through the API.
func TestCLIImports(t *testing.T) {
	t.Parallel()
	pkgs := goList(t, "./gatewayctl/...")
	if len(pkgs) < 2 {
		t.Fatalf("go list saw only %d gatewayctl packages", len(pkgs))
	}
	for _, v := range cliViolations(pkgs) {
		t.Errorf("%s: gatewayctl may import only %v from the module", v, cliAllowed)
	}
}

// The checks catch what they are for.
func TestRulesCatchViolations(t *testing.T) {
	t.Parallel()
	dp := dataPlaneViolations([]pkg{
		{ImportPath: module + "/proxy", Deps: []string{"net/http", "google.golang.org/grpc/codes", module + "/proto/gateway/v1", module + "/internal/topology"}},
		{ImportPath: module + "/proxy/chain", Imports: []string{module + "/store"}},
		{ImportPath: module + "/proxy/x", Deps: []string{module + "/storefront", "google.golang.org/grpcx"}},
	})
	want := []string{
		module + "/proxy depends on " + module + "/proto/gateway/v1",
		module + "/proxy depends on google.golang.org/grpc/codes",
		module + "/proxy/chain depends on " + module + "/store",
	}
	if !slices.Equal(dp, want) {
		t.Errorf("data plane rule found\n%q\nwant\n%q", dp, want)
	}
	cli := cliViolations([]pkg{{ImportPath: module + "/gatewayctl/internal/cli", Imports: []string{
		"fmt", module + "/internal/topology", module + "/internal/topologypb", module + "/proto/gateway/v1",
		module + "/gatewayctl/internal/x", module + "/proxy", module + "/internal/topologyx", module + "/server/internal/api",
	}}})
	wantCLI := []string{
		module + "/gatewayctl/internal/cli imports " + module + "/proxy",
		module + "/gatewayctl/internal/cli imports " + module + "/internal/topologyx",
		module + "/gatewayctl/internal/cli imports " + module + "/server/internal/api",
	}
	if !slices.Equal(cli, wantCLI) {
		t.Errorf("CLI rule found\n%q\nwant\n%q", cli, wantCLI)
	}
}
