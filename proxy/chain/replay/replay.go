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
	size int              // at most this many keys
	seen map[string]int64 // key → valid until (unix nanoseconds)
	ring []entry          // insertion order, oldest at head; grows up to size
	head int
	n    int
	// earliest is at most the earliest until held: when it is past and
	// the ring is full, an entry behind the head expired (keys may be
	// recorded with different lifetimes) and sweep reclaims it.
	earliest int64
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
	// Nothing is allocated up front: a gateway whose topologies never use
	// the cache pays nothing for its bound.
	return &Cache{now: clock.Now, size: max(size, 1), seen: map[string]int64{}}
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
	if c.n == len(c.ring) && len(c.ring) < c.size {
		c.grow()
	}
	if c.n == len(c.ring) && c.earliest <= now {
		c.sweep(now)
	}
	if c.n == len(c.ring) {
		return true
	}
	c.ring[(c.head+c.n)%len(c.ring)] = entry{key: key, until: u}
	c.n++
	c.seen[key] = u
	if c.n == 1 || u < c.earliest {
		c.earliest = u
	}
	return false
}

// sweep forgets every expired key of a full ring, keeping the insertion
// order of the others. It runs only when one of them expired out of order
// (behind a longer-lived head): O(size), at most once per expiry.
func (c *Cache) sweep(now int64) {
	kept := 0
	c.earliest = int64(^uint64(0) >> 1)
	for i := 0; i < c.n; i++ {
		j := (c.head + i) % len(c.ring)
		e := c.ring[j]
		c.ring[j] = entry{}
		if e.until <= now {
			if v, ok := c.seen[e.key]; ok && v == e.until {
				delete(c.seen, e.key)
			}
			continue
		}
		c.ring[(c.head+kept)%len(c.ring)] = e
		kept++
		c.earliest = min(c.earliest, e.until)
	}
	c.n = kept
}

// grow doubles the ring (up to size), keeping the insertion order.
func (c *Cache) grow() {
	r := make([]entry, min(max(2*len(c.ring), 64), c.size))
	for i := 0; i < c.n; i++ {
		r[i] = c.ring[(c.head+i)%len(c.ring)]
	}
	c.ring, c.head = r, 0
}

// Len is the number of keys held (valid or not yet forgotten).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
