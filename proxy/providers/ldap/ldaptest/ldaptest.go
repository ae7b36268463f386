package ldaptest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/securegw/gateway/internal/testlog"
	"github.com/securegw/gateway/internal/testpki"
)

// Where the directory lives.
const (
	Suffix    = "dc=example,dc=org"
	PeopleDN  = "ou=people," + Suffix
	GroupsDN  = "ou=groups," + Suffix
	ServiceDN = "cn=gateway,ou=services," + Suffix
)

// SlapdPath is where Debian's slapd package installs the server.
const SlapdPath = "/usr/sbin/slapd"

const (
	memberOfModule = "/usr/lib/ldap/memberof.la"
	startTimeout   = 10 * time.Second
	startAttempts  = 5
)

// User is a person entry (objectClass inetOrgPerson) under PeopleDN, named by uid.
type User struct {
	UID      string
	Password string
}

// Group is a groupOfNames under GroupsDN whose members are users, by uid.
type Group struct {
	CN      string
	Members []string
}

// Options say what the directory holds.
type Options struct {
	Users  []User
	Groups []Group
}

// Server is a running slapd.
type Server struct {
	// URL is the plain LDAP endpoint, which offers StartTLS.
	URL string
	// LDAPSURL is the LDAP-over-TLS endpoint.
	LDAPSURL string
	// CA issued the server's certificate (for 127.0.0.1 and localhost).
	CA *testpki.CA
	// RootDN and RootPassword are the directory manager's.
	RootDN, RootPassword string
	// ServiceDN (the package constant) and ServicePassword are a service
	// account that may read the directory, for search-then-bind.
	ServicePassword string
	// MemberOf reports whether the memberOf overlay is on: users then carry
	// memberOf values naming their groups.
	MemberOf bool

	dir          string
	ports        [2]int
	mu           sync.Mutex
	cmd          *exec.Cmd
	done         chan struct{}
	stderr       *testlog.Buffer
	harnessBinds atomic.Int64
}

// Start starts a slapd holding o's users and groups. It is stopped, and its
// files removed, when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	requireSlapd(t)
	s := &Server{
		CA:              testpki.NewCA(t, "ldaptest CA"),
		RootDN:          "cn=admin," + Suffix,
		RootPassword:    randomString(t),
		ServicePassword: randomString(t),
		dir:             t.TempDir(),
	}
	if _, err := os.Stat(memberOfModule); err == nil {
		s.MemberOf = true
	}
	if err := s.writeConfig(t); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	t.Cleanup(s.stop)

	var lastErr error
	for range startAttempts {
		ports, err := freePorts(2)
		if err != nil {
			t.Fatalf("ldaptest: choosing ports: %v", err)
		}
		s.ports = [2]int{ports[0], ports[1]}
		s.URL = fmt.Sprintf("ldap://127.0.0.1:%d/", ports[0])
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d/", ports[1])
		if lastErr = s.launch(); lastErr == nil {
			break
		}
		// Most likely another process took a port between our choosing and
		// slapd binding it: choose again.
		s.stop()
	}
	if lastErr != nil {
		t.Fatalf("ldaptest: slapd did not start in %d attempts: %v", startAttempts, lastErr)
	}
	if err := s.seed(o); err != nil {
		t.Fatalf("ldaptest: loading the directory: %v", err)
	}
	return s
}

// UserDN is the DN of the user with uid.
func (s *Server) UserDN(uid string) string { return "uid=" + hexDN(uid) + "," + PeopleDN }

// GroupDN is the DN of the group with cn.
func (s *Server) GroupDN(cn string) string { return "cn=" + hexDN(cn) + "," + GroupsDN }

// Stop kills slapd (SIGKILL) and waits for it to exit. The directory's data
// stay for Restart.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

// Restart starts slapd again on the same ports with the same data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	if err := s.launch(); err != nil {
		t.Fatalf("ldaptest: restarting slapd: %v", err)
	}
}

