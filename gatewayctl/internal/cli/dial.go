package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// dial loads the config and returns a connection to gatewayd. The
// connection is lazy: nothing goes over the network before the first call.
// Every unary call gets the --timeout deadline, and its error is wrapped in
// an *rpcError that knows the method and address, for errors.go.
func (f *factory) dial() (*grpc.ClientConn, error) {
	cfg, err := f.loadConfig()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := clientTLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	addr, timeout := cfg.Server, f.timeout
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
				return &rpcError{method: method, addr: addr, timeout: timeout, err: err}
			}
			return nil
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connecting to gatewayd at %s: %w", addr, err)
	}
	return conn, nil
}

// clientTLSConfig trusts only the configured CA and presents the client
// certificate.
func clientTLSConfig(cfg *config) (*tls.Config, error) {
	caPEM, err := os.ReadFile(cfg.CA)
	if err != nil {
		return nil, fmt.Errorf("config %s: reading CA: %w", cfg.path, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("config %s: CA file %s holds no PEM certificate", cfg.path, cfg.CA)
	}
	certPEM, err := os.ReadFile(cfg.Cert)
	if err != nil {
		return nil, fmt.Errorf("config %s: reading client certificate: %w", cfg.path, err)
	}
	keyPEM, err := os.ReadFile(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("config %s: reading client key: %w", cfg.path, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	clear(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("config %s: client certificate %s and key %s: %w", cfg.path, cfg.Cert, cfg.Key, err)
	}
	serverName := cfg.ServerName
	if serverName == "" {
		host, _, err := net.SplitHostPort(cfg.Server)
		if err != nil {
			return nil, fmt.Errorf("server %q is not host:port", cfg.Server)
		}
		serverName = host
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      roots,
		Certificates: []tls.Certificate{cert},
		ServerName:   serverName,
	}, nil
}

// rpcError is a failed call to gatewayd; Error gives the human message.
type rpcError struct {
	method  string
	addr    string
	timeout time.Duration
	err     error
}

func (e *rpcError) Error() string { return describeRPCError(e) }
func (e *rpcError) Unwrap() error { return e.err }
