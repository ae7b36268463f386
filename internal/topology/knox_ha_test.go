package topology

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// knoxHADoc is a Knox topology with an HaProvider whose params are given,
// a WEBHDFS service on two namenodes and a two-URL HIVE service.
func knoxHADoc(enabled string, params ...string) string {
	var b strings.Builder
	b.WriteString("<topology><gateway>\n<provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>\n")
	b.WriteString("<provider><role>ha</role><name>HaProvider</name><enabled>" + enabled + "</enabled>\n")
	for i := 0; i+1 < len(params); i += 2 {
		fmt.Fprintf(&b, "<param><name>%s</name><value>%s</value></param>\n", params[i], params[i+1])
	}
	b.WriteString("</provider></gateway>\n")
	b.WriteString("<service><role>WEBHDFS</role><url>http://nn1:50070/webhdfs</url><url>http://nn2:50070/webhdfs</url></service>\n")
	b.WriteString("<service><role>HIVE</role><url>http://hs1:10001/cliservice</url><url>http://hs2:10001/cliservice</url></service>\n")
	b.WriteString("</topology>")
	return b.String()
}

// An enabled HaProvider deploys: it becomes the WEBHDFS service's failover
// on standby namenodes, and is no provider of the converted topology;
// what the gateway does not honour is a warning naming it.
func TestKnoxHaProviderConverted(t *testing.T) {
	doc := knoxHADoc("true",
		"WEBHDFS", "maxFailoverAttempts=3;failoverSleep=1000;maxRetryAttempts=300;retrySleep=1000;enabled=true",
		"HIVE", "enabled=false;maxFailoverAttempts=3",
		"OOZIE", "enabled=true") // no such service: nothing to do
	top, warnings := knoxValidated(t, doc)
	for _, p := range top.Providers {
		if p.Role == "ha" {
			t.Errorf("the HaProvider is still a provider: %+v", p)
		}
	}
	if h := top.Services[0].HA; h == nil || !h.FailoverOnStandby || h.SafeModeRetries != MaxSafeModeRetries || h.SafeModeRetrySleep.D() != time.Second {
		t.Errorf("WEBHDFS ha = %+v, want failover_on_standby and %d safe-mode retries 1s apart", h, MaxSafeModeRetries)
	}
	if h := top.Services[1].HA; h != nil {
		t.Errorf("HIVE (enabled=false) ha = %+v, want none", h)
	}
	all := strings.Join(warnings, "\n")
	for _, want := range []string{"HaProvider WEBHDFS", "failoverSleep=1000 not honoured", "maxRetryAttempts=300 capped at 10"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", warnings, want)
		}
	}
	if strings.Contains(all, "maxFailoverAttempts") || strings.Contains(all, "retrySleep") || strings.Contains(all, "HIVE") {
		t.Errorf("warnings %q: maxFailoverAttempts=3 with two URLs and retrySleep=1000 are honoured, and HIVE has no HA", warnings)
	}
	// The converted topology survives its native encoding.
	y, err := EncodeYAML(top)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"failover_on_standby: true", "safe_mode_retries: 10", "safe_mode_retry_sleep: 1s"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("YAML encoding lacks %q: %s", want, y)
		}
	}
	back, err := Parse(y, FormatYAML, "t.yaml", "")
	if err != nil || back.Services[0].HA == nil || !reflect.DeepEqual(back.Services[0].HA, top.Services[0].HA) {
		t.Fatalf("re-parsed: %v %+v", err, back)
	}
}

