package cli

import (
	"errors"
	"fmt"
	"google.golang.org/protobuf/types/known/durationpb"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseDuration is time.ParseDuration that also accepts a leading number of
// days with a "d" suffix: "825d", "7d12h", "30m".
func parseDuration(s string) (time.Duration, error) {
	m := daysPrefix.FindStringSubmatch(s)
	if m == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use e.g. 90s, 12h or 825d", s)
		}
		return d, nil
	}
	days, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || days > math.MaxInt64/int64(24*time.Hour) {
		return 0, fmt.Errorf("invalid duration %q: too many days", s)
	}
	d := time.Duration(days) * 24 * time.Hour
	if m[2] != "" {
		rest, err := time.ParseDuration(m[2])
		if err != nil || rest < 0 {
			return 0, fmt.Errorf("invalid duration %q: use e.g. 90s, 12h or 825d", s)
		}
		if d > math.MaxInt64-rest {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		d += rest
	}
	return d, nil
}

var daysPrefix = regexp.MustCompile(`^(\d+)d(.*)$`)

// formatDuration prints a duration the way parseDuration reads it, short:
// whole days as "Nd", "1h" rather than "1h0m0s".
func formatDuration(d time.Duration) string {
	if d < 24*time.Hour {
		return shortDuration(d)
	}
	days := d / (24 * time.Hour)
	rest := d - days*24*time.Hour
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, shortDuration(rest))
}

// shortDuration is time.Duration.String without zero minutes and seconds.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// durationFlag is a pflag.Value that parses with parseDuration.
type durationFlag struct{ d *time.Duration }

// String is "0" for no duration: pflag then prints no "(default 0s)" in
// the help, whose text says what an unset flag means ("the policy's").
func (v durationFlag) String() string {
	if v.d == nil || *v.d == 0 {
		return "0"
	}
	return formatDuration(*v.d)
}

func (v durationFlag) Set(s string) error {
	d, err := parseDuration(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (durationFlag) Type() string { return "duration" }

// ttlFlag turns a --ttl value into the request's TTL: nil (the server's
// default) when not given, an error when negative.
func ttlFlag(ttl time.Duration) (*durationpb.Duration, error) {
	switch {
	case ttl < 0:
		return nil, errors.New("--ttl must not be negative")
	case ttl == 0:
		return nil, nil
	}
	return durationpb.New(ttl), nil
}
