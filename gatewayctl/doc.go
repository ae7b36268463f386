// Command gatewayctl drives the management API of gatewayd over gRPC with
// mutual TLS.
//
//	gatewayctl status
//	gatewayctl topology deploy sandbox.yaml
//	gatewayctl topology validate sandbox.yaml      # offline, no server needed
//	gatewayctl alias create ldap-bind-password      # value from stdin or a no-echo prompt
//	gatewayctl token issue --on-behalf-of alice --policy etl
//
// # Configuration
//
// gatewayctl reads one YAML file, chosen by --config, else the environment
// variable GATEWAYCTL_CONFIG, else ~/.config/gatewayctl/config.yaml.
// `gatewayd init` writes it. The file is decoded strictly: an unknown key is an
// error. Keys:
//
//	server: 127.0.0.1:8444        # host:port of the management API; --server overrides
//	ca: ca.pem                    # PEM CA bundle that verifies gatewayd; the only roots trusted
//	cert: admin.pem               # PEM client certificate (chain) presented to gatewayd
//	key: admin-key.pem            # PEM private key of cert
//	server_name: gatewayd.local   # optional: name verified in gatewayd's certificate
//	                              # (default: the host part of server)
//
// Relative paths are resolved against the directory of the config file; a
// leading "~/" means the home directory. TLS 1.2 is the minimum version.
//
// # Output and exit codes
//
// -o table (default), json (protojson with proto field names) or yaml. Errors
// are one line on stderr, "error: …"; the exit code is 1 for errors and 2 for
// usage errors (unknown command or flag, missing or bad argument).
//
// The commands live in package internal/cli, one file per verb.
package main