// Binds returns how many bind operations slapd completed since it last
// started, not counting the harness's own (readiness checks, loading,
// these reads).
func (s *Server) Binds(t testing.TB) int64 {
	t.Helper()
	n := s.monitorCounter(t, "cn=Bind,cn=Operations,cn=Monitor", "monitorOpCompleted")
	return n - s.harnessBinds.Load()
}

// WaitBinds returns Binds(t)-before once it has reached want, or what it is
// after a few seconds: slapd counts an operation as completed after it has
// sent the answer, so a client can see the answer before the count moves.
func (s *Server) WaitBinds(t testing.TB, before, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := s.Binds(t) - before
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Connections returns how many client connections slapd has open, not
// counting the one this call uses.
func (s *Server) Connections(t testing.TB) int64 {
	t.Helper()
	return s.monitorCounter(t, "cn=Current,cn=Connections,cn=Monitor", "monitorCounter") - 1
}

func (s *Server) monitorCounter(t testing.TB, dn, attr string) int64 {
	t.Helper()
	l, err := s.rootConn()
	if err != nil {
		t.Fatalf("ldaptest: reading %s: %v", dn, err)
	}
	defer l.Close()
	res, err := l.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("ldaptest: reading %s: %v", dn, err)
	}
	n, err := strconv.ParseInt(res.Entries[0].GetAttributeValue(attr), 10, 64)
	if err != nil {
		t.Fatalf("ldaptest: %s %s: %v", dn, attr, err)
	}
	return n
}

// writeConfig writes slapd.conf, the TLS files and the database directory.
func (s *Server) writeConfig(t testing.TB) error {
	leaf := s.CA.Server(t, "127.0.0.1", "localhost")
	files := map[string][]byte{
		"ca.pem":   s.CA.PEM,
		"cert.pem": leaf.CertPEM,
		"key.pem":  leaf.KeyPEM,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(s.dir, "db"), 0o700); err != nil {
		return err
	}
	var b strings.Builder
	for _, schema := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include /etc/ldap/schema/%s.schema\n", schema)
	}
	fmt.Fprintf(&b, "pidfile %s\n", filepath.Join(s.dir, "slapd.pid"))
	b.WriteString("modulepath /usr/lib/ldap\nmoduleload back_mdb\n")
	if s.MemberOf {
		b.WriteString("moduleload memberof\n")
	}
	fmt.Fprintf(&b, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n",
		filepath.Join(s.dir, "ca.pem"), filepath.Join(s.dir, "cert.pem"), filepath.Join(s.dir, "key.pem"))
	// As in a real deployment: passwords are only for binding, and only
	// authenticated clients may read.
	b.WriteString("access to attrs=userPassword by self write by anonymous auth by * none\n")
	b.WriteString("access to * by users read by * none\n")
	fmt.Fprintf(&b, "database monitor\naccess to * by dn.exact=%q read by * none\n", s.RootDN)
	fmt.Fprintf(&b, "database mdb\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\nmaxsize 33554432\n",
		Suffix, s.RootDN, ssha(s.RootPassword), filepath.Join(s.dir, "db"))
	if s.MemberOf {
		b.WriteString("overlay memberof\n")
	}
	return os.WriteFile(filepath.Join(s.dir, "slapd.conf"), []byte(b.String()), 0o600)
}

