package rewrite

import "strings"

// RefreshURL returns the bounds of the URL in a refresh value (a Refresh
// header, a meta refresh's content), start == end when it has none. The
// URL is found as browsers find it (HTML's declarative refresh): after
// the delay and an optional ';' or ',', with or without "url=" (any case,
// spaces around '='), in optional quotes.
func RefreshURL(v string) (start, end int) {
	i := 0
	skip := func() {
		for i < len(v) && isSpace(v[i]) {
			i++
		}
	}
	skip()
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	skip()
	if i < len(v) && (v[i] == ';' || v[i] == ',') {
		i++
	}
	skip()
	if len(v)-i >= 3 && strings.EqualFold(v[i:i+3], "url") {
		j := i + 3
		for j < len(v) && isSpace(v[j]) {
			j++
		}
		if j < len(v) && v[j] == '=' {
			i = j + 1
			skip()
		}
	}
	end = len(v)
	if i < len(v) && (v[i] == '\'' || v[i] == '"') {
		q := v[i]
		i++
		if k := strings.IndexByte(v[i:], q); k >= 0 {
			end = i + k
		}
	}
	for end > i && isSpace(v[end-1]) {
		end--
	}
	return i, end
}
