package etcd

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/securegw/gateway/store"
)

// Keys, relative to the store's prefix (see the package documentation).
const (
	keyRevision = "rev"
	keyGenSeq   = "genseq"
	keyAuditSeq = "auditseq"
	prefixLog   = "log/"
	prefixTopo  = "topo/"
	prefixHist  = "hist/"
	prefixObj   = "obj/"
	prefixGen   = "gen/"
	prefixMeta  = "meta/"
	prefixAudit = "audit/"
)

// seqKey formats a revision or sequence so that key order is numeric order.
func seqKey(prefix string, n int64) string { return fmt.Sprintf("%s%016x", prefix, n) }

func parseSeqKey(prefix string, key []byte) (int64, error) {
	if len(key) != len(prefix)+16 || string(key[:len(prefix)]) != prefix {
		return 0, fmt.Errorf("corrupt key %q", key)
	}
	n, err := strconv.ParseInt(string(key[len(prefix):]), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("corrupt key %q", key)
	}
	return n, nil
}

func logKey(rev int64) string { return seqKey(prefixLog, rev) }

func topoKey(name string) string { return prefixTopo + name }

// histPrefix escapes the name so that one name's history is never a prefix
// of another's ("a" and "a/b").
func histPrefix(name string) string { return prefixHist + url.PathEscape(name) + "/" }

func histKey(name string, rev int64) string { return seqKey(histPrefix(name), rev) }

func genKey(kind string) string { return prefixGen + kind }

// objPrefix is where the objects of kind live in generation gen.
func objPrefix(kind string, gen int64) string { return seqKey(prefixObj+kind+"/", gen) + "/" }

func objKey(kind string, gen int64, key string) string { return objPrefix(kind, gen) + key }

func metaKey(key string) string { return prefixMeta + key }

func auditKey(seq int64) string { return seqKey(prefixAudit, seq) }

// prefixEnd returns the first key after every key starting with p.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

// maxKeyLen bounds names and keys, as the bbolt store does.
const maxKeyLen = 1024

func checkKey(what, key string) error {
	if key == "" {
		return fmt.Errorf("empty %s", what)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%s longer than %d bytes", what, maxKeyLen)
	}
	return nil
}

func checkKind(kind string) error {
	if !slices.Contains(store.Kinds, kind) {
		return fmt.Errorf("unknown kind %q (known: %q)", kind, store.Kinds)
	}
	return nil
}

// checkExpect applies the compare-and-set rule of the store contract.
func checkExpect(expect int64, exists bool, cur int64) error {
	switch {
	case expect == store.NoRevisionCheck:
		return nil
	case expect < 0:
		return fmt.Errorf("invalid expected revision %d", expect)
	case expect == 0 && exists:
		return fmt.Errorf("%w: expected it not to exist, but it exists at revision %d", store.ErrRevisionMismatch, cur)
	case expect == 0:
		return nil
	case !exists:
		return fmt.Errorf("%w: expected revision %d, but it does not exist", store.ErrRevisionMismatch, expect)
	case cur != expect:
		return fmt.Errorf("%w: expected revision %d, current revision is %d", store.ErrRevisionMismatch, expect, cur)
	}
	return nil
}
