package oauth

import (
	"sync"
	"time"
)

// DefaultClientCacheTTL is how long a client read from the database is
// reused. A change made elsewhere (the CLI, another replica) takes effect
// within it; changes made through this process's admin console and API are
// applied at once (ForgetClient).
const DefaultClientCacheTTL = 2 * time.Second

// maxCachedClients bounds the cache; past it, the cache starts over.
const maxCachedClients = 10000

// clientCache holds recently read clients. Unknown ids are never cached,
// so a new client works at once.
type clientCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	entries map[string]cachedClient
}

type cachedClient struct {
	client  *Client
	expires time.Time
}

func newClientCache(ttl time.Duration) *clientCache {
	return &clientCache{ttl: ttl, now: time.Now, entries: map[string]cachedClient{}}
}

func (c *clientCache) get(id string) (*Client, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.client, true
}

func (c *clientCache) put(id string, client *Client) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedClients {
		c.entries = map[string]cachedClient{}
	}
	c.entries[id] = cachedClient{client: client, expires: c.now().Add(c.ttl)}
}

func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
