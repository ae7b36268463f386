package etcdtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/securegw/gateway/internal/pki"
)

// Binary is the etcd server the cluster runs; ETCD_BINARY overrides it.
func Binary() string {
	if b := os.Getenv("ETCD_BINARY"); b != "" {
		return b
	}
	return "/usr/bin/etcd"
}

// Cluster is a running etcd cluster.
type Cluster struct {
	dir     string
	members []*member
	mu      sync.Mutex
	// tls (Options.TLS) and the root user (EnableAuth) are what the
	// cluster's own clients connect with.
	tls            *tls.Config
	user, password string
}

// Options configure a cluster.
type Options struct {
	// TLS serves clients over TLS with a certificate of a CA generated for
	// the cluster and requires a client certificate of that CA (CAFile,
	// ClientCertFiles). Peers talk plain HTTP on loopback.
	TLS bool
}

type member struct {
	name, dataDir      string
	clientURL, peerURL string
	args               []string
	cmd                *exec.Cmd
	exited             chan struct{}
	log                *os.File
}

// Start starts an n-member cluster, waits until it has a leader and stops
// it when t ends. It fails t with a clear message when etcd is missing.
func Start(t testing.TB, n int) *Cluster { t.Helper(); return StartWith(t, n, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	c, err := startCluster(n, o)
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// StartCluster is Start without a testing.TB (for TestMain): the caller
// calls Stop.
func StartCluster(n int) (*Cluster, error) { return startCluster(n, Options{}) }

func startCluster(n int, o Options) (*Cluster, error) {
	if _, err := os.Stat(Binary()); err != nil {
		return nil, fmt.Errorf("etcd server %s not found (Debian package etcd-server; run scripts/test-deps.sh): %w", Binary(), err)
	}
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm" // fsync on tmpfs costs nothing: tests run faster
	}
	dir, err := os.MkdirTemp(base, "etcdtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	ports, err := freePorts(2 * n)
	if err != nil {
		c.Stop()
		return nil, err
	}
	scheme := "http"
	if o.TLS {
		if c.tls, err = c.writeCertificates(); err != nil {
			c.Stop()
			return nil, err
		}
		scheme = "https"
	}
	var initial []string
	for i := range n {
		m := &member{
			name:      fmt.Sprintf("m%d", i),
			dataDir:   filepath.Join(dir, fmt.Sprintf("m%d", i)),
			clientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
		}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	for _, m := range c.members {
		m.args = []string{
			"--name", m.name,
			"--data-dir", m.dataDir,
			"--listen-client-urls", m.clientURL,
			"--advertise-client-urls", m.clientURL,
			"--listen-peer-urls", m.peerURL,
			"--initial-advertise-peer-urls", m.peerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", filepath.Base(dir),
			"--heartbeat-interval", "50",
			"--election-timeout", "500",
			// As etcd 3.5 does by default: a member back from a pause
			// asks before it calls an election, so it does not depose a
			// healthy leader (3.4 here defaults to off).
			"--pre-vote",
			"--logger", "zap",
			"--log-level", "error",
		}
		if o.TLS {
			m.args = append(m.args, "--cert-file", c.file("server.pem"), "--key-file", c.file("server-key.pem"),
				"--trusted-ca-file", c.CAFile(), "--client-cert-auth")
		}
		if err := c.startMember(m); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// freePorts returns n distinct ports the kernel picked on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("picking a port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) startMember(m *member) error {
	logf, err := os.OpenFile(m.dataDir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(Binary(), m.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("starting etcd member %s: %w", m.name, err)
	}
	m.cmd, m.log, m.exited = cmd, logf, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(m.exited)
	return nil
}

// Endpoints returns the client URLs of every member.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.clientURL)
	}
	return out
}

// URL returns an etcd:// store URL naming every member and prefix.
func (c *Cluster) URL(prefix string) string {
	var hosts []string
	for _, m := range c.members {
		_, host, _ := strings.Cut(m.clientURL, "://")
		hosts = append(hosts, host)
	}
	return "etcd://" + strings.Join(hosts, ",") + "/" + strings.TrimPrefix(prefix, "/")
}

// Client returns a client of every member, closed when t ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := c.newClient(c.Endpoints())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func (c *Cluster) newClient(eps []string) (*clientv3.Client, error) {
	c.mu.Lock()
	user, password := c.user, c.password
	c.mu.Unlock()
	return clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		TLS: c.tls, Username: user, Password: password})
}

