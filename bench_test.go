package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/auth"
	"connectsession/cache"
	"connectsession/graph/model"
	"connectsession/httpapi"
	"connectsession/internal/redistest"
	"connectsession/resolvers"
)

// benchService wires the service over the real Redis at REDIS_URL when set, else over
// miniredis, with its own key prefix.
func benchService(b *testing.B) (*service, redis.UniversalClient) {
	b.Helper()
	return benchServiceWith(b, nil)
}

// benchServiceWith is benchService with a change to the default configuration. On a
// real single server the service reads through a read cache, as it runs, unless the
// change turns READ_CACHE off.
func benchServiceWith(b *testing.B, tweak func(*config)) (*service, redis.UniversalClient) {
	b.Helper()
	rb := redistest.FromEnvOrMini(b, "bench")
	rdb := rb.RDB
	cfg, err := testConfig(rb.Prefix)
	if err != nil {
		b.Fatal(err)
	}
	if tweak != nil {
		tweak(cfg)
	}
	var reads *cache.ReadCache
	if cfg.ReadCache && rb.Real() && rb.URL() != "" {
		if reads, err = cache.NewReadCache(rb.URL(), cache.ReadCacheOptions{}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = reads.Close() })
	}
	svc, err := newService(cfg, rdb, reads, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	return svc, rdb
}

// load creates n sessions in organization 1, project "demo", with 8 writers.
func load(b *testing.B, svc *service, n int) int {
	b.Helper()
	var next atomic.Int64
	var last atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				s, _, err := svc.store.Create(context.Background(), &model.CreateConnectSessionInput{
					OrganizationID: 1, ProjectID: "demo", OriginOwnerID: "owner", OriginOwnerName: "Owner",
					Provider: ptr("hibob"), Categories: []model.Category{model.CategoryHRIS, model.CategoryATS},
				})
				if err != nil {
					b.Error(err)
					return
				}
				last.Store(int64(s.ID))
			}
		}()
	}
	wg.Wait()
	return int(last.Load())
}

func ptr[T any](v T) *T { return &v }

// serveBench posts body to h as fast as the parallel benchmark goes and checks the
// responses carry no errors.
func serveBench(b *testing.B, h http.Handler, header, body string) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
				b.Errorf("response %d: %s", rec.Code, rec.Body.String())
				return
			}
		}
	})
}

func issueBenchKey(b *testing.B, svc *service) string {
	b.Helper()
	key, _, err := auth.Issue(context.Background(), svc.store, 1, nil, model.RoleWrite, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return "Bearer " + key
}

// BenchmarkPointRead reads one session through the whole HTTP handler: with an API key
// (the service as it runs), and with the scope check letting everyone through (the cost
// before API keys existed).
func BenchmarkPointRead(b *testing.B) {
	svc, _ := benchService(b)
	id := load(b, svc, 10)
	body := fmt.Sprintf(`{"query":"query($id: Int!) { connectSession(organizationId: 1, projectId: \"demo\", id: $id) { id originOwnerId provider categories status createdAt expiresAt } }","variables":{"id":%d}}`, id)
	b.Run("apikey", func(b *testing.B) {
		serveBench(b, svc.handler, issueBenchKey(b, svc), body)
	})
	b.Run("apikey-nocache", func(b *testing.B) {
		plain, _ := benchServiceWith(b, func(c *config) { c.ReadCache = false })
		pid := load(b, plain, 10)
		serveBench(b, plain.handler, issueBenchKey(b, plain), strings.Replace(body, fmt.Sprintf(`{"id":%d}`, id), fmt.Sprintf(`{"id":%d}`, pid), 1))
	})
	b.Run("noauth", func(b *testing.B) {
		open, err := httpapi.NewHandler(&resolvers.Resolver{Store: svc.store, Auth: resolvers.AllowAll{}}, httpapi.HandlerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		serveBench(b, open, "", body)
	})
	b.Run("apikey-ratelimited", func(b *testing.B) {
		// A per-key limit high enough never to refuse: what checking it costs.
		limited, _ := benchServiceWith(b, func(c *config) { c.APIKeyRate = 1 << 30 })
		lid := load(b, limited, 10)
		serveBench(b, limited.handler, issueBenchKey(b, limited), strings.Replace(body, fmt.Sprintf(`{"id":%d}`, id), fmt.Sprintf(`{"id":%d}`, lid), 1))
	})
}

const pageQuery = `{"query":"query($n: Int!) { connectSessions(organizationId: 1, projectId: \"demo\", first: $n) { totalCount edges { cursor node { id originOwnerId provider categories status createdAt } } pageInfo { hasNextPage endCursor } } }","variables":{"n":%d}}`

// BenchmarkPage50 reads a page of 50 sessions through the whole HTTP handler.
func BenchmarkPage50(b *testing.B) {
	svc, _ := benchService(b)
	load(b, svc, 200)
	serveBench(b, svc.handler, issueBenchKey(b, svc), fmt.Sprintf(pageQuery, 50))
}

// BenchmarkPage20BySize reads the first page of 20, unfiltered and filtered on one
// field, in tenants of 100 and 100,000 sessions: the cost must not grow with the tenant.
func BenchmarkPage20BySize(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			svc, _ := benchService(b)
			load(b, svc, n)
			key := issueBenchKey(b, svc)
			b.Run("all", func(b *testing.B) { serveBench(b, svc.handler, key, fmt.Sprintf(pageQuery, 20)) })
			b.Run("provider", func(b *testing.B) {
				serveBench(b, svc.handler, key, `{"query":"{ connectSessions(organizationId: 1, projectId: \"demo\", first: 20, filter: {provider: \"hibob\"}) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } }"}`)
			})
		})
	}
}
