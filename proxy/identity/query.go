package identity

import (
	"net/url"
	"strings"
)

// Query parameters that ask a Hadoop-style backend to act as another user:
// doAs (impersonation) and user.name (pseudo authentication). They are
// matched after percent-decoding and case-insensitively, as Hadoop and
// servlet backends match them ("DOAS", "User.Name", "do%41s").
const (
	ParamDoAs     = "doAs"
	ParamUserName = "user.name"
)

// IsImpersonationParam reports whether the raw (still encoded) query
// parameter name key names doAs or user.name.
func IsImpersonationParam(key string) bool {
	name, _ := paramName(key)
	return impersonationName(name)
}

func impersonationName(name string) bool {
	return strings.EqualFold(name, ParamDoAs) || strings.EqualFold(name, ParamUserName)
}

// paramName is the raw query parameter name key decoded, and false when
// it does not decode (key itself then).
func paramName(key string) (string, bool) {
	if !strings.ContainsAny(key, "%+") {
		return key, true
	}
	name, err := url.QueryUnescape(key)
	if err != nil {
		return key, false
	}
	return name, true
}

// mayHaveImpersonation is a quick, allocation-free pre-check: false means
// rawQuery holds no impersonation parameter.
func mayHaveImpersonation(q string) bool {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '%' || c >= 0x80:
			return true // escapes and non-ASCII (Unicode case folding) take the slow path
		case c == 'd' || c == 'D':
			if hasFoldPrefix(q[i:], "doas") {
				return true
			}
		case c == 'u' || c == 'U':
			if hasFoldPrefix(q[i:], "user.name") {
				return true
			}
		}
	}
	return false
}

func hasFoldPrefix(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// ImpersonationValues calls fn with the raw name and the decoded value of
// each doAs or user.name parameter of rawQuery ('&'-separated, as the
// backend request's query is). It does not allocate when there is none.
func ImpersonationValues(rawQuery string, fn func(key, value string)) {
	if !mayHaveImpersonation(rawQuery) {
		return
	}
	for part := range strings.SplitSeq(rawQuery, "&") {
		key, val, _ := strings.Cut(part, "=")
		if !IsImpersonationParam(key) {
			continue
		}
		if v, err := url.QueryUnescape(val); err == nil {
			val = v
		}
		fn(key, val)
	}
}

// StripImpersonation returns rawQuery without its doAs and user.name
// parameters (in any case and encoding), and whether any was removed. A
// parameter whose name does not percent-decode goes too: a backend may
// decode it its own way (%uXXXX in IIS and old servlet containers, so
// "user%u002ename" could be user.name there). It does not allocate when
// there is none.
func StripImpersonation(rawQuery string) (string, bool) {
	if !mayHaveImpersonation(rawQuery) {
		return rawQuery, false
	}
	return dropParams(rawQuery, func(key string) bool {
		name, ok := paramName(key)
		return !ok || impersonationName(name)
	})
}

// dropParams returns rawQuery without the parameters whose raw (still
// encoded) name drop reports, the others kept as sent, and whether any was
// dropped.
func dropParams(rawQuery string, drop func(rawKey string) bool) (string, bool) {
	var b strings.Builder
	removed := false
	for part := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		if drop(key) {
			removed = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	if !removed {
		return rawQuery, false
	}
	return b.String(), true
}
