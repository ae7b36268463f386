package krbtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/securegw/gateway/internal/testlog"
)

// Realm is the realm every KDC of this package serves.
const Realm = "EXAMPLE.TEST"

// Where Debian's krb5-kdc, krb5-admin-server and krb5-user install their tools.
const (
	KDCPath     = "/usr/sbin/krb5kdc"
	KDBUtilPath = "/usr/sbin/kdb5_util"
	KAdminPath  = "/usr/sbin/kadmin.local"
	KinitPath   = "/usr/bin/kinit"
)

const (
	startTimeout  = 10 * time.Second
	startAttempts = 5
)

// KDC is a running MIT krb5kdc.
type KDC struct {
	// Realm is the realm (the package constant).
	Realm string
	// Addr is the KDC's TCP address, 127.0.0.1:PORT.
	Addr string
	// Dir is the temporary directory holding the realm's files.
	Dir string
	// Krb5Conf is the path of the client configuration (KRB5_CONFIG).
	Krb5Conf string

	kdcConf string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	stderr  *testlog.Buffer
}

// Options say how the realm is made.
type Options struct {
	// MaxLife is the longest ticket lifetime the realm grants; 1h when 0.
	MaxLife time.Duration
}

// Start makes a realm and starts its KDC. It is stopped, and its files
// removed, when the test ends.
func Start(t testing.TB, o Options) *KDC {
	t.Helper()
	requireTools(t)
	if o.MaxLife == 0 {
		o.MaxLife = time.Hour
	}
	k := &KDC{Realm: Realm, Dir: t.TempDir()}
	k.Krb5Conf = filepath.Join(k.Dir, "krb5.conf")
	k.kdcConf = filepath.Join(k.Dir, "kdc.conf")
	t.Cleanup(k.stop)

	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("krbtest: choosing a port: %v", err)
		}
		k.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := k.writeConfig(o); err != nil {
			t.Fatalf("krbtest: %v", err)
		}
		if k.cmd == nil { // the database is made once
			if err := k.createRealm(); err != nil {
				t.Fatalf("krbtest: %v", err)
			}
		}
		if lastErr = k.launch(); lastErr == nil {
			return k
		}
		// Most likely another process took the port between our choosing
		// and krb5kdc binding it: choose again.
		k.stop()
	}
	t.Fatalf("krbtest: krb5kdc did not start in %d attempts: %v", startAttempts, lastErr)
	return nil
}

