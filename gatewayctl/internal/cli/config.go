// The gatewayctl config file. gatewayd init writes it; gatewayctl only reads
// it. It is YAML, decoded strictly (an unknown key is an error), with these
// keys:
//
//	server: 127.0.0.1:8444        # required unless --server is given: host:port of the management API
//	ca: ca.pem                    # required: PEM CA certificate(s) that verify gatewayd; the only trusted roots
//	cert: admin.pem               # required: PEM client certificate (chain) presented to gatewayd
//	key: admin-key.pem            # required: PEM private key of cert
//	server_name: gatewayd.local   # optional: name checked in gatewayd's certificate;
//	                              # default: the host part of server (an IP is checked as an IP SAN)
//
// Relative paths are resolved against the directory of the config file, and a
// leading "~/" against the home directory. The file is found through
// --config, else $GATEWAYCTL_CONFIG, else ~/.config/gatewayctl/config.yaml.

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// config is the decoded config file, with paths made absolute.
type config struct {
	Server     string `yaml:"server"`
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`

	// path is the file the config was read from.
	path string `yaml:"-"`
}

// maxConfigSize bounds the config file; it is a few lines.
const maxConfigSize = 1 << 20

// configPath returns the config file to use and whether it was chosen
// explicitly (flag or environment) rather than defaulted.
func (f *factory) resolveConfigPath() (string, error) {
	if f.configPath != "" {
		return f.configPath, nil
	}
	if p := f.getenv("GATEWAYCTL_CONFIG"); p != "" {
		return p, nil
	}
	return defaultConfigPath(f.getenv)
}

// loadConfig reads and checks the config file, applying --server.
func (f *factory) loadConfig() (*config, error) {
	path, err := f.resolveConfigPath()
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(path, f.getenv)
	if err != nil {
		return nil, err
	}
	if f.server != "" {
		cfg.Server = f.server
	}
	if cfg.Server == "" {
		return nil, fmt.Errorf("config %s: no server: set the server key or --server", path)
	}
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		return nil, fmt.Errorf("server %q is not host:port", cfg.Server)
	}
	return cfg, nil
}

// readConfig decodes the file at path strictly and resolves its paths.
func readConfig(path string, getenv func(string) string) (*config, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist (set --config or GATEWAYCTL_CONFIG; 'gatewayd init' writes one)", path)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxConfigSize)
	}

	var cfg config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: file is empty", path)
		}
		return nil, fmt.Errorf("config %s: %s", path, yamlErrorText(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: more than one YAML document", path)
	}

	var missing []string
	for _, k := range []struct{ name, val string }{{"ca", cfg.CA}, {"cert", cfg.Cert}, {"key", cfg.Key}} {
		if k.val == "" {
			missing = append(missing, k.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("config %s: missing %s", path, strings.Join(missing, ", "))
	}
	dir := filepath.Dir(path)
	cfg.CA = resolvePath(dir, cfg.CA, getenv)
	cfg.Cert = resolvePath(dir, cfg.Cert, getenv)
	cfg.Key = resolvePath(dir, cfg.Key, getenv)
	cfg.path = path
	return &cfg, nil
}

// resolvePath makes p absolute: "~/x" is under the home directory, a
// relative path is under dir.
func resolvePath(dir, p string, getenv func(string) string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

var yamlUnknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

// yamlErrorText rewrites yaml.v3 decoding errors for humans: one line, with
// unknown fields named as keys.
func yamlErrorText(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		if m := yamlUnknownField.FindStringSubmatch(e); m != nil {
			msgs = append(msgs, fmt.Sprintf("line %s: unknown key %q", m[1], m[2]))
			continue
		}
		msgs = append(msgs, e)
	}
	return strings.Join(msgs, "; ")
}
