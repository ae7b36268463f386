package identity_test

import (
	"slices"
	"testing"

	"github.com/securegw/gateway/proxy/identity"
)

func TestStripImpersonation(t *testing.T) {
	tests := []struct {
		in, out   string
		values    []string // decoded values, in order
		malformed bool     // removed for an undecodable name, no value
	}{
		{"", "", nil, false},
		{"op=OPEN&offset=0", "op=OPEN&offset=0", nil, false},
		{"doAs=bob", "", []string{"bob"}, false},
		{"op=OPEN&DOAS=bob&x=1", "op=OPEN&x=1", []string{"bob"}, false},
		{"doas=bob&User.Name=carol", "", []string{"bob", "carol"}, false},
		{"USER.NAME=x&y=2", "y=2", []string{"x"}, false},
		{"do%41s=bob&a=1", "a=1", []string{"bob"}, false}, // encoded name: decoded as the backend does
		{"user%2Ename=bob", "", []string{"bob"}, false},   // encoded dot
		{"doAs=b%6Fb", "", []string{"bob"}, false},        // encoded value
		{"doa%C5%BF=bob", "", []string{"bob"}, false},     // U+017F folds to s, as in Java's equalsIgnoreCase
		{"doAs", "", []string{""}, false},                 // no value
		{"doAsX=1&xdoAs=2&user.names=3", "doAsX=1&xdoAs=2&user.names=3", nil, false},
		// An undecodable name goes: a backend may decode it its own way
		// (%uXXXX in IIS and old servlet containers: user%u002Ename).
		{"do%zzAs=1&a=1", "a=1", nil, true},
		{"user%u002ename=mallory&op=OPEN", "op=OPEN", nil, true},
		{"x%=1&doAs=bob", "", []string{"bob"}, true},
		{"a=100%&b=%zz", "a=100%&b=%zz", nil, false},             // values are the backend's business
		{"a=doAs&b=user.name", "a=doAs&b=user.name", nil, false}, // values are not names
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, removed := identity.StripImpersonation(tc.in)
			if want := tc.values != nil || tc.malformed; got != tc.out || removed != want {
				t.Fatalf("StripImpersonation = %q, %v; want %q, %v", got, removed, tc.out, want)
			}
			var vals []string
			identity.ImpersonationValues(tc.in, func(_, v string) { vals = append(vals, v) })
			if !slices.Equal(vals, tc.values) {
				t.Fatalf("values %q, want %q", vals, tc.values)
			}
		})
	}
}

func TestStripImpersonationDoesNotAllocateWithoutOne(t *testing.T) {
	q := "op=OPEN&user=alice&offset=0&length=100&doc=1&username=x"
	if n := testing.AllocsPerRun(100, func() { identity.StripImpersonation(q) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