func (k *KDC) writeConfig(o Options) error {
	life := strconv.Itoa(int(o.MaxLife.Seconds())) + "s"
	krb5 := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 1
	ticket_lifetime = %[3]s
	forwardable = true
	default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96

[realms]
	%[1]s = {
		kdc = %[2]s
		admin_server = %[2]s
	}

[domain_realm]
	localhost = %[1]s
`, k.Realm, k.Addr, life)
	kdc := fmt.Sprintf(`[kdcdefaults]
	kdc_listen = 127.0.0.1:%[3]s
	kdc_tcp_listen = 127.0.0.1:%[3]s

[realms]
	%[1]s = {
		database_name = %[2]s/principal
		key_stash_file = %[2]s/stash
		acl_file = %[2]s/kadm5.acl
		max_life = %[4]s
		max_renewable_life = 0
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}

[logging]
	kdc = FILE:%[2]s/kdc.log
	admin_server = FILE:%[2]s/kadmin.log
	default = FILE:%[2]s/krb5.log
`, k.Realm, k.Dir, portOf(k.Addr), life)
	if err := os.WriteFile(k.Krb5Conf, []byte(krb5), 0o600); err != nil {
		return fmt.Errorf("writing krb5.conf: %w", err)
	}
	if err := os.WriteFile(k.kdcConf, []byte(kdc), 0o600); err != nil {
		return fmt.Errorf("writing kdc.conf: %w", err)
	}
	return os.WriteFile(filepath.Join(k.Dir, "kadm5.acl"), nil, 0o600)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// toolEnv is the environment of the realm's tools: the system's minus any
// Kerberos variables, plus ours.
func (k *KDC) toolEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KRB5") {
			env = append(env, e)
		}
	}
	return append(env, append([]string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5_KDC_PROFILE=" + k.kdcConf}, extra...)...)
}

func (k *KDC) run(stdin string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = k.toolEnv()
	cmd.Dir = k.Dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	// kadmin.local reports failures of its commands on its output and
	// exits 0.
	if s := string(out); strings.Contains(s, "kadmin.local: ") && strings.Contains(strings.ToLower(s), "while ") {
		return fmt.Errorf("%s: %s", filepath.Base(name), bytes.TrimSpace(out))
	}
	return nil
}

func (k *KDC) createRealm() error {
	master := randomString()
	return k.run("", KDBUtilPath, "create", "-s", "-r", k.Realm, "-P", master, "-W")
}

func (k *KDC) kadmin(commands ...string) error {
	return k.run(strings.Join(commands, "\n")+"\n", KAdminPath, "-r", k.Realm)
}

func (k *KDC) launch() error {
	cmd := exec.Command(KDCPath, "-n", "-r", k.Realm)
	cmd.Env = k.toolEnv()
	cmd.Dir = k.Dir
	k.stderr = &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = k.stderr, k.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting krb5kdc: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // the exit is what done reports
	k.mu.Lock()
	k.cmd, k.done = cmd, done
	k.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(k.Dir, "kdc.log"))
			return fmt.Errorf("krb5kdc exited: %s %s", k.stderr.String(), lastLines(log, 5))
		default:
		}
		if c, err := net.DialTimeout("tcp", k.Addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("krb5kdc not listening on %s after %v", k.Addr, startTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func (k *KDC) stop() {
	k.mu.Lock()
	cmd, done := k.cmd, k.done
	k.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Kill() //nolint:errcheck // it may have exited
	<-done
}

// Stop kills the KDC and waits for it to exit: clients then cannot reach it.
func (k *KDC) Stop(t testing.TB) {
	t.Helper()
	k.stop()
}

// AddUser creates the principal name@Realm with password.
func (k *KDC) AddUser(t testing.TB, name, password string) {
	t.Helper()
	if err := k.kadmin(fmt.Sprintf("addprinc -pw %s %s", password, name)); err != nil {
		t.Fatalf("krbtest: adding %s: %v", name, err)
	}
}

// AddService creates the principal spn@Realm ("HTTP/localhost") with a
// random key and returns a keytab holding its keys, as ktadd writes it.
func (k *KDC) AddService(t testing.TB, spn string) []byte {
	t.Helper()
	kt := filepath.Join(k.Dir, "kt-"+randomString()+".keytab")
	if err := k.kadmin("addprinc -randkey "+spn, "ktadd -k "+kt+" "+spn); err != nil {
		t.Fatalf("krbtest: adding %s: %v", spn, err)
	}
	b, err := os.ReadFile(kt)
	if err != nil {
		t.Fatalf("krbtest: reading the keytab of %s: %v", spn, err)
	}
	return b
}

// Keytab parses b, a keytab AddService returned.
func Keytab(t testing.TB, b []byte) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	if err := kt.Unmarshal(b); err != nil {
		t.Fatalf("krbtest: parsing a keytab: %v", err)
	}
	return kt
}

// Config is the client configuration, parsed by gokrb5.
func (k *KDC) Config(t testing.TB) *config.Config {
	t.Helper()
	c, err := config.Load(k.Krb5Conf)
	if err != nil {
		t.Fatalf("krbtest: loading %s: %v", k.Krb5Conf, err)
	}
	return c
}

// Login returns a gokrb5 client logged in as user with password. It is
// destroyed when the test ends.
func (k *KDC) Login(t testing.TB, user, password string) *client.Client {
	t.Helper()
	cl := client.NewWithPassword(user, k.Realm, password, k.Config(t), client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("krbtest: logging in as %s: %v", user, err)
	}
	t.Cleanup(cl.Destroy)
	return cl
}

// Env is the environment for the client tools a test runs (kinit, curl
// --negotiate): the realm's configuration and a credential cache in the
// realm's directory, named after ccache.
func (k *KDC) Env(ccache string) []string {
	return k.toolEnv("KRB5CCNAME=FILE:" + filepath.Join(k.Dir, "cc-"+ccache))
}

// Kinit runs kinit as user with password into the credential cache named
// ccache (see Env); extra are further kinit options ("-l", "5s").
func (k *KDC) Kinit(t testing.TB, ccache, user, password string, extra ...string) {
	t.Helper()
	args := append(append([]string{}, extra...), user+"@"+k.Realm)
	cmd := exec.Command(KinitPath, args...)
	cmd.Env = k.Env(ccache)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("krbtest: kinit %s: %v: %s", user, err, bytes.TrimSpace(out))
	}
}

// Password returns a random password.
func Password() string { return randomString() }

func randomString() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var (
	depsOnce sync.Once
	depsOut  []byte
)

func requireTools(t testing.TB) {
	t.Helper()
	tools := []string{KDCPath, KDBUtilPath, KAdminPath, KinitPath}
	missing := func() []string {
		var m []string
		for _, p := range tools {
			if _, err := os.Stat(p); err != nil {
				m = append(m, p)
			}
		}
		return m
	}
	if len(missing()) == 0 {
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
	if m := missing(); len(m) > 0 {
		t.Fatalf("krbtest: %s missing and scripts/test-deps.sh could not install them "+
			"(apt-get install krb5-kdc krb5-admin-server krb5-user as root; CI runs make test, which installs them): %s",
			strings.Join(m, ", "), bytes.TrimSpace(depsOut))
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
			return "", errors.New("scripts/test-deps.sh not found")
		}
	}
}
