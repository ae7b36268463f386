package proxy

import (
	"net/url"
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	const refuse = "refuse"
	tests := []struct {
		name, raw string // raw: the request-target's path as sent
		want      string // canonical path, or "" with reason
		reason    string
	}{
		{"clean", "/gateway/t/svc/a/b", "/gateway/t/svc/a/b", ""},
		{"root", "/", "/", ""},
		{"trailing slash kept", "/gateway/t/svc/dir/", "/gateway/t/svc/dir/", ""},
		{"doubled slashes merged", "/gateway//t///svc/a//b", "/gateway/t/svc/a/b", ""},
		{"doubled trailing slash", "/gateway/t/svc/a//", "/gateway/t/svc/a/", ""},
		{"only slashes", "//", "/", ""},
		{"dot removed", "/gateway/t/./svc/a/.", "/gateway/t/svc/a/", ""},
		{"encoded dot removed", "/gateway/t/%2e/svc/%2E/a", "/gateway/t/svc/a", ""},
		{"dotdot", "/gateway/t/svc/../admin", "", reasonDotSegment},
		{"dotdot trailing", "/gateway/t/svc/..", "", reasonDotSegment},
		{"encoded dotdot", "/gateway/t/svc/%2e%2e/admin", "", reasonDotSegment},
		{"mixed encoded dotdot", "/gateway/t/svc/.%2E/admin", "", reasonDotSegment},
		{"dotdot with params", "/gateway/t/svc/..;x=y/admin", "", reasonDotSegment},
		{"dot with params", "/gateway/t/svc/.;x/admin", "", reasonDotSegment},
		{"triple dot", "/gateway/t/svc/.../admin", "", reasonDotSegment},
		{"dot dot space", "/gateway/t/svc/..%20/admin", "", reasonDotSegment},
		{"space dot dot", "/gateway/t/svc/%20../admin", "", reasonDotSegment},
		{"space dot", "/gateway/t/svc/%20./admin", "", reasonDotSegment},
		{"space dot dot, other escapes elsewhere", "/gateway/t/svc/%41/%20../admin", "", reasonDotSegment},
		{"a name starting with a space is a name", "/gateway/t/svc/%20a", "/gateway/t/svc/ a", ""},
		{"params only", "/gateway/t/svc/;x=y/admin", "", reasonParamSegment},
		{"params kept", "/gateway/t/svc/a;jsessionid=1", "/gateway/t/svc/a;jsessionid=1", ""},
		{"name ending in dots is a name", "/gateway/t/public../admin", "/gateway/t/public../admin", ""},
		{"encoded slash", "/gateway/t/svc/a%2Fb", "", reasonEncodedSlash},
		{"encoded slash lower", "/gateway/t/svc%2fadmin/x", "", reasonEncodedSlash},
		{"encoded dotdot slash", "/gateway/t/svc/..%2Fadmin", "", reasonEncodedSlash},
		{"backslash", "/gateway/t/svc/a\\b", "", reasonBackslash},
		{"encoded backslash", "/gateway/t/svc/..%5Cadmin", "", reasonBackslash},
		{"NUL", "/gateway/t/svc/a%00b", "", reasonControl},
		{"newline", "/gateway/t/svc/a%0Ab", "", reasonControl},
		{"DEL", "/gateway/t/svc/a%7F", "", reasonControl},
		{"double-encoded dot", "/gateway/t/svc/%252e%252e/admin", "", reasonDoubleEncoding},
		{"double-encoded slash", "/gateway/t/svc/a%252Fb", "", reasonDoubleEncoding},
		{"double-encoded percent", "/gateway/t/svc/a%2525", "", reasonDoubleEncoding},
		{"encoded percent ok", "/gateway/t/svc/100%25", "/gateway/t/svc/100%", ""},
		{"encoded hash kept as data", "/gateway/t/svc/a%23b", "/gateway/t/svc/a#b", ""},
		{"encoded question kept as data", "/gateway/t/svc/a%3Fb=c", "/gateway/t/svc/a?b=c", ""},
		{"encoded letters decoded", "/gateway/t/%73vc/%41", "/gateway/t/svc/A", ""},
		{"utf-8", "/gateway/t/svc/%C3%A9t%C3%A9", "/gateway/t/svc/été", ""},
		{"raw pipe with encoded slash", "/gateway/t/svc/a|b%2F", "", reasonEncodedSlash},
		{"bad escape", "/gateway/t/svc/%zz", refuse, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.raw)
			if tc.want == refuse {
				if err == nil {
					if _, reason := canonicalPath(u); reason == "" {
						t.Fatalf("%q accepted", tc.raw)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %q: %v", tc.raw, err)
			}
			got, reason := canonicalPath(u)
			if got != tc.want || reason != tc.reason {
				t.Fatalf("canonicalPath(%q) = %q, %q; want %q, %q", tc.raw, got, reason, tc.want, tc.reason)
			}
		})
	}
}

func TestCanonicalCleanPathDoesNotAllocate(t *testing.T) {
	u := &url.URL{Path: "/gateway/sandbox/webhdfs/v1/tmp/file.txt"}
	n := testing.AllocsPerRun(100, func() {
		if _, r := canonicalPath(u); r != "" {
			t.Fatal(r)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzCanonical checks the invariants of canonical paths: absolute, no
// empty or dot segments, no backslash or control characters, and
// canonicalising again changes nothing.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"/a/b", "/a/../b", "/a%2Fb", "//a/./b/", "/a;x/..;y", "/%2e%2e/", "/a%252e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			return
		}
		got, reason := canonicalPath(u)
		if reason != "" {
			return
		}
		if !strings.HasPrefix(got, "/") || strings.Contains(got, "//") || strings.ContainsAny(got, "\\\x00") {
			t.Fatalf("%q -> %q", raw, got)
		}
		for seg := range strings.SplitSeq(got[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q -> %q: dot segment", raw, got)
			}
		}
		if u.RawPath == "" { // the fast path agrees with the full check
			if slow, r := canonicalSlow(u.Path, false); slow != got || r != "" {
				t.Fatalf("%q: fast %q, slow %q (%s)", raw, got, slow, r)
			}
		}
		again, reason := canonical(got, false)
		if reason != "" || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q (%s)", raw, got, again, reason)
		}
	})
}
