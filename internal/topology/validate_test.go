package topology

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsValid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Topology)
	}{
		{"base", func(*Topology) {}},
		{"name at the length limit", func(tp *Topology) { tp.Name = strings.Repeat("n", 64) }},
		{"name with dots", func(tp *Topology) { tp.Name = "team.prod-1_a" }},
		{"nested paths", func(tp *Topology) {
			tp.Services[0].Path = "zeppelin"
			tp.Services[1].Path = "zeppelin/ws"
		}},
		{"path at the length and depth limits", func(tp *Topology) {
			tp.Services[0].Path = strings.Repeat("abcdefghijklmno/", MaxServiceDepth-1) + "abcdefghijklmnop"
		}},
		{"path characters", func(tp *Topology) { tp.Services[0].Path = "a.b/c_d/~e-f/..g" }},
		{"https, ports and paths", func(tp *Topology) {
			tp.Services[0].URLs = []string{"https://[::1]:8443/x/y", "HTTP://Host.Example:1/", "http://h:65535"}
		}},
		{"websocket service over http", func(tp *Topology) { tp.Services[1].URLs = []string{"http://h/ws"} }},
		{"custom provider", func(tp *Topology) {
			tp.Providers = append(tp.Providers, Provider{Role: "custom", Name: "header", Params: map[string]string{"name": "X-A", "value": "b"}})
		}},
		{"same provider twice, one disabled", func(tp *Topology) {
			tp.Providers = append(tp.Providers, Provider{Role: "authentication", Name: "anonymous", Enabled: new(false)})
		}},
		{"two authentication providers", func(tp *Topology) {
			tp.Providers = append(tp.Providers, Provider{Role: "authentication", Name: "ldap"})
		}},
		{"alias references", func(tp *Topology) {
			tp.Providers[0].Params = map[string]string{"a": "${alias:x}", "b": "pre${alias:y.z-1}post${alias:x}", "c": "$alias:x}", "d": "${ALIAS"}
		}},
		{"discovery-only service with an RPC URL", func(tp *Topology) {
			tp.Services[0] = Service{Path: "namenode", Role: "NAMENODE", URLs: []string{"hdfs://nn.internal:8020"}}
		}},
		{"two-way TLS", func(tp *Topology) {
			tp.Services[0].URLs = []string{"https://h"}
			tp.Services[0].Dispatch = &Dispatch{UseTwoWayTLS: true, ClientCertificate: "gw-client", FederationHeader: "X-Fed-User"}
		}},
		{"ha", func(tp *Topology) {
			tp.Services[0].URLs = []string{"http://a", "http://b"}
			tp.Services[0].HA = &HA{FailoverStatuses: []int{100, 599}, HealthCheckPath: "/health?x=1"}
		}},
		{"safe-mode retries on one URL", func(tp *Topology) {
			tp.Services[0].HA = &HA{SafeModeRetries: 10, SafeModeRetrySleep: Duration(time.Minute)}
		}},
		{"description with newlines", func(tp *Topology) { tp.Description = "line one\n\tline two" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := validTopology()
			tt.mutate(top)
			if warnings, err := Validate(top); err != nil || len(warnings) > 0 {
				t.Errorf("Validate = %v, %v", warnings, err)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Topology)
		field  string // of the first error
		line   int
		want   string
	}{
		{"no name", func(tp *Topology) { tp.Name = "" }, "name", 0, "needs a name"},
		{"traversal name", func(tp *Topology) { tp.Name = "../etc" }, "name", 0, `"../etc" is not a valid topology name`},
		{"dot dot", func(tp *Topology) { tp.Name = ".." }, "name", 0, "not a valid topology name"},
		{"dot", func(tp *Topology) { tp.Name = "." }, "name", 0, "not a valid topology name"},
		{"slash in name", func(tp *Topology) { tp.Name = "a/b" }, "name", 0, "not a valid topology name"},
		{"200-character name", func(tp *Topology) { tp.Name = strings.Repeat("a", 200) }, "name", 0, "not a valid topology name"},
		{"65-character name", func(tp *Topology) { tp.Name = strings.Repeat("a", 65) }, "name", 0, "not a valid topology name"},
		{"leading dash", func(tp *Topology) { tp.Name = "-x" }, "name", 0, "not a valid topology name"},
		{"encoded name", func(tp *Topology) { tp.Name = "a%2Fb" }, "name", 0, "not a valid topology name"},
		{"space in name", func(tp *Topology) { tp.Name = "my topology" }, "name", 0, "not a valid topology name"},
		{"control in description", func(tp *Topology) { tp.Description = "a\x00b" }, "description", 0, "control characters"},
		{"no services", func(tp *Topology) { tp.Services = nil }, "services", 0, "at least one service"},

		{"empty path", func(tp *Topology) { tp.Services[0].Path = "" }, "services[0].path", 8, "needs a path"},
		{"duplicate path", func(tp *Topology) { tp.Services[1].Path = "echo" }, "services[1].path", 11, `duplicate path "echo": services[0] at line 8 has it too`},
		{"dot dot segment", func(tp *Topology) { tp.Services[0].Path = "a/../b" }, "services[0].path", 8, `"a/../b" has a ".." segment`},
		{"dot segment", func(tp *Topology) { tp.Services[0].Path = "./a" }, "services[0].path", 8, `has a "." segment`},
		{"empty segment", func(tp *Topology) { tp.Services[0].Path = "a//b" }, "services[0].path", 8, "empty segment"},
		{"encoded slash", func(tp *Topology) { tp.Services[0].Path = "a%2Fb" }, "services[0].path", 8, `segment "a%2Fb" may hold only`},
		{"backslash", func(tp *Topology) { tp.Services[0].Path = `a\b` }, "services[0].path", 8, "may hold only"},
		{"semicolon", func(tp *Topology) { tp.Services[0].Path = "a;x=y" }, "services[0].path", 8, "may hold only"},
		{"query in path", func(tp *Topology) { tp.Services[0].Path = "a?b" }, "services[0].path", 8, "may hold only"},
		{"path too long", func(tp *Topology) { tp.Services[0].Path = strings.Repeat("a", 257) }, "services[0].path", 8, "the limit is 256"},
		{"bad service role", func(tp *Topology) { tp.Services[0].Role = "EC HO" }, "services[0].role", 8, "not a valid service role"},

		{"no URLs", func(tp *Topology) { tp.Services[0].URLs = nil }, "services[0].urls", 8, "at least one backend URL"},
		{"empty URL", func(tp *Topology) { tp.Services[0].URLs = []string{""} }, "services[0].urls[0]", 8, "empty URL"},
		{"no scheme", func(tp *Topology) { tp.Services[0].URLs = []string{"localhost:80"} }, "services[0].urls[0]", 8, `"localhost:80" has no scheme`},
		{"scheme-relative", func(tp *Topology) { tp.Services[0].URLs = []string{"//h/x"} }, "services[0].urls[0]", 8, "has no scheme"},
		{"file scheme", func(tp *Topology) { tp.Services[0].URLs = []string{"file:///etc/passwd"} }, "services[0].urls[0]", 8, `scheme "file" is not allowed`},
		{"no host", func(tp *Topology) { tp.Services[0].URLs = []string{"http:///x"} }, "services[0].urls[0]", 8, "has no host"},
		{"port only", func(tp *Topology) { tp.Services[0].URLs = []string{"http://:8080"} }, "services[0].urls[0]", 8, "has no host"},
		{"port zero", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h:0"} }, "services[0].urls[0]", 8, `port "0" is out of range`},
		{"port too big", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h:65536"} }, "services[0].urls[0]", 8, "out of range"},
		{"bad port", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h:x"} }, "services[0].urls[0]", 8, "not a valid URL"},
		{"credentials", func(tp *Topology) { tp.Services[0].URLs = []string{"http://admin:hunter2@h"} }, "services[0].urls[0]", 8, `"http://admin:xxxxx@h" contains credentials`},
		{"user only", func(tp *Topology) { tp.Services[0].URLs = []string{"http://admin@h"} }, "services[0].urls[0]", 8, "contains credentials"},
		{"query", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h/?a=b"} }, "services[0].urls[0]", 8, "has a query"},
		{"empty query", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h/?"} }, "services[0].urls[0]", 8, "has a query"},
		{"fragment", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h/#x"} }, "services[0].urls[0]", 8, "has a fragment"},
		{"empty fragment", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h/#"} }, "services[0].urls[0]", 8, "has a fragment"},
		{"space", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h/a b"} }, "services[0].urls[0]", 8, "white space"},
		{"duplicate URL", func(tp *Topology) { tp.Services[0].URLs = []string{"http://h", "http://h"} }, "services[0].urls[1]", 8, "repeats urls[0]"},
		{"ws without websocket", func(tp *Topology) { tp.Services[0].URLs = []string{"wss://h"} }, "services[0].urls[0]", 8, "does not set websocket: true"},
		{"two-way TLS over http", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{UseTwoWayTLS: true} }, "services[0].urls[0]", 8, "use_two_way_tls needs an https or wss URL"},

		{"provider without role", func(tp *Topology) { tp.Providers[0].Role = "" }, "providers[0].role", 3, "needs a role"},
		{"upper-case role", func(tp *Topology) { tp.Providers[0].Role = "Authentication" }, "providers[0].role", 3, `role "Authentication" is not supported`},
		{"long custom role", func(tp *Topology) { tp.Providers[0].Role = strings.Repeat("r", 33) }, "providers[0].role", 3, "is not supported: the roles are"},
		{"provider without name", func(tp *Topology) { tp.Providers[0].Name = "" }, "providers[0].name", 3, "needs a name"},
		{"Knox provider name", func(tp *Topology) { tp.Providers[0].Name = "ShiroProvider" }, "providers[0]", 3, `provider "ShiroProvider" (role "authentication") is not supported: role authentication supports anonymous, basic, client-cert, kerberos, ldap`},
		{"duplicate enabled provider", func(tp *Topology) {
			tp.Providers = append(tp.Providers, Provider{Role: "authentication", Name: "anonymous", Enabled: new(true), Line: 7})
		}, "providers[2]", 7, "provider authentication/anonymous is enabled twice (also providers[0] at line 3)"},
		{"empty param key", func(tp *Topology) { tp.Services[0].Params = map[string]string{"": "x"} }, `services[0].params[""]`, 8, "empty parameter name"},
		{"control in key", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"a\nb": "x"} }, `providers[0].params["a\nb"]`, 3, "name contains control characters"},
		{"control in value", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"k": "se\x00cret"} }, `providers[0].params["k"]`, 3, "value contains control characters"},
		{"newline in value", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"k": "a\r\nb"} }, `providers[0].params["k"]`, 3, "value contains control characters"},
		{"unterminated alias", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"k": "${alias:x"} }, `providers[0].params["k"]`, 3, "unterminated ${alias:...} reference"},
		{"empty alias", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"k": "${alias:}"} }, `providers[0].params["k"]`, 3, "malformed reference ${alias:}"},
		{"alias with slash", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"k": "a${alias:../x}"} }, `providers[0].params["k"]`, 3, "malformed reference ${alias:../x}"},
		{"second alias bad", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"k": "${alias:ok}${alias:no way}"} }, `providers[0].params["k"]`, 3, "${alias:no way}"},
		{"Knox alias syntax", func(tp *Topology) { tp.Providers[0].Params = map[string]string{"k": "${ALIAS=x}"} }, `providers[0].params["k"]`, 3, "write ${alias:NAME}"},

		{"negative timeout", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{IdleTimeout: -1} }, "services[0].dispatch.idle_timeout", 8, "negative duration -1ns"},
		{"negative body size", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{MaxBodyBytes: -5} }, "services[0].dispatch.max_body_bytes", 8, "negative size -5"},
		{"client certificate without two-way", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{ClientCertificate: "c"} }, "services[0].dispatch.client_certificate", 8, "use_two_way_tls is false"},
		{"bad client certificate alias", func(tp *Topology) {
			tp.Services[0].URLs = []string{"https://h"}
			tp.Services[0].Dispatch = &Dispatch{UseTwoWayTLS: true, ClientCertificate: "../c"}
		}, "services[0].dispatch.client_certificate", 8, "not a valid alias name"},
		{"bad truststore", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{Truststore: "a b"} }, "services[0].dispatch.truststore", 8, "not a valid truststore name"},
		{"insecure with truststore", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{Truststore: "t", InsecureSkipVerify: true} }, "services[0].dispatch.insecure_skip_verify", 8, "contradicts truststore"},
		{"bad federation header", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{FederationHeader: "SM USER"} }, "services[0].dispatch.federation_header", 8, "not a valid HTTP header name"},
		{"bad classname", func(tp *Topology) { tp.Services[0].Dispatch = &Dispatch{Classname: "a\nb"} }, "services[0].dispatch.classname", 8, "not a class name"},
		{"failover status", func(tp *Topology) { tp.Services[0].HA = &HA{FailoverStatuses: []int{503, 99}} }, "services[0].ha.failover_statuses[1]", 8, "99 is not an HTTP status"},
		{"failover status 600", func(tp *Topology) { tp.Services[0].HA = &HA{FailoverStatuses: []int{600}} }, "services[0].ha.failover_statuses[0]", 8, "600 is not an HTTP status"},
		{"negative max failures", func(tp *Topology) { tp.Services[0].HA = &HA{MaxFailures: -1} }, "services[0].ha.max_failures", 8, "-1 is out of range"},
		{"negative cooloff", func(tp *Topology) { tp.Services[0].HA = &HA{Cooloff: -1} }, "services[0].ha.cooloff", 8, "negative duration"},
		{"negative interval", func(tp *Topology) { tp.Services[0].HA = &HA{HealthCheckInterval: -1} }, "services[0].ha.health_check_interval", 8, "negative duration"},
		{"relative health path", func(tp *Topology) { tp.Services[0].HA = &HA{HealthCheckPath: "health"} }, "services[0].ha.health_check_path", 8, "not an absolute path"},
		{"safe-mode retries over", func(tp *Topology) { tp.Services[0].HA = &HA{SafeModeRetries: 11} }, "services[0].ha.safe_mode_retries", 8, "11 is out of range (0-10)"},
		{"negative safe-mode retries", func(tp *Topology) { tp.Services[0].HA = &HA{SafeModeRetries: -1} }, "services[0].ha.safe_mode_retries", 8, "-1 is out of range (0-10)"},
		{"safe-mode sleep over", func(tp *Topology) {
			tp.Services[0].HA = &HA{SafeModeRetries: 1, SafeModeRetrySleep: Duration(61 * time.Second)}
		}, "services[0].ha.safe_mode_retry_sleep", 8, "1m1s is out of range (0-1m)"},
		{"negative safe-mode sleep", func(tp *Topology) { tp.Services[0].HA = &HA{SafeModeRetries: 1, SafeModeRetrySleep: -1} }, "services[0].ha.safe_mode_retry_sleep", 8, "out of range"},
		{"safe-mode sleep alone", func(tp *Topology) { tp.Services[0].HA = &HA{SafeModeRetrySleep: Duration(time.Second)} }, "services[0].ha.safe_mode_retry_sleep", 8, "set without safe_mode_retries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := validTopology()
			tt.mutate(top)
			_, err := Validate(top)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			first := ve.Errors[0]
			if first.Field != tt.field || first.Line != tt.line || !strings.Contains(first.Msg, tt.want) {
				t.Errorf("first error %q (field %q, line %d), want field %q line %d containing %q", first, first.Field, first.Line, tt.field, tt.line, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "se\x00cret") {
				t.Errorf("error shows a secret: %q", err)
			}
		})
	}
}