func TestKnoxHaProviderSettings(t *testing.T) {
	tests := []struct {
		name, value string
		standby     bool
		retries     int
		sleep       time.Duration
		warn        string // a warning holding this, or none
	}{
		{"defaults", "", true, 0, 0, ""},
		{"empty pairs", ";enabled=true;;", true, 0, 0, ""},
		{"disabled", "enabled=FALSE;maxRetryAttempts=3", false, 0, 0, ""},
		{"too few attempts", "maxFailoverAttempts=0", true, 0, 0, "maxFailoverAttempts=0 not honoured"},
		{"load balancing", "enableLoadBalancing=true;enableStickySession=false", true, 0, 0, "enableLoadBalancing=true not honoured"},
		{"non-idempotent", "failoverNonIdempotentRequestEnabled=true", true, 0, 0, "failoverNonIdempotentRequestEnabled=true not honoured"},
		{"zookeeper", "zookeeperEnsemble=zk1:2181;zookeeperNamespace=hdfs", true, 0, 0, "zookeeperEnsemble, zookeeperNamespace not honoured"},
		{"unknown", "enabled=true;maxFailoverAttemps=3", true, 0, 0, "unknown settings ignored: maxFailoverAttemps"},
		{"refinements", "stickySessionCookieName=X;disableLoadBalancingForUserAgents=curl", true, 0, 0, ""},
		{"safe-mode retries", "maxRetryAttempts=3;retrySleep=250", true, 3, 250 * time.Millisecond, ""},
		{"retry sleep default", "maxRetryAttempts=2", true, 2, time.Second, ""},
		{"retry without sleep", "maxRetryAttempts=2;retrySleep=0", true, 2, 0, ""},
		{"no retries", "maxRetryAttempts=0;retrySleep=0", true, 0, 0, ""},
		{"retries capped", "maxRetryAttempts=11;retrySleep=10", true, MaxSafeModeRetries, 10 * time.Millisecond, "maxRetryAttempts=11 capped at 10"},
		{"sleep capped", "maxRetryAttempts=1;retrySleep=99999999999999", true, 1, time.Minute, "retrySleep=99999999999999 capped at 60000"},
		{"sleep alone", "retrySleep=500", true, 0, 0, "retrySleep=500 not honoured without maxRetryAttempts"},
		{"failover sleep", "failoverSleep=1000;maxRetryAttempts=1", true, 1, time.Second, "failoverSleep=1000 not honoured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top, warnings := knoxValidated(t, knoxHADoc("true", "WEBHDFS", tt.value))
			h := top.Services[0].HA
			if h == nil {
				h = &HA{}
			}
			if h.FailoverOnStandby != tt.standby || h.SafeModeRetries != tt.retries || h.SafeModeRetrySleep.D() != tt.sleep {
				t.Errorf("ha %+v, want failover_on_standby %t, safe_mode_retries %d, safe_mode_retry_sleep %s", h, tt.standby, tt.retries, tt.sleep)
			}
			all := strings.Join(warnings, "\n")
			if tt.warn != "" && !strings.Contains(all, tt.warn) {
				t.Errorf("warnings %q lack %q", warnings, tt.warn)
			}
			if tt.warn == "" && strings.Contains(all, "HaProvider") {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

// maxRetryAttempts and retrySleep are WebHDFS's (a namenode in safe
// mode): for another role they remain not honoured, a warning naming them,
// and that role's services get no safe-mode retries.
func TestKnoxHaProviderRetryOtherRole(t *testing.T) {
	top, warnings := knoxValidated(t, knoxHADoc("true", "HIVE", "maxRetryAttempts=3;retrySleep=1000"))
	if all := strings.Join(warnings, "\n"); !strings.Contains(all, "HaProvider HIVE: maxRetryAttempts=3, retrySleep=1000 not honoured") {
		t.Errorf("warnings %q, want maxRetryAttempts and retrySleep not honoured for HIVE", warnings)
	}
	if h := top.Services[1].HA; h != nil {
		t.Errorf("HIVE ha = %+v, want none (plain failover between its URLs)", h)
	}
}

// Malformed settings are refused, every one named with its role and key,
// and the topology does not deploy.
func TestKnoxHaProviderMalformed(t *testing.T) {
	tests := []struct{ value, want string }{
		{"maxFailoverAttempts=three", `providers[1].params["WEBHDFS"] (line 3): maxFailoverAttempts: "three" is not a non-negative integer`},
		{"failoverSleep=-1", `failoverSleep: "-1" is not a non-negative integer`},
		{"maxRetryAttempts=1e3", `maxRetryAttempts: "1e3" is not a non-negative integer`},
		{"retrySleep=", `retrySleep: "" is not a non-negative integer`},
		{"enabled=yes", `enabled: "yes" is not true or false`},
		{"enableLoadBalancing=1", `enableLoadBalancing: "1" is not true or false`},
		{"maxFailoverAttempts", `"maxFailoverAttempts" is not key=value`},
		{"=3", `"=3" is not key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			top, err := Parse([]byte(knoxHADoc("true", "WEBHDFS", tt.value)), xmlF, "t.xml", "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Validate(top); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
	// Two bad values: both named in one answer.
	top, err := Parse([]byte(knoxHADoc("true", "WEBHDFS", "enabled=maybe;failoverSleep=x", "HIVE", "maxFailoverAttempts=-2")), xmlF, "t.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Validate(top)
	for _, want := range []string{`params["WEBHDFS"]`, "enabled:", "failoverSleep:", `params["HIVE"]`, "maxFailoverAttempts:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
}

// A disabled HaProvider stays a (warned) disabled provider, as before; a
// native topology's ha provider is still refused: the conversion is
// Knox's alone.
func TestKnoxHaProviderDisabledAndNative(t *testing.T) {
	top, err := Parse([]byte(knoxHADoc("false", "WEBHDFS", "enabled=true")), xmlF, "t.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(top); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if top.Services[0].HA != nil || len(top.Providers) != 2 || top.Providers[1].Role != "ha" {
		t.Errorf("disabled HaProvider converted: providers %+v, ha %+v", top.Providers, top.Services[0].HA)
	}
	native := "name: n\nproviders:\n- {role: authentication, name: anonymous}\n- {role: ha, name: ha, params: {WEBHDFS: enabled=true}}\n" +
		"services:\n- {role: WEBHDFS, path: webhdfs, urls: ['http://nn1', 'http://nn2']}\n"
	top, err = Parse([]byte(native), FormatYAML, "n.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(top); err == nil || !strings.Contains(err.Error(), "ha") {
		t.Fatalf("native ha provider: %v, want refused", err)
	}
}

// The YARN ResourceManager roles fail over on a standby RM's redirect
// (ha.failover_on_standby) as Knox's RMHaDispatch and RM UI dispatches do;
// maxRetryAttempts and retrySleep stay WebHDFS's: for RESOURCEMANAGER they
// are a warning, and no safe-mode retries.
func TestKnoxHaProviderResourceManager(t *testing.T) {
	doc := `<topology><gateway>
<provider><role>authentication</role><name>Anonymous</name><enabled>true</enabled></provider>
<provider><role>ha</role><name>HaProvider</name><enabled>true</enabled>
<param><name>RESOURCEMANAGER</name><value>maxFailoverAttempts=3;failoverSleep=0;maxRetryAttempts=3;enabled=true</value></param>
<param><name>YARNUI</name><value>enabled=true</value></param>
<param><name>YARNUIV2</name><value>enabled=true</value></param>
<param><name>YARN-SCHEDULER-UI</name><value>enabled=false</value></param>
</provider></gateway>
<service><role>RESOURCEMANAGER</role><url>http://rm1:8088/ws</url><url>http://rm2:8088/ws</url></service>
<service><role>YARNUI</role><url>http://rm1:8088</url><url>http://rm2:8088</url></service>
<service><role>YARNUIV2</role><url>http://rm1:8088</url><url>http://rm2:8088</url></service>
<service><role>YARN-SCHEDULER-UI</role><url>http://rm1:8088</url><url>http://rm2:8088</url></service>
</topology>`
	top, warnings := knoxValidated(t, doc)
	for _, s := range top.Services[:3] {
		if h := s.HA; h == nil || !h.FailoverOnStandby || h.SafeModeRetries != 0 || h.SafeModeRetrySleep != 0 {
			t.Errorf("%s ha = %+v, want failover_on_standby only", s.Role, h)
		}
	}
	if h := top.Services[3].HA; h != nil {
		t.Errorf("YARN-SCHEDULER-UI (enabled=false) ha = %+v, want none", h)
	}
	if all := strings.Join(warnings, "\n"); !strings.Contains(all, "HaProvider RESOURCEMANAGER: maxRetryAttempts=3 not honoured") ||
		strings.Contains(all, "YARNUI") || strings.Contains(all, "failoverSleep") {
		t.Errorf("warnings %q, want only maxRetryAttempts=3 not honoured for RESOURCEMANAGER", warnings)
	}
	for role, want := range map[string]bool{"RESOURCEMANAGER": true, "yarnui": true, "YarnUIv2": true, "YARN-SCHEDULER-UI": true, "WEBHDFS": false, "JOBHISTORYUI": false, "": false} {
		if got := ResourceManagerRole(role); got != want {
			t.Errorf("ResourceManagerRole(%q) = %t, want %t", role, got, want)
		}
	}
}