func (c *Cluster) file(name string) string { return filepath.Join(c.dir, "pki", name) }

// CAFile is the CA certificate (PEM) of a TLS cluster's members and
// clients.
func (c *Cluster) CAFile() string { return c.file("ca.pem") }

// ClientCertFiles are a client certificate and key (PEM) a TLS cluster
// accepts.
func (c *Cluster) ClientCertFiles() (cert, key string) {
	return c.file("client.pem"), c.file("client-key.pem")
}

// writeCertificates creates the CA, the members' server certificate (for
// 127.0.0.1) and a client certificate, and returns the TLS configuration
// of the cluster's own clients.
func (c *Cluster) writeCertificates() (*tls.Config, error) {
	if err := os.MkdirAll(c.file(""), 0o700); err != nil {
		return nil, err
	}
	ca, err := pki.NewCA("etcdtest CA", pki.DefaultKeySpec(), 48*time.Hour)
	if err != nil {
		return nil, err
	}
	serverCert, serverKey, err := ca.IssueServer([]string{"127.0.0.1", "localhost"}, pki.DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	clientCert, clientKey, err := ca.IssueClient("gateway", nil, pki.DefaultKeySpec(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{"ca.pem": ca.CertPEM(), "server.pem": serverCert, "server-key.pem": serverKey,
		"client.pem": clientCert, "client-key.pem": clientKey} {
		if err := os.WriteFile(c.file(name), data, 0o600); err != nil {
			return nil, err
		}
	}
	cert, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: ca.CertPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// EnableAuth turns on etcd's authentication: user (with password) may
// read and write the keys under prefix, nothing else; the cluster's own
// clients use a root user from now on.
func (c *Cluster) EnableAuth(t testing.TB, user, password, prefix string) {
	t.Helper()
	cli := c.Client(t)
	ctx := t.Context()
	root := rand.Text()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", root); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, user); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, user, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, user, password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, user, user); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("enabling etcd authentication (step %d): %v", i+1, err)
		}
	}
	c.mu.Lock()
	c.user, c.password = "root", root
	c.mu.Unlock()
}

// WaitHealthy waits until every running member answers a linearizable read.
func (c *Cluster) WaitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, m := range c.members {
		if m.cmd == nil {
			continue
		}
		cli, err := c.newClient([]string{m.clientURL})
		if err != nil {
			return err
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = cli.Get(ctx, "health")
			cancel()
			if err == nil {
				break
			}
			select {
			case <-m.exited:
				_ = cli.Close()
				out, _ := os.ReadFile(m.dataDir + ".log")
				return fmt.Errorf("etcd member %s exited: %s", m.name, tail(out))
			default:
			}
			if time.Now().After(deadline) {
				_ = cli.Close()
				return fmt.Errorf("etcd member %s not healthy within %s: %w", m.name, limit, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = cli.Close()
	}
	return nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Kill SIGKILLs member i and waits for it to exit.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGCONT)
	_ = m.cmd.Process.Kill()
	<-m.exited
	_ = m.log.Close()
	m.cmd = nil
}

// Restart starts a killed member i again on its data directory.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	m := c.members[i]
	if m.cmd != nil {
		c.mu.Unlock()
		return errors.New("member is running")
	}
	args := make([]string, 0, len(m.args))
	for j := 0; j < len(m.args); j++ {
		if m.args[j] == "--initial-cluster-state" {
			args = append(args, m.args[j], "existing")
			j++
			continue
		}
		args = append(args, m.args[j])
	}
	m.args = args
	err := c.startMember(m)
	c.mu.Unlock()
	return err
}

// Pause stops member i with SIGSTOP; Resume continues it.
func (c *Cluster) Pause(i int) { c.signal(i, syscall.SIGSTOP) }

// Resume continues a paused member.
func (c *Cluster) Resume(i int) { c.signal(i, syscall.SIGCONT) }

func (c *Cluster) signal(i int, sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.members[i]; m.cmd != nil {
		_ = m.cmd.Process.Signal(sig)
	}
}

// Stop kills every member and removes the data directories.
func (c *Cluster) Stop() {
	for i := range c.members {
		c.Kill(i)
	}
	_ = os.RemoveAll(c.dir)
}

// Leader returns the index of the member that leads the cluster now.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	cli := c.Client(t)
	for i, m := range c.members {
		if m.cmd == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, m.clientURL)
		cancel()
		if err != nil {
			t.Fatalf("status of etcd member %s: %v", m.name, err)
		}
		if st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no etcd member leads")
	return -1
}