// TestValidateGolden records the complete error text for documents with many
// problems: every problem is reported, one per line, in document order.
func TestValidateGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			top, err := Parse(readFile(t, in), 0, in, "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			warnings, err := Validate(top)
			if err == nil {
				t.Fatal("Validate accepted the document")
			}
			out := err.Error() + "\n"
			for _, w := range warnings {
				out += "warning: " + w + "\n"
			}
			golden(t, strings.TrimSuffix(in, ".yaml")+".golden", []byte(out))
		})
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{Field: "services[1].urls[0]", Line: 12, Msg: `"localhost:80" has no scheme`}, `services[1].urls[0] (line 12): "localhost:80" has no scheme`},
		{FieldError{Field: "name", Msg: "m"}, "name: m"},
		{FieldError{Line: 3, Msg: "m"}, "line 3: m"},
		{FieldError{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	ve := &ValidationError{Errors: []FieldError{tests[0].e, tests[1].e}}
	if got, want := ve.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("ValidationError = %q, want %q", got, want)
	}
}

// kerberosDispatch gives tp the kerberos dispatch (providers[2]) and its
// identity assertion (providers[1], line 5) query_param qp ("": none).
func kerberosDispatch(tp *Topology, qp string) {
	tp.Providers = append(tp.Providers, Provider{Role: "dispatch", Name: "kerberos", Params: map[string]string{"principal": "knox/gw@EXAMPLE.TEST"}})
	if qp != "" {
		tp.Providers[1].Params = map[string]string{"query_param": qp}
	}
}

