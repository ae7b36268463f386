package etcd

import (
	"fmt"
	"net/url"
	"strconv"
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
