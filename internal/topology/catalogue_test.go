package topology

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The catalogue holds every role of Knox's service definitions (70 roles in
// apache/knox's gateway-service-definitions), each deployable from a Knox
// topology naming it.
func TestCatalogueCoversKnoxRoles(t *testing.T) {
	cat := Catalogue()
	knox := 0
	for _, e := range cat {
		if len(e.KnoxVersions) > 0 {
			knox++
		}
	}
	if knox < 70 {
		t.Fatalf("%d roles from Knox's service definitions, want at least 70", knox)
	}
	for _, role := range []string{"WEBHDFS", "WEBHBASE", "HIVE", "RESOURCEMANAGER", "YARNUI", "OOZIE", "LIVYSERVER", "RANGER", "RANGERUI", "ATLAS", "ATLAS-API", "SOLR", "TRINOUI", "HDFSUI", "SPARKHISTORYUI", "ZEPPELINWS"} {
		if _, ok := LookupRole(role); !ok {
			t.Errorf("%s missing from the catalogue", role)
		}
	}
	if e, _ := LookupRole("webhdfs"); e.Rewrite != RewriteDatanode || e.Path != "webhdfs" || e.Type != TypeAPI {
		t.Errorf("WEBHDFS = %+v, want an API at webhdfs with datanode rewriting", e)
	}
	if e, _ := LookupRole("YARNUI"); e.Rewrite != RewriteBody || e.Type != TypeUI {
		t.Errorf("YARNUI = %+v, want a UI with body rewriting", e)
	}
	if e, _ := LookupRole("ZEPPELINWS"); !e.WebSocket {
		t.Errorf("ZEPPELINWS = %+v, want websocket", e)
	}
	if RoleRewrite("NO-SUCH-ROLE") != RewriteHeaders {
		t.Error("a role outside the catalogue gets more than header rewriting")
	}
	// Callers get copies.
	cat[0].Path = "changed"
	if Catalogue()[0].Path == "changed" {
		t.Error("Catalogue returned the table itself")
	}
}

func TestEveryCatalogueRoleDeploysFromKnoxXML(t *testing.T) {
	for _, e := range Catalogue() {
		t.Run(e.Role, func(t *testing.T) {
			scheme := "http"
			if e.WebSocket {
				scheme = "ws"
			}
			doc := fmt.Sprintf(`<topology><gateway><provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider></gateway>
<service><role>%s</role><url>%s://backend.internal:8080</url></service></topology>`, strings.ToLower(e.Role), scheme)
			top, err := Parse([]byte(doc), xmlF, "t.xml", "t")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Validate(top); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			s := top.Services[0]
			if s.Path != e.Path || s.WebSocket != e.WebSocket {
				t.Errorf("service at %q (websocket %t), want %q (%t)", s.Path, s.WebSocket, e.Path, e.WebSocket)
			}
			if want := scheme + "://backend.internal:8080" + e.Backend; s.URLs[0] != want {
				t.Errorf("URL %q, want %q", s.URLs[0], want)
			}
		})
	}
}

// Knox maps ambari/api/v1 to {url}/api/v1: the converted URL carries the
// backend path once, also when the document already names it.
func TestKnoxBackendPath(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"http://ambari:8080", "http://ambari:8080/api"},
		{"http://ambari:8080/", "http://ambari:8080/api"},
		{"http://ambari:8080/api", "http://ambari:8080/api"},
		{"http://ambari:8080/api/", "http://ambari:8080/api/"},
		{"https://lb/ambari", "https://lb/ambari/api"},
	} {
		top, err := Parse([]byte("<topology><service><role>AMBARI</role><url>"+tt.url+"</url></service></topology>"), xmlF, "t.xml", "t")
		if err != nil {
			t.Fatal(err)
		}
		if got := top.Services[0].URLs[0]; got != tt.want || top.Services[0].Path != "ambari/api" {
			t.Errorf("%s: %s at %s, want %s at ambari/api", tt.url, got, top.Services[0].Path, tt.want)
		}
	}
}

// Roles the gateway cannot serve and Knox <application> elements are
// refused, every one named in the one error.
func TestKnoxRefusesUnknownRolesAndApplications(t *testing.T) {
	doc := `<topology>
<gateway><provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider></gateway>
<service><role>WEBHDFS</role><url>http://nn:9870/webhdfs</url></service>
<service><role>MY-CUSTOM</role><url>http://a</url></service>
<application><name>knoxauth</name></application>
<service><role>OTHER-ONE</role><url>http://b</url></service>
<service><role>KNOX-SESSION</role></service>
<application><name>admin-ui</name></application>
</topology>`
	top, err := Parse([]byte(doc), xmlF, "t.xml", "t")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Validate(top)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate: %v, want a ValidationError", err)
	}
	for _, want := range []string{"MY-CUSTOM is not in the gateway's catalogue", "OTHER-ONE is not in the gateway's catalogue", `application "knoxauth"`, `application "admin-ui"`, "KNOX-SESSION is served by Knox itself"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(ve.Errors) != 5 {
		t.Errorf("%d problems, want 5:\n%v", len(ve.Errors), err)
	}
}

func TestParseCatalogueRefusesBadLines(t *testing.T) {
	good := "WEBHDFS webhdfs - api - datanode 2.4.0"
	for _, tt := range []struct{ name, data, want string }{
		{"columns", "WEBHDFS webhdfs - api -", "5 columns, want 7"},
		{"lower-case role", "webhdfs webhdfs - api - datanode -", "not an upper-case service role"},
		{"duplicate", good + "\n" + good, "listed twice"},
		{"bad path", "X a//b - api - - -", "is not a service path"},
		{"slash path", "X /a - api - - -", "is not a service path"},
		{"bad backend", "X a api/ api - - -", "must start with /"},
		{"kind", "X a - gui - - -", `kind "gui"`},
		{"ws", "X a - api yes - -", `ws column "yes"`},
		{"rewrite", "X a - api - all -", `rewrite "all"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseCatalogue(tt.data); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if got, err := parseCatalogue("# c\n\n" + good + " # trailing\n"); err != nil || len(got) != 1 || got[0].Rewrite != RewriteDatanode || got[0].KnoxVersions[0] != "2.4.0" {
		t.Fatalf("good line: %+v, %v", got, err)
	}
}