// kerberosUserNameWarning is the warning for kerberosDispatch(tp, "user.name"), after the services it names.
const kerberosUserNameWarning = `the kerberos dispatch authenticates the gateway to the backend, and providers[1] at line 5 (identity-assertion) ` +
	`sends the user as query_param "user.name", which a Kerberized Hadoop service ignores (it takes the caller from Kerberos, ` +
	`the user it acts for from doAs): requests would run as the gateway's principal, which would own the files they create; set query_param: doAs`

func TestValidateWarnings(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Topology)
		want   []string
	}{
		{"none", func(*Topology) {}, nil},
		{"insecure skip verify", func(tp *Topology) { tp.Services[1].Dispatch = &Dispatch{InsecureSkipVerify: true} },
			[]string{`service "echows": insecure_skip_verify is on: the backend's TLS certificate is not verified`}},
		{"ha with one URL", func(tp *Topology) { tp.Services[0].HA = &HA{MaxFailures: 2} },
			[]string{`service "echo": ha has no effect with fewer than two URLs`}},
		{"safe-mode retries on a ResourceManager", func(tp *Topology) {
			tp.Services[0].Role = "RESOURCEMANAGER"
			tp.Services[0].HA = &HA{FailoverOnStandby: true, SafeModeRetries: 2}
		}, []string{`service "echo": ha.safe_mode_retries has no effect on a RESOURCEMANAGER service (it retries a WebHDFS namenode's safe-mode answer)`}},
		{"kerberos dispatch, user.name", func(tp *Topology) { kerberosDispatch(tp, "user.name") },
			[]string{`services "echo", "echows": ` + kerberosUserNameWarning}},
		{"kerberos dispatch, user.name in other case", func(tp *Topology) { kerberosDispatch(tp, "User.Name") },
			[]string{`services "echo", "echows": ` + strings.Replace(kerberosUserNameWarning, `"user.name"`, `"User.Name"`, 1)}},
		{"kerberos dispatch, doAs", func(tp *Topology) { kerberosDispatch(tp, "doAs") }, nil},
		{"kerberos dispatch, no query_param", func(tp *Topology) { kerberosDispatch(tp, "") }, nil},
		{"kerberos dispatch disabled, user.name", func(tp *Topology) {
			kerberosDispatch(tp, "user.name")
			tp.Providers[2].Enabled = new(false)
		}, nil},
		{"identity assertion disabled, user.name", func(tp *Topology) {
			kerberosDispatch(tp, "user.name")
			tp.Providers[1].Enabled = new(false)
		}, nil},
		{"user.name without the kerberos dispatch", func(tp *Topology) { tp.Providers[1].Params = map[string]string{"query_param": "user.name"} }, nil},
		{"kerberos dispatch, user.name, one routed service", func(tp *Topology) {
			kerberosDispatch(tp, "user.name")
			tp.Services[1].Dispatch = &Dispatch{Federate: true} // the user travels in the federation header
			tp.Services = append(tp.Services, Service{Path: "namenode", Role: "NAMENODE", URLs: []string{"hdfs://nn:8020"}})
		}, []string{`service "echo": ` + kerberosUserNameWarning}},
		{"kerberos dispatch, user.name, many services", func(tp *Topology) {
			kerberosDispatch(tp, "user.name")
			for i := range 12 {
				tp.Services = append(tp.Services, Service{Path: fmt.Sprintf("s%d", i), URLs: []string{"http://h"}})
			}
		}, []string{`services "echo", "echows", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7" and 4 more: ` + kerberosUserNameWarning}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := validTopology()
			tt.mutate(top)
			warnings, err := Validate(top)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%q", warnings) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("warnings = %q, want %q", warnings, tt.want)
			}
		})
	}
}

