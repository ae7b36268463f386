package apierr

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	base := errors.New("base")
	cases := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, 0},
		{"plain", base, 0},
		{"New", New(Invalid, base), Invalid},
		{"Errorf", Errorf(NotFound, "topology %q", "x"), NotFound},
		{"wrapped", fmt.Errorf("deleting: %w", New(FailedPrecondition, base)), FailedPrecondition},
		{"outermost kind wins", New(Incomplete, New(Invalid, base)), Incomplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.want {
				t.Errorf("KindOf = %v, want %v", got, tc.want)
			}
		})
	}
	if New(Invalid, nil) != nil {
		t.Error("New(kind, nil) is not nil")
	}
	if err := Errorf(Invalid, "x: %w", base); !errors.Is(err, base) || err.Error() != "x: base" {
		t.Errorf("Errorf = %q, does not wrap base", err)
	}
}
