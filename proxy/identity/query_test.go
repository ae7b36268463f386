package identity_test

import (
	"slices"
	"testing"

	"github.com/securegw/gateway/proxy/identity"
)

func TestStripImpersonation(t *testing.T) {
	tests := []struct {
		in, out string
		values  []string // decoded values, in order
	}{
		{"", "", nil},
		{"op=OPEN&offset=0", "op=OPEN&offset=0", nil},
		{"doAs=bob", "", []string{"bob"}},
		{"op=OPEN&DOAS=bob&x=1", "op=OPEN&x=1", []string{"bob"}},
		{"doas=bob&User.Name=carol", "", []string{"bob", "carol"}},
		{"USER.NAME=x&y=2", "y=2", []string{"x"}},
		{"do%41s=bob&a=1", "a=1", []string{"bob"}}, // encoded name: decoded as the backend does
		{"user%2Ename=bob", "", []string{"bob"}},   // encoded dot
		{"doAs=b%6Fb", "", []string{"bob"}},        // encoded value
		{"doa%C5%BF=bob", "", []string{"bob"}},     // U+017F folds to s, as in Java's equalsIgnoreCase
		{"doAs", "", []string{""}},                 // no value
		{"doAsX=1&xdoAs=2&user.names=3", "doAsX=1&xdoAs=2&user.names=3", nil},
		{"do%zzAs=1", "do%zzAs=1", nil},                   // undecodable: kept as is, never equal
		{"a=doAs&b=user.name", "a=doAs&b=user.name", nil}, // values are not names
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, removed := identity.StripImpersonation(tc.in)
			if got != tc.out || removed != (tc.values != nil) {
				t.Fatalf("StripImpersonation = %q, %v; want %q, %v", got, removed, tc.out, tc.values != nil)
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