// TestProblemsCapped checks that a hostile document cannot make a huge error.
func TestProblemsCapped(t *testing.T) {
	many := validTopology()
	for i := range 300 {
		many.Services = append(many.Services, Service{Path: fmt.Sprintf("s%d", i), URLs: []string{"bad"}})
	}
	_, verr := Validate(many)
	_, perr := Parse([]byte("name: x\n"+strings.Repeat("unknown: 1\n", 5000)), yamlF, "", "")
	for name, err := range map[string]error{"Validate": verr, "Parse": perr} {
		t.Run(name, func(t *testing.T) {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if len(ve.Errors) != maxProblems+1 {
				t.Errorf("%d problems, want %d", len(ve.Errors), maxProblems+1)
			}
			if last := ve.Errors[len(ve.Errors)-1].Msg; !strings.Contains(last, "only the first 100 are shown") {
				t.Errorf("last problem %q", last)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	if _, err := Validate(nil); err == nil {
		t.Error("Validate(nil) succeeded")
	}
}

func TestAliasRefs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Topology)
		want   string
	}{
		{"none", func(*Topology) {}, "[]"},
		{"providers, services and client certificate", func(tp *Topology) {
			tp.Providers[0].Params = map[string]string{"a": "${alias:zeta}", "b": "u=${alias:alpha};p=${alias:beta}"}
			tp.Services[0].Params = map[string]string{"c": "${alias:alpha}"}
			tp.Services[1].Dispatch = &Dispatch{UseTwoWayTLS: true, ClientCertificate: "client-cert"}
		}, "[alpha beta client-cert zeta]"},
		{"malformed skipped", func(tp *Topology) {
			tp.Providers[0].Params = map[string]string{"a": "${alias:ok}${alias:not ok}", "b": "${alias:", "c": "${ALIAS=knox}"}
		}, "[ok]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := validTopology()
			tt.mutate(top)
			if got := fmt.Sprint(AliasRefs(top)); got != tt.want {
				t.Errorf("AliasRefs = %s, want %s", got, tt.want)
			}
		})
	}
}
