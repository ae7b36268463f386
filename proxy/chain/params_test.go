package chain_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/securegw/gateway/proxy/chain"
)

var knoxLike = []chain.Param{
	chain.P("url", "main.ldapRealm.contextFactory.url"),
	chain.P("timeout"), chain.P("pool_size"), chain.P("enabled"), chain.P("groups"), chain.P("password"),
}

func TestReadUnknownAndAliases(t *testing.T) {
	tests := []struct {
		name   string
		params chain.Params
		err    string // "" for none
		param  string // of the *ParamError
		also   []string
	}{
		{"known names", chain.Params{"url": "ldap://x", "timeout": "1s"}, "", "", nil},
		{"a Knox alias", chain.Params{"main.ldapRealm.contextFactory.url": "ldap://x"}, "", "", nil},
		{"dynamic names", chain.Params{"user.alice": "h", "webhdfs.acl": "*;*;*"}, "", "", nil},
		{"one unknown", chain.Params{"url": "x", "urls": "y"}, `param "urls": is not a parameter of this provider`, "urls", nil},
		{"every unknown at once, sorted", chain.Params{"zz": "", "url": "x", "Timeout": "1s", "a.b": ""},
			`params "Timeout", "a.b", "zz": are not parameters of this provider`, "Timeout", []string{"a.b", "zz"}},
		{"the same setting under two names", chain.Params{"url": "a", "main.ldapRealm.contextFactory.url": "b"},
			`param "url": is the same setting as "main.ldapRealm.contextFactory.url": give one of them`, "url", nil},
		{"a suffix alone is not a dynamic name", chain.Params{".acl": "x"}, `param ".acl": is not a parameter of this provider`, ".acl", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chain.Config{Params: tc.params}.Read(knoxLike, chain.Prefix("user."), chain.Suffix(".acl"))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *chain.ParamError
			if err == nil || err.Error() != tc.err || !errors.As(err, &pe) || pe.Param != tc.param || !slices.Equal(pe.Also, tc.also) {
				t.Fatalf("err %v, want %s (param %q, also %q)", err, tc.err, tc.param, tc.also)
			}
		})
	}
}

func TestReaderGetters(t *testing.T) {
	c := chain.Config{
		Params: chain.Params{
			"main.ldapRealm.contextFactory.url": " ldap://x ", "timeout": "250ms", "pool_size": "8",
			"enabled": "true", "groups": " a, ,b ,c,", "password": "pre-${alias:pw}", "user.alice": "h1",
		},
		Resolve: func(_ context.Context, alias string) ([]byte, error) {
			if alias == "pw" {
				return []byte("s3cret"), nil
			}
			return nil, errors.New("no such alias")
		},
	}
	r, err := c.Read(knoxLike, chain.Prefix("user."))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.String("url", ""); err != nil || v != "ldap://x" || r.As("url") != "main.ldapRealm.contextFactory.url" || !r.Has("url") {
		t.Fatalf("String(url) = %q, %v; given as %q", v, err, r.As("url"))
	}
	if d, err := r.Duration("timeout", time.Second, 10*time.Millisecond, time.Minute); err != nil || d != 250*time.Millisecond {
		t.Fatalf("Duration = %v, %v", d, err)
	}
	if n, err := r.Int("pool_size", 4, 1, 64); err != nil || n != 8 {
		t.Fatalf("Int = %v, %v", n, err)
	}
	if b, err := r.Bool("enabled", false); err != nil || !b {
		t.Fatalf("Bool = %v, %v", b, err)
	}
	if l := r.List("groups", nil); !slices.Equal(l, []string{"a", "b", "c"}) {
		t.Fatalf("List = %q", l)
	}
	if s, err := r.Secret(context.Background(), "password", ""); err != nil || s != "pre-s3cret" {
		t.Fatalf("Secret = %q, %v", s, err)
	}
	if d := r.Dynamic("user."); !slices.Equal(d, []string{"user.alice"}) {
		t.Fatalf("Dynamic = %q", d)
	}
	// Defaults when absent.
	empty, _ := chain.Config{}.Read(knoxLike)
	if v, _ := empty.String("url", "def"); v != "def" || empty.Has("url") || empty.As("url") != "url" {
		t.Fatal("String default")
	}
	if d, _ := empty.Duration("timeout", time.Second, 0, time.Minute); d != time.Second {
		t.Fatal("Duration default")
	}
	if n, _ := empty.Int("pool_size", 4, 1, 64); n != 4 {
		t.Fatal("Int default")
	}
	if b, _ := empty.Bool("enabled", true); !b {
		t.Fatal("Bool default")
	}
	if l := empty.List("groups", []string{"x"}); !slices.Equal(l, []string{"x"}) {
		t.Fatal("List default")
	}
	if _, err := empty.Required("url"); err == nil || err.Error() != `param "url": is required` {
		t.Fatalf("Required: %v", err)
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		param string
		value string
		read  func(*chain.Reader) error
		want  string
	}{
		{"bool", "enabled", "yes", func(r *chain.Reader) error { _, err := r.Bool("enabled", false); return err }, `param "enabled": must be true or false`},
		{"int not a number", "pool_size", "many", func(r *chain.Reader) error { _, err := r.Int("pool_size", 1, 1, 64); return err }, `param "pool_size": must be a whole number from 1 to 64`},
		{"int out of range", "pool_size", "65", func(r *chain.Reader) error { _, err := r.Int("pool_size", 1, 1, 64); return err }, "from 1 to 64"},
		{"duration not a duration", "timeout", "5", func(r *chain.Reader) error {
			_, err := r.Duration("timeout", 0, 0, time.Minute)
			return err
		}, `param "timeout": must be a duration such as 5s or 500ms`},
		{"duration out of range", "timeout", "2m", func(r *chain.Reader) error {
			_, err := r.Duration("timeout", 0, 0, time.Minute)
			return err
		}, "must be between 0s and 1m0s"},
		{"control characters", "url", "a\nb", func(r *chain.Reader) error { _, err := r.String("url", ""); return err }, "control characters"},
		{"required but empty", "url", "  ", func(r *chain.Reader) error { _, err := r.Required("url"); return err }, "is required"},
		{"secret: unknown alias, named by the Knox name", "main.ldapRealm.contextFactory.url", "${alias:nope}", func(r *chain.Reader) error {
			_, err := r.Secret(context.Background(), "url", "")
			return err
		}, `param "main.ldapRealm.contextFactory.url": alias "nope": no secret resolver configured`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := chain.Config{Params: chain.Params{tc.param: tc.value}}.Read(knoxLike)
			if err != nil {
				t.Fatal(err)
			}
			var pe *chain.ParamError
			if err := tc.read(r); err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &pe) || pe.Param != tc.param {
				t.Fatalf("err %v, want %q naming %q", err, tc.want, tc.param)
			}
		})
	}
}
