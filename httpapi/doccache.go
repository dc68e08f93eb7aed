package httpapi

import (
	"context"
	"slices"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"

	"connectsession/internal/sizedlru"
)

// documentCache keeps parsed and validated documents by their text, bounded by count and
// by an estimate of their memory, together with what operationLimits learned of their
// operations (so that those facts leave with the document). It implements gqlgen's
// graphql.Cache[*ast.QueryDocument].
type documentCache struct {
	lru *sizedlru.Cache[string, *cachedDocument]
}

type cachedDocument struct {
	doc   *ast.QueryDocument
	mu    sync.Mutex
	facts map[*ast.OperationDefinition]opFacts
}

// parsedSize estimates a parsed document's memory from its text: parsing and validating
// allocate 20 to 35 bytes per byte of text plus up to about 12 KiB (TestDocumentCacheEstimate),
// an upper bound of what the cached AST keeps.
func parsedSize(query string) int64 { return 16<<10 + 40*int64(len(query)) }

func newDocumentCache(entries int, bytes int64) *documentCache {
	return &documentCache{lru: sizedlru.New[string, *cachedDocument](entries, bytes, nil)}
}

func (c *documentCache) Get(_ context.Context, query string) (*ast.QueryDocument, bool) {
	d, ok := c.lru.Get(query)
	if !ok {
		return nil, false
	}
	return d.doc, true
}

func (c *documentCache) Add(_ context.Context, query string, doc *ast.QueryDocument) {
	c.lru.Add(query, &cachedDocument{doc: doc}, parsedSize(query))
}

// facts returns what was recorded for op of the cached document query.
func (c *documentCache) facts(query string, op *ast.OperationDefinition) (opFacts, bool) {
	d, ok := c.lru.Get(query)
	if !ok {
		return opFacts{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.facts[op]
	return f, ok
}

// setFacts records f for op when its document is cached (and does nothing otherwise).
func (c *documentCache) setFacts(query string, op *ast.OperationDefinition, f opFacts) {
	d, ok := c.lru.Get(query)
	if !ok || !slices.Contains(d.doc.Operations, op) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.facts == nil {
		d.facts = map[*ast.OperationDefinition]opFacts{}
	}
	d.facts[op] = f
}
