package topology

import (
	"maps"
	"strings"
	"testing"
)

// knoxHadoopAuth is the HadoopAuth provider of Knox's user guide
// ("HadoopAuth Authentication Provider"), with multi-line rules.
const knoxHadoopAuth = `<topology><gateway>
<provider>
  <role>authentication</role>
  <name>HadoopAuth</name>
  <enabled>true</enabled>
  <param><name>config.prefix</name><value>hadoop.auth.config</value></param>
  <param><name>hadoop.auth.config.signature.secret</name><value>${ALIAS=knox-signature}</value></param>
  <param><name>hadoop.auth.config.type</name><value>kerberos</value></param>
  <param><name>hadoop.auth.config.simple.anonymous.allowed</name><value>false</value></param>
  <param><name>hadoop.auth.config.token.validity</name><value>1800</value></param>
  <param><name>hadoop.auth.config.cookie.domain</name><value>novalocal</value></param>
  <param><name>hadoop.auth.config.cookie.path</name><value>gateway/default</value></param>
  <param><name>hadoop.auth.config.kerberos.principal</name><value>HTTP/localhost@LOCALHOST</value></param>
  <param><name>hadoop.auth.config.kerberos.keytab</name><value>/etc/security/keytabs/spnego.service.keytab</value></param>
  <param><name>hadoop.auth.config.kerberos.name.rules</name><value>
      RULE:[1:$1@$0](.*@LOCALHOST)s/@.*//
      DEFAULT</value></param>
</provider>
<provider><role>identity-assertion</role><name>Default</name><enabled>true</enabled></provider>
</gateway>
<service><role>WEBHDFS</role><url>http://localhost:50070/webhdfs</url></service>
</topology>`

func TestKnoxHadoopAuth(t *testing.T) {
	top, err := Parse([]byte(knoxHadoopAuth), xmlF, "default.xml", "")
	if err != nil {
		t.Fatal(err)
	}
	p := top.Providers[0]
	want := map[string]string{
		"signature.secret":    "${alias:knox-signature}",
		"cookie.validity":     "1800s",
		"cookie.domain":       "novalocal",
		"cookie.path":         "gateway/default",
		"kerberos.principal":  "HTTP/localhost@LOCALHOST",
		"kerberos.keytab":     "${alias:spnego.service.keytab}",
		"kerberos.name.rules": "RULE:[1:$1@$0](.*@LOCALHOST)s/@.*// DEFAULT",
	}
	if p.Role != "authentication" || p.Name != "kerberos" || !maps.Equal(p.Params, want) {
		t.Fatalf("%s/%s %q", p.Role, p.Name, p.Params)
	}
	warnings, err := Validate(top)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "gatewayctl alias create spnego.service.keytab --from-file /etc/security/keytabs/spnego.service.keytab") {
		t.Fatalf("warnings %q", warnings)
	}
}

func TestKnoxHadoopAuthRefused(t *testing.T) {
	for _, tc := range []struct{ params, err string }{
		{`<param><name>hadoop.auth.config.type</name><value>simple</value></param>`, `HadoopAuth type "simple" is not supported: only kerberos`},
		{`<param><name>hadoop.auth.config.token.validity</name><value>soon</value></param>`, `"soon" is not a number of seconds`},
	} {
		doc := `<topology><gateway><provider><role>authentication</role><name>HadoopAuth</name><enabled>true</enabled>` + tc.params +
			`</provider></gateway><service><role>ECHO</role><url>http://h</url></service></topology>`
		top, err := Parse([]byte(doc), xmlF, "k.xml", "")
		if err == nil {
			_, err = Validate(top)
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v; want %q", tc.params, err, tc.err)
		}
	}
}
