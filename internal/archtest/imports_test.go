package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/securegw/gateway"

// rule: packages under from may not import (transitively) packages under any of deny,
// and, when allow is set, may import only module packages under allow.
type rule struct {
	from  string
	deny  []string
	allow []string
}

var rules = []rule{
	{from: "proxy", deny: []string{"server", "store", "gatewayctl"}},
	{from: "store", deny: []string{"proxy", "server", "gatewayctl"}},
	{from: "internal", deny: []string{"server", "gatewayctl", "store/bolt"}},
	{from: "gatewayctl", allow: []string{"gatewayctl", "proto/gateway/v1", "internal/topology"}},
}

func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module+"/")
		for _, r := range rules {
			if !under(pkg, r.from) {
				continue
			}
			seen++
			for _, dep := range f[1:] {
				if !strings.HasPrefix(dep, module+"/") {
					continue
				}
				d := strings.TrimPrefix(dep, module+"/")
				for _, deny := range r.deny {
					if under(d, deny) {
						t.Errorf("%s imports %s: %s may not depend on %s", pkg, d, r.from, deny)
					}
				}
				if r.allow != nil && !anyUnder(d, r.allow) {
					t.Errorf("%s imports %s: %s may only import %v", pkg, d, r.from, r.allow)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no package matched any rule: is the module path right?")
	}
}

func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func anyUnder(pkg string, dirs []string) bool {
	for _, d := range dirs {
		if under(pkg, d) {
			return true
		}
	}
	return false
}
