package cli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// topology roles lists the catalogue offline (no config, no server).
func TestTopologyRolesOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := &testEnv{config: filepath.Join(dir, "no-such-config.yaml"), home: t.TempDir()}
	offline := []string{"--server", closedAddr(t)}

	r := e.run(t, append(offline, "topology", "roles")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	out := r.stdout
	for _, re := range []string{
		`(?m)^ROLE\s+PATH\s+BACKEND\s+TYPE\s+WEBSOCKET\s+REWRITE\s+KNOX$`,
		`(?m)^WEBHDFS\s+webhdfs\s+-\s+api\s+-\s+datanode\s+2\.4\.0$`,
		`(?m)^YARNUI\s+yarn\s+-\s+ui\s+-\s+body\s+2\.7\.0$`,
		`(?m)^AMBARI\s+ambari/api\s+/api\s+api\s+-\s+headers\s+`,
		`(?m)^ZEPPELINWS\s+zeppelin/ws\s+-\s+api\s+yes\s+headers\s+`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
	if n := strings.Count(out, "\n"); n < 71 {
		t.Errorf("%d lines, want a header and at least 70 roles", n)
	}

	r = e.run(t, append(offline, "topology", "roles", "-o", "json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Roles []catalogueRole `json:"roles"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	if len(doc.Roles) < 70 || doc.Roles[0].Role == "" || doc.Roles[0].Rewrite == "" {
		t.Fatalf("-o json: %d roles, first %+v", len(doc.Roles), doc.Roles[0])
	}
}
