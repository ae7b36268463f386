package knoxtoken

import (
	"errors"
	"regexp"
	"strconv"
	"time"
)

var lifespanRE = regexp.MustCompile(`^P(?:(\d{1,5})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,8})M)?(?:(\d{1,9})S)?)?$`)

// parseLifespan parses an ISO-8601 duration of days, hours, minutes and
// seconds ("P1D", "PT1H30M", "P0DT2H"), as Knox's lifespan parameter.
// Years and months, whose length varies, are refused.
func parseLifespan(s string) (time.Duration, error) {
	m := lifespanRE.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" || s[len(s)-1] == 'T' {
		return 0, errors.New("lifespan must be an ISO-8601 duration of days, hours, minutes and seconds, e.g. P1D or PT1H30M")
	}
	units := []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		n, _ := strconv.ParseInt(m[i+1], 10, 64)
		d += time.Duration(n) * u
	}
	if d <= 0 {
		return 0, errors.New("lifespan must be positive")
	}
	return d, nil
}