// launch runs slapd in the foreground and waits until a bind succeeds.
func (s *Server) launch() error {
	s.mu.Lock()
	cmd := exec.Command(SlapdPath, "-d", "0",
		"-f", filepath.Join(s.dir, "slapd.conf"),
		"-h", s.URL+" "+s.LDAPSURL)
	s.stderr = &testlog.Buffer{}
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("running %s: %w", SlapdPath, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	s.harnessBinds.Store(0)
	s.mu.Unlock()

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		l, err := s.rootConn()
		if err == nil {
			l.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("slapd exited: %s", strings.TrimSpace(s.stderr.String()))
		case <-deadline.C:
			return fmt.Errorf("slapd not ready after %v: %v; output: %s", startTimeout, err, strings.TrimSpace(s.stderr.String()))
		case <-tick.C:
		}
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}

// rootConn connects to the plain port and binds as the root DN.
func (s *Server) rootConn() (*goldap.Conn, error) {
	l, err := goldap.DialURL(s.URL, goldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return nil, err
	}
	l.SetTimeout(5 * time.Second)
	err = l.Bind(s.RootDN, s.RootPassword)
	var le *goldap.Error
	if err == nil || (errors.As(err, &le) && le.ResultCode != goldap.ErrorNetwork) {
		s.harnessBinds.Add(1) // slapd saw it
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// seed loads the entries online, so that the memberOf overlay maintains
// memberOf.
func (s *Server) seed(o Options) error {
	l, err := s.rootConn()
	if err != nil {
		return err
	}
	defer l.Close()
	add := func(dn string, attrs map[string][]string) error {
		req := goldap.NewAddRequest(dn, nil)
		for _, k := range sortedKeys(attrs) {
			req.Attribute(k, attrs[k])
		}
		if err := l.Add(req); err != nil {
			return fmt.Errorf("adding %q: %w", dn, err)
		}
		return nil
	}
	if err := add(Suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "o": {"example"}, "dc": {"example"}}); err != nil {
		return err
	}
	for _, ou := range []string{"people", "groups", "services"} {
		if err := add("ou="+ou+","+Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}}); err != nil {
			return err
		}
	}
	if err := add(ServiceDN, map[string][]string{
		"objectClass": {"organizationalRole", "simpleSecurityObject"}, "cn": {"gateway"},
		"userPassword": {ssha(s.ServicePassword)},
	}); err != nil {
		return err
	}
	for _, u := range o.Users {
		if err := add(s.UserDN(u.UID), map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {u.UID}, "cn": {u.UID}, "sn": {"user"},
			"userPassword": {ssha(u.Password)},
		}); err != nil {
			return err
		}
	}
	for _, g := range o.Groups {
		members := make([]string, len(g.Members))
		for i, m := range g.Members {
			members[i] = s.UserDN(m)
		}
		if err := add(s.GroupDN(g.CN), map[string][]string{
			"objectClass": {"groupOfNames"}, "cn": {g.CN}, "member": members,
		}); err != nil {
			return err
		}
	}
	return nil
}

// hexDN escapes an attribute value for a DN by writing every byte that is
// not a letter or a digit as \XX (RFC 4514 hexpair): deliberately not the
// escaping code under test.
func hexDN(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('\\')
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// ssha is OpenLDAP's {SSHA} password scheme: SHA-1 over password and salt.
func ssha(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

func randomString(t testing.TB) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// freePorts returns n distinct ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

var (
	depsOnce sync.Once
	depsOut  []byte
)

// requireSlapd fails the test unless slapd is installed, running
// scripts/test-deps.sh once (per test binary) when it is not.
func requireSlapd(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(SlapdPath); err == nil {
		return
	}
	depsOnce.Do(func() {
		script, err := findScript()
		if err != nil {
			depsOut = []byte(err.Error())
			return
		}
		depsOut, _ = exec.Command("bash", script).CombinedOutput()
	})
	if _, err := os.Stat(SlapdPath); err != nil {
		t.Fatalf("ldaptest: %s is missing and scripts/test-deps.sh could not install it "+
			"(apt-get install slapd ldap-utils as root; CI runs make test, which installs them): %s",
			SlapdPath, bytes.TrimSpace(depsOut))
	}
}

func findScript() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the source tree")
	}
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "scripts", "test-deps.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if parent := filepath.Dir(dir); parent == dir {
			return "", errors.New("scripts/test-deps.sh not found above " + filepath.Dir(file))
		}
	}
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
