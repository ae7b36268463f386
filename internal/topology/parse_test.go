package topology

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	yamlF = FormatYAML
	jsonF = FormatJSON
	xmlF  = FormatKnoxXML
)

// TestParseGolden parses every document under testdata/parse and records its
// canonical form, the lines of its providers and services, and what
// Validate says about it.
func TestParseGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/parse/*.*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden") {
			continue
		}
		n++
		t.Run(filepath.Base(in), func(t *testing.T) {
			top, err := Parse(readFile(t, in), 0, filepath.Base(in), "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var out strings.Builder
			out.Write(indented(t, []byte(canonical(t, top))))
			for i, p := range top.Providers {
				fmt.Fprintf(&out, "providers[%d] line %d\n", i, p.Line)
			}
			for i, s := range top.Services {
				fmt.Fprintf(&out, "services[%d] line %d\n", i, s.Line)
			}
			warnings, err := Validate(top)
			fmt.Fprintf(&out, "validate: %v\n", err)
			for _, w := range warnings {
				fmt.Fprintf(&out, "warning: %s\n", w)
			}
			golden(t, in+".golden", []byte(out.String()))
		})
	}
	if n < 4 {
		t.Fatalf("found %d inputs under testdata/parse, want at least 4", n)
	}
}

// TestParseYAMLAndJSONAgree checks that the two native spellings of one
// topology give the same model.
func TestParseYAMLAndJSONAgree(t *testing.T) {
	y, err := Parse(readFile(t, "testdata/parse/full.yaml"), 0, "full.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse(readFile(t, "testdata/parse/full.json"), 0, "full.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if cy, cj := canonical(t, y), canonical(t, j); cy != cj {
		t.Errorf("YAML and JSON differ:\n%s\n%s", cy, cj)
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		doc, source string
		want        Format
	}{
		{"name: x", "t.yaml", yamlF},
		{"name: x", "dir/T.YML", yamlF},
		{"{}", "t.json", jsonF},
		{"<topology/>", "t.xml", xmlF},
		{"name: x", `C:\topologies\t.xml`, xmlF},
		{"<topology/>", "t.yaml", yamlF}, // the extension wins
		{"  \n<topology/>", "", xmlF},
		{"\xEF\xBB\xBF<topology/>", "", xmlF},
		{"\t{\"name\": \"x\"}", "-", jsonF},
		{"name: x", "topology.txt", yamlF},
		{"", "", yamlF},
		{"[1]", "", yamlF},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q %q", tt.source, tt.doc), func(t *testing.T) {
			if got := DetectFormat([]byte(tt.doc), tt.source); got != tt.want {
				t.Errorf("DetectFormat = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseName(t *testing.T) {
	const (
		native = "name: fromdoc\nservices: [{path: echo, urls: ['http://h']}]\n"
		knox   = "<topology><service><role>ECHO</role><url>http://h</url></service></topology>"
		named  = "<topology><name>fromdoc</name><service><role>ECHO</role><url>http://h</url></service></topology>"
	)
	tests := []struct {
		name, doc, source, override, want string
	}{
		{"native keeps its name", native, "other.yaml", "", "fromdoc"},
		{"override replaces native name", native, "other.yaml", "given", "given"},
		{"knox from file name", knox, "sandbox.xml", "", "sandbox"},
		{"knox from path", knox, "/etc/gateway/topologies/prod.xml", "", "prod"},
		{"knox from windows path", knox, `C:\knox\conf\topologies\dev.xml`, "", "dev"},
		{"knox file name with dots", knox, "team.prod.xml", "", "team.prod"},
		{"knox override wins", knox, "sandbox.xml", "given", "given"},
		{"knox file name wins over <name>", named, "sandbox.xml", "", "sandbox"},
		{"knox <name> for stdin", named, "-", "", "fromdoc"},
		{"knox <name> without source", named, "", "", "fromdoc"},
		{"knox without any name", knox, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top, err := Parse([]byte(tt.doc), 0, tt.source, tt.override)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if top.Name != tt.want {
				t.Errorf("name = %q, want %q", top.Name, tt.want)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	tests := []struct {
		name, doc         string
		providers, servcs []int
	}{
		{"yaml block", "name: x\nproviders:\n  - role: authentication\n    name: anonymous\n\n  - role: identity-assertion\n    name: default\nservices:\n  - path: a\n    urls: [http://h]\n  -\n    path: b\n    urls: [http://h]\n",
			[]int{3, 6}, []int{9, 12}},
		{"yaml flow", "name: x\nservices: [{path: a, urls: [http://h]},\n  {path: b, urls: [http://h]}]\n",
			nil, []int{2, 3}},
		{"json", "{\n \"name\": \"x\",\n \"providers\": [\n  {\"role\": \"authentication\", \"name\": \"anonymous\"}\n ],\n \"services\": [\n  {\n   \"path\": \"a\", \"urls\": [\"http://h\"]\n  },\n  {\"path\": \"b\", \"urls\": [\"http://h\"]}\n ]\n}\n",
			[]int{4}, []int{7, 10}},
		{"knox", "<topology>\n<gateway>\n<provider>\n<role>authentication</role><name>Anonymous</name>\n</provider>\n</gateway>\n\n<service><role>ECHO</role><url>http://h</url></service>\n<service>\n<role>ECHOWS</role><url>ws://h</url></service>\n</topology>\n",
			[]int{3}, []int{8, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := mustParse(t, tt.doc)
			var p, s []int
			for _, x := range top.Providers {
				p = append(p, x.Line)
			}
			for _, x := range top.Services {
				s = append(s, x.Line)
			}
			if fmt.Sprint(p) != fmt.Sprint(tt.providers) || fmt.Sprint(s) != fmt.Sprint(tt.servcs) {
				t.Errorf("lines: providers %v services %v, want %v and %v", p, s, tt.providers, tt.servcs)
			}
		})
	}
}

func TestDurationCodec(t *testing.T) {
	tests := []struct {
		in   string // as written in YAML; JSON uses it quoted
		want time.Duration
		out  string
	}{
		{"30s", 30 * time.Second, "30s"},
		{"1m", time.Minute, "1m"},
		{"1m0s", time.Minute, "1m"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"2h", 2 * time.Hour, "2h"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"0", 0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			y := mustParse(t, "name: x\nservices:\n- path: a\n  urls: [http://h]\n  dispatch: {dial_timeout: "+tt.in+", max_body_bytes: 1}\n")
			j := mustParse(t, `{"name": "x", "services": [{"path": "a", "urls": ["http://h"], "dispatch": {"dial_timeout": "`+tt.in+`", "max_body_bytes": 1}}]}`)
			for _, top := range []*Topology{y, j} {
				d := top.Services[0].Dispatch.DialTimeout
				if d.D() != tt.want {
					t.Errorf("decoded %v, want %v", d.D(), tt.want)
				}
				if d.String() != tt.out {
					t.Errorf("String() = %q, want %q", d.String(), tt.out)
				}
			}
			wantJSON := `"dial_timeout":"` + tt.out + `"`
			if tt.want == 0 {
				wantJSON = `"dispatch":{"max_body_bytes":1}` // zero is omitted
			}
			if c := canonical(t, y); !strings.Contains(c, wantJSON) {
				t.Errorf("canonical JSON %s lacks %s", c, wantJSON)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const svc = "services: [{path: a, urls: ['http://h']}]\n"
	tests := []struct {
		name   string
		doc    string
		format Format
		source string
		want   []string // substrings of the error
	}{
		// Size and encoding, for every format.
		{"oversized yaml", "name: x\n" + strings.Repeat("#", MaxDocumentSize), 0, "", []string{"document too large", "the limit is 4194304"}},
		{"oversized xml", "<topology>" + strings.Repeat(" ", MaxDocumentSize) + "</topology>", xmlF, "", []string{"document too large"}},
		{"non-UTF-8 yaml", "name: x\ndescription: caf\xe9\n" + svc, yamlF, "", []string{"not valid UTF-8", "line 2"}},
		{"non-UTF-8 json", "{\"name\": \"\xff\"}", jsonF, "", []string{"not valid UTF-8", "byte offset 10"}},
		{"non-UTF-8 xml", "<topology><name>\xc3\x28</name></topology>", xmlF, "", []string{"not valid UTF-8"}},
		{"latin-1 xml declaration", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><topology/>", xmlF, "", []string{`encoding "ISO-8859-1" is not supported`}},

		// YAML.
		{"empty yaml", "", yamlF, "t.yaml", []string{"parsing t.yaml", "document is empty"}},
		{"comments only", "# nothing\n", yamlF, "", []string{"document is empty"}},
		{"null document", "---\n...\n", yamlF, "", []string{"document is empty"}},
		{"two documents", "name: a\n" + svc + "---\nname: b\n", yamlF, "", []string{"line 3", "second YAML document"}},
		{"trailing garbage", "name: a\n" + svc + "...\n}}}\n", yamlF, "", []string{"after the document"}},
		{"malformed yaml", "name: a\nservices: [\n", yamlF, "", []string{"YAML:", "yaml: line"}},
		{"bad indentation", "name: a\n services: []\n", yamlF, "", []string{"line 2"}},
		{"top level list", "- name: a\n", yamlF, "", []string{"must be a mapping"}},
		{"top level scalar", "hello\n", yamlF, "", []string{"must be a mapping", `"hello"`}},
		{"unknown top field", "name: a\nservice: []\n", yamlF, "", []string{`YAML: line 2: unknown field "service"`, `did you mean "services"?`}},
		{"unknown service field", "name: a\nservices:\n  - path: a\n    url: http://h\n", yamlF, "", []string{`services[0] (line 4): unknown field "url"`, `did you mean "urls"?`}},
		{"unknown dispatch field", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  dispatch:\n    use-two-way-ssl: true\n", yamlF, "", []string{`services[0].dispatch (line 6): unknown field "use-two-way-ssl"`}},
		{"unknown ha field", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  ha: {retries: 3}\n", yamlF, "", []string{`services[0].ha (line 5): unknown field "retries"`, "known fields:"}},
		{"unknown provider field", "name: a\nproviders:\n- role: authentication\n  name: anonymous\n  param: {}\n" + svc, yamlF, "", []string{`providers[0] (line 5): unknown field "param"`}},
		{"every unknown field listed", "name: a\nfoo: 1\nbar: 2\n", yamlF, "", []string{"line 2: unknown field \"foo\" (known fields: description, name, providers, services)\nline 3: unknown field \"bar\""}},
		{"Line is not a field", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  Line: 3\n", yamlF, "", []string{`unknown field "Line"`}},
		{"repeated field", "name: a\nname: b\n" + svc, yamlF, "", []string{`line 2: field "name" given twice (first at line 1)`}},
		{"repeated param", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  params: {k: 1, k: 2}\n", yamlF, "", []string{`services[0].params (line 5): key "k" given twice`}},
		{"services not a list", "name: a\nservices: {path: a}\n", yamlF, "", []string{"services (line 2): expected a list, got a mapping"}},
		{"urls not a list", "name: a\nservices:\n- path: a\n  urls: http://h\n", yamlF, "", []string{"services[0].urls (line 4): expected a list"}},
		{"param value a list", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  params: {k: [1]}\n", yamlF, "", []string{`services[0].params["k"] (line 5): expected a single value, got a list`}},
		{"name a mapping", "name: {a: b}\n", yamlF, "", []string{"name (line 1): expected a single value, got a mapping"}},
		{"bool type error", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  websocket: maybe\n", yamlF, "", []string{"services[0].websocket (line 5): expected true or false, got the value \"maybe\""}},
		{"YAML 1.1 yes", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  websocket: yes\n", yamlF, "", []string{"services[0].websocket (line 5): expected true or false"}},
		{"YAML 1.1 on", "name: a\nproviders: [{role: authentication, name: anonymous, enabled: on}]\n", yamlF, "", []string{"providers[0].enabled (line 2): expected true or false"}},
		{"quoted bool", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  websocket: 'true'\n", yamlF, "", []string{"expected true or false"}},
		{"json string bool", `{"name": "a", "services": [{"path": "a", "urls": ["http://h"], "websocket": "true"}]}`, jsonF, "", []string{"services[0].websocket (line 1): expected true or false"}},
		{"int type error", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  dispatch: {max_body_bytes: lots}\n", yamlF, "", []string{"line 5", "lots"}},
		{"duration without unit", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  dispatch: {dial_timeout: 30}\n", yamlF, "", []string{"line 5", `invalid duration "30"`}},
		{"duration garbage", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  ha: {cooloff: soon}\n", yamlF, "", []string{"line 5", `invalid duration "soon"`}},
		{"duration a list", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  ha: {cooloff: [1s]}\n", yamlF, "", []string{"services[0].ha.cooloff (line 5): expected a duration"}},
		{"alias", "name: &n a\ndescription: *n\n" + svc, yamlF, "", []string{"description (line 2): YAML aliases are not supported"}},
		{"merge key", "name: a\nservices:\n- &s {path: a, urls: [http://h]}\n- <<: *s\n  path: b\n", yamlF, "", []string{`unknown field "<<"`}},
		{"billion laughs yaml", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nname: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", yamlF, "", []string{`unknown field "a"`}},
		{"custom tag", "name: !shell rm\n" + svc, yamlF, "", []string{"name (line 1): YAML tag !shell is not supported"}},
		{"binary tag", "name: !!binary aGk=\n" + svc, yamlF, "", []string{"YAML tag !!binary is not supported"}},

		// JSON.
		{"empty json", "", jsonF, "", []string{"JSON:", "document is empty"}},
		{"malformed json", "{\n\"name\": \"a\",\n}", jsonF, "", []string{"line 3", "invalid JSON"}},
		{"truncated json", "{\"name\": \"a\",\n\"services\": [", jsonF, "", []string{"line 2", "unexpected end of document"}},
		{"json trailing garbage", "{\"name\": \"a\"}\n{\"name\": \"b\"}", jsonF, "", []string{"line 2", "unexpected data after the JSON document"}},
		{"json trailing junk", "{\"name\": \"a\"} x", jsonF, "", []string{"unexpected data after the JSON document"}},
		{"json trailing bracket", "{\"name\": \"a\"}]", jsonF, "", []string{"unexpected data after the JSON document"}},
		{"json duplicate key", "{\"name\": \"a\",\n \"name\": \"b\"}", jsonF, "", []string{`line 2: duplicate key "name" (first at line 1)`}},
		{"json unknown field", "{\"name\": \"a\",\n \"services\": [\n  {\"path\": \"a\",\n   \"URLs\": [\"http://h\"]}]}", jsonF, "", []string{`services[0] (line 4): unknown field "URLs"`, `did you mean "urls"?`}},
		{"json top level array", "[{\"name\": \"a\"}]", jsonF, "", []string{"must be a mapping"}},
		{"json yaml content", "name: a\n", jsonF, "", []string{"invalid JSON"}},
		{"json comment", "{\"name\": \"a\" // hi\n}", jsonF, "", []string{"invalid JSON"}},
		{"json float for int", "{\"name\": \"a\", \"services\": [{\"path\": \"a\", \"urls\": [\"http://h\"], \"dispatch\": {\"max_body_bytes\": 1.5}}]}", jsonF, "", []string{"services[0].dispatch.max_body_bytes (line 1): expected a whole number, got the value \"1.5\""}},
		{"yaml float for int", "name: a\nservices:\n- path: a\n  urls: [http://h]\n  ha: {max_failures: 2.0}\n", yamlF, "", []string{"services[0].ha.max_failures (line 5): expected a whole number"}},
		{"json number duration", "{\"name\": \"a\", \"services\": [{\"path\": \"a\", \"urls\": [\"http://h\"], \"dispatch\": {\"dial_timeout\": 30}}]}", jsonF, "", []string{`invalid duration "30"`}},
		{"json too deep", "{\"name\": " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}", jsonF, "", []string{"nested deeper than 32 levels"}},
		{"json very deep", strings.Repeat("[", 1<<20), jsonF, "", []string{"JSON"}},

		// Knox XML; DOCTYPE and entities have their own test.
		{"empty xml", "", xmlF, "", []string{"Knox XML:", "document is empty"}},
		{"malformed xml", "<topology>\n<gateway>\n</topology>", xmlF, "", []string{"line 3", "invalid XML"}},
		{"unclosed xml", "<topology>\n<service>", xmlF, "", []string{"line 2: invalid XML: unexpected EOF"}},
		{"wrong root", "<gateway/>", xmlF, "", []string{"root element is <gateway>, want <topology>"}},
		{"two roots", "<topology/><topology/>", xmlF, "", []string{"after </topology>"}},
		{"trailing text", "<topology/>garbage", xmlF, "", []string{"after </topology>"}},
		{"text before root", "junk<topology/>", xmlF, "", []string{"text before <topology>"}},
		{"unknown element", "<topology>\n<gateway/>\n<services/>\n</topology>", xmlF, "", []string{"line 3: unknown element <services> in <topology>"}},
		{"unknown service element", "<topology><service><role>ECHO</role>\n<urls>http://h</urls></service></topology>", xmlF, "", []string{"line 2: unknown element <urls> in <service>"}},
		{"text in service", "<topology><service>hello<role>ECHO</role></service></topology>", xmlF, "", []string{`unexpected text "hello" inside <service>`}},
		{"element in role", "<topology><service><role><b>ECHO</b></role></service></topology>", xmlF, "", []string{"unexpected element <b> inside <role>"}},
		{"two gateways", "<topology><gateway/><gateway/></topology>", xmlF, "", []string{"<gateway> given twice"}},
		{"two roles", "<topology><service><role>ECHO</role><role>HIVE</role></service></topology>", xmlF, "", []string{"<role> given twice"}},
		{"service without role", "<topology><service>\n<url>http://h</url></service></topology>", xmlF, "", []string{"line 1: service has no <role>"}},
		{"provider without name", "<topology><gateway><provider><role>authentication</role></provider></gateway></topology>", xmlF, "", []string{"provider has no <name>"}},
		{"param without name", "<topology><gateway><provider><role>authentication</role><name>Anonymous</name><param><value>v</value></param></provider></gateway></topology>", xmlF, "", []string{"provider param has no <name>"}},
		{"duplicate param", "<topology><service><role>ECHO</role><param><name>a</name><value>1</value></param><param><name>a</name><value>2</value></param></service></topology>", xmlF, "", []string{`service param "a" given twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top, err := Parse([]byte(tt.doc), tt.format, tt.source, "")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", top)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}
