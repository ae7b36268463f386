package pki

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

const ioTimeout = 10 * time.Second

// serveTLS runs a TLS server on loopback that completes each handshake,
// writes the client certificate's common name ("-" without one) and a
// newline, and closes. It returns the address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := c.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(ioTimeout))
				if err := tc.Handshake(); err != nil {
					return
				}
				name := "-"
				if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
					name = pc[0].Subject.CommonName
				}
				_, _ = io.WriteString(tc, name+"\n")
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// exchange dials addr, reads the server's line, and returns the server's
// leaf certificate and the line.
func exchange(addr string, cfg *tls.Config) (*x509.Certificate, string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", addr, cfg)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return nil, "", err
	}
	return conn.ConnectionState().PeerCertificates[0], strings.TrimSpace(line), nil
}

func keyPair(t *testing.T, certPEM, keyPEM []byte) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("X509KeyPair: %v", err)
	}
	return c
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t, KeySpec{})
	otherCA := newTestCA(t, KeySpec{})
	srvCert := serverPair(t, ca, []string{"gw.example.test", "127.0.0.1"}, KeySpec{})
	addr := serveTLS(t, &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.CertPool(),
		MinVersion:   tls.VersionTLS12,
	})

	good := clientPair(t, ca, "admin", KeySpec{Type: KeyEd25519})
	foreign := clientPair(t, otherCA, "admin", KeySpec{})
	serverOnly := serverPair(t, ca, []string{"impostor.example.test"}, KeySpec{})

	tests := []struct {
		name     string
		certs    []tls.Certificate
		version  uint16
		wantName string // empty: the connection must fail
	}{
		{"client certificate from the same CA", []tls.Certificate{good}, 0, "admin"},
		{"same CA over TLS 1.2", []tls.Certificate{good}, tls.VersionTLS12, "admin"},
		{"client certificate from another CA", []tls.Certificate{foreign}, 0, ""},
		{"another CA over TLS 1.2", []tls.Certificate{foreign}, tls.VersionTLS12, ""},
		{"server certificate used as client certificate", []tls.Certificate{serverOnly}, 0, ""},
		{"no client certificate", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, name, err := exchange(addr, &tls.Config{
				RootCAs:      ca.CertPool(),
				ServerName:   "gw.example.test",
				Certificates: tt.certs,
				MaxVersion:   tt.version,
			})
			if tt.wantName == "" {
				if err == nil {
					t.Fatalf("connection accepted (server saw %q), want a refusal", name)
				}
				return
			}
			if err != nil {
				t.Fatalf("mTLS exchange: %v", err)
			}
			if name != tt.wantName {
				t.Fatalf("server saw client %q, want %q", name, tt.wantName)
			}
		})
	}

	t.Run("client refuses a server from another CA", func(t *testing.T) {
		_, _, err := exchange(addr, &tls.Config{RootCAs: otherCA.CertPool(), ServerName: "gw.example.test", Certificates: []tls.Certificate{good}})
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("error = %v, want an unknown authority error", err)
		}
	})
}

func TestReloader(t *testing.T) {
	ca := newTestCA(t, KeySpec{})
	hosts := []string{"gw.example.test"}
	certA := serverPair(t, ca, hosts, KeySpec{})
	certB := serverPair(t, ca, hosts, KeySpec{Type: KeyEd25519})
	fpA, fpB := Fingerprint(mustLeaf(t, certA)), Fingerprint(mustLeaf(t, certB))

	// next is what the load function returns; only this goroutine calls load.
	next := &certA
	var nextErr error
	r, err := NewReloader(func() (*tls.Certificate, error) { return next, nextErr })
	if err != nil {
		t.Fatalf("NewReloader: %v", err)
	}
	addr := serveTLS(t, &tls.Config{GetCertificate: r.GetCertificate})
	client := &tls.Config{RootCAs: ca.CertPool(), ServerName: "gw.example.test"}

	steps := []struct {
		name    string
		next    *tls.Certificate
		nextErr error
		wantErr bool
		wantFP  string
	}{
		{"initial identity", nil, nil, false, fpA},
		{"reload swaps", &certB, nil, false, fpB},
		{"failing load keeps the current identity", nil, errors.New("disk on fire"), true, fpB},
		{"nil certificate keeps the current identity", nil, nil, true, fpB},
		{"empty certificate keeps the current identity", &tls.Certificate{}, nil, true, fpB},
		{"reload back", &certA, nil, false, fpA},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if i > 0 {
				next, nextErr = st.next, st.nextErr
				err := r.Reload()
				if st.wantErr != (err != nil) {
					t.Fatalf("Reload error = %v, want error: %v", err, st.wantErr)
				}
			}
			leaf, _, err := exchange(addr, client)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if got := Fingerprint(leaf); got != st.wantFP {
				t.Fatalf("server presented %s, want %s", got, st.wantFP)
			}
			if got := Fingerprint(mustLeaf(t, *r.Current())); got != st.wantFP {
				t.Fatalf("Current is %s, want %s", got, st.wantFP)
			}
		})
	}

	t.Run("NewReloader fails when the first load fails", func(t *testing.T) {
		for _, load := range []func() (*tls.Certificate, error){
			nil,
			func() (*tls.Certificate, error) { return nil, errors.New("no file") },
			func() (*tls.Certificate, error) { return nil, nil },
		} {
			if _, err := NewReloader(load); err == nil {
				t.Fatal("NewReloader succeeded, want an error")
			}
		}
	})
}

func TestFileLoader(t *testing.T) {
	ca := newTestCA(t, KeySpec{})
	certPEM, keyPEM, err := ca.IssueServer([]string{"gw.example.test"}, KeySpec{}, day)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := dir+"/tls.crt", dir+"/tls.key"
	if err := WriteFileAtomic(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewReloader(FileLoader(certFile, keyFile))
	if err != nil {
		t.Fatalf("NewReloader(FileLoader): %v", err)
	}
	first := Fingerprint(mustLeaf(t, *r.Current()))

	certPEM2, keyPEM2, err := ca.IssueServer([]string{"gw.example.test"}, KeySpec{}, day)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(certFile, certPEM2, 0o644); err != nil {
		t.Fatal(err)
	}
	// The key on disk no longer matches the certificate: keep the old pair.
	if err := r.Reload(); err == nil {
		t.Fatal("Reload with a mismatched key succeeded")
	}
	if got := Fingerprint(mustLeaf(t, *r.Current())); got != first {
		t.Fatal("a failed reload replaced the identity")
	}
	if err := WriteFileAtomic(keyFile, keyPEM2, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := Fingerprint(mustLeaf(t, *r.Current())); got == first {
		t.Fatal("Reload kept the old identity")
	}
}

func mustLeaf(t *testing.T, c tls.Certificate) *x509.Certificate {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func serverPair(t *testing.T, ca *Authority, hosts []string, spec KeySpec) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueServer(hosts, spec, day)
	if err != nil {
		t.Fatalf("IssueServer: %v", err)
	}
	return keyPair(t, certPEM, keyPEM)
}

func clientPair(t *testing.T, ca *Authority, name string, spec KeySpec) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueClient(name, []string{"admins"}, spec, day)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	return keyPair(t, certPEM, keyPEM)
}
