package replay

import (
	"sync"
	"time"

	"github.com/securegw/gateway/proxy/chain"
)

// Cache is a bounded replay cache. It is safe for concurrent use.
type Cache struct {
	now func() time.Time

	mu   sync.Mutex
	seen map[string]int64 // key → valid until (unix nanoseconds)
	ring []entry          // insertion order, oldest at head
	head int
	n    int
}

type entry struct {
	key   string
	until int64
}

var _ chain.ReplayCache = (*Cache)(nil)

// New returns a cache holding at most size keys (at least 1), reading the
// time from clock (the system clock when nil).
func New(size int, clock chain.Clock) *Cache {
	if clock == nil {
		clock = chain.SystemClock{}
	}
	size = max(size, 1)
	return &Cache{now: clock.Now, seen: make(map[string]int64, size), ring: make([]entry, size)}
}

// Seen reports whether key was recorded and is still valid. If not, it
// records key as valid until until and reports false. A key whose until is
// already past is not recorded and reports true: it cannot be valid. When
// the cache is full of valid keys, Seen reports true (fail closed).
func (c *Cache) Seen(key string, until time.Time) bool {
	now := c.now().UnixNano()
	u := until.UnixNano()
	if u <= now {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.seen[key]; ok && v > now {
		return true
	}
	// Forget expired keys from the oldest end: each key is removed once,
	// so this is O(1) amortized.
	for c.n > 0 {
		e := c.ring[c.head]
		if e.until > now {
			break
		}
		if v, ok := c.seen[e.key]; ok && v == e.until {
			delete(c.seen, e.key)
		}
		c.ring[c.head] = entry{}
		c.head = (c.head + 1) % len(c.ring)
		c.n--
	}
	if c.n == len(c.ring) {
		return true
	}
	c.ring[(c.head+c.n)%len(c.ring)] = entry{key: key, until: u}
	c.n++
	c.seen[key] = u
	return false
}

// Len is the number of keys held (valid or not yet forgotten).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
