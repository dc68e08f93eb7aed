// Package sizedlru is a least-recently-used cache bounded both by its number of entries
// and by the total size of what it holds, so that a few large entries chosen by a caller
// (a query text, a parsed document) cannot hold more memory than a fixed budget.
package sizedlru

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Cache is an LRU of at most maxEntries entries whose sizes add up to at most maxSize.
// It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	lru     *simplelru.LRU[K, entry[V]]
	size    int64
	maxSize int64
	onEvict func(K, V)
}

type entry[V any] struct {
	value V
	size  int64
}

// New returns a cache of at most maxEntries entries and maxSize in total (both > 0);
// onEvict, when not nil, is called (with the cache locked) for every entry that leaves it.
func New[K comparable, V any](maxEntries int, maxSize int64, onEvict func(K, V)) *Cache[K, V] {
	c := &Cache[K, V]{maxSize: max(maxSize, 1), onEvict: onEvict}
	c.lru, _ = simplelru.NewLRU(max(maxEntries, 1), func(k K, e entry[V]) {
		c.size -= e.size
		if c.onEvict != nil {
			c.onEvict(k, e.value)
		}
	})
	return c
}

// Get returns the value under k and marks it recently used.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(k)
	return e.value, ok
}

// Add stores v under k with the given size, evicting the least recently used entries
// until both bounds hold. An entry larger than the whole budget is not stored.
func (c *Cache[K, V]) Add(k K, v V, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.maxSize {
		c.lru.Remove(k)
		return
	}
	c.lru.Remove(k) // a replaced entry's size leaves the total first
	c.lru.Add(k, entry[V]{value: v, size: size})
	c.size += size
	for c.size > c.maxSize {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// Len returns how many entries the cache holds.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Size returns the total size of the entries held.
func (c *Cache[K, V]) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
