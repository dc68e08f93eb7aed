// Command load fills a Redis with connect sessions for the benchmarks in bench/, through
// the service's own store (cache.Store.CreateBatch: the same records, indexes and
// pointers as createConnectSession writes, pipelined), and reports where the memory
// goes.
//
//	go run ./bench/load -redis-url redis://127.0.0.1:6390/0 -project bench -n 10000
//	go run ./bench/load -redis-url redis://127.0.0.1:6390/0 -breakdown
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/cache"
	"connectsession/graph/model"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("redis-url", "", "redis:// URL of the benchmark's Redis (required)")
	prefix := flag.String("prefix", "cs", "key prefix, as REDIS_KEY_PREFIX")
	org := flag.Int("org", 1, "organization of the sessions")
	project := flag.String("project", "bench", "project of the sessions")
	n := flag.Int("n", 10000, "how many sessions to create")
	batch := flag.Int("batch", 500, "sessions per pipelined batch")
	workers := flag.Int("workers", 4, "batches in flight")
	perOwner := flag.Int("per-owner", 10, "sessions per originOwnerId (and accountId)")
	alternate := flag.Bool("alternate", false, "instead of the mix, alternate TEST sessions of category ATS and PRODUCTION ones of HRIS, so that {type: TEST, category: HRIS} never matches (the noisy-neighbour bench)")
	breakdown := flag.Bool("breakdown", false, "instead of loading, report memory by kind of key under -prefix")
	flag.Parse()
	if *url == "" {
		return errors.New("-redis-url is required")
	}
	opts, err := redis.ParseURL(*url)
	if err != nil {
		return err
	}
	opts.PoolSize = 2 * *workers
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	if *breakdown {
		return report(ctx, rdb, *prefix)
	}
	store := cache.New(rdb, cache.Options{Prefix: *prefix})
	start := time.Now()
	mix := input
	if *alternate {
		mix = alternating
	}
	first, last, err := load(ctx, store, mix, *org, *project, *n, *batch, *workers, *perOwner)
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(os.Stderr, "loaded %d sessions into %d/%s in %v (%.0f/s)\n", *n, *org, *project, d.Round(time.Millisecond), float64(*n)/d.Seconds())
	fmt.Printf("first=%d last=%d\n", first, last)
	return nil
}

var (
	categories = []model.Category{
		model.CategoryATS, model.CategoryHRIS, model.CategoryHRISLegacy, model.CategoryCRM,
		model.CategoryIAM, model.CategoryMarketing, model.CategoryLMS, model.CategoryStackOne,
		model.CategoryDocuments, model.CategoryTicketing, model.CategoryScreening,
		model.CategoryMessaging, model.CategoryAccounting, model.CategoryScheduling,
	}
	providers = []string{"hibob", "bamboohr", "workday", "personio", "greenhouse", "lever", "salesforce", "hubspot"}
)

// input is session i of the benchmark's mix: 1 to 4 categories, a provider on half of
// them, and every other optional field set (username, account, label, metadata; one in
// ten a TEST session, one in four allowing multiple accounts). perOwner consecutive
// sessions share an owner and an account.
func input(org int, project string, i, perOwner int) *model.CreateConnectSessionInput {
	owner := i / perOwner
	cats := make([]model.Category, 1+i%4)
	for j := range cats {
		cats[j] = categories[(i*5+j*3)%len(categories)]
	}
	in := &model.CreateConnectSessionInput{
		OrganizationID:  org,
		ProjectID:       project,
		OriginOwnerID:   "org_" + strconv.Itoa(100000+owner),
		OriginOwnerName: "Customer Company " + strconv.Itoa(owner),
		OriginUsername:  ptr("user" + strconv.Itoa(i) + "@customer" + strconv.Itoa(owner) + ".example.com"),
		Categories:      cats,
		AccountID:       ptr("acct_" + strconv.Itoa(500000+owner)),
		Label:           ptr("HR system " + strconv.Itoa(owner)),
		Metadata:        model.JSON(`{"plan":"growth","seats":` + strconv.Itoa(10+i%90) + `}`),
		Type:            ptr(model.TypeProduction),
		Multiple:        ptr(i%4 == 0),
		ExpiresIn:       ptr(86400),
	}
	if i%10 == 0 {
		in.Type = ptr(model.TypeTest)
	}
	if i%2 == 0 {
		in.Provider = ptr(providers[(i/2)%len(providers)])
	}
	return in
}

// alternating is session i of the noisy-neighbour tenant: even ones TEST with category
// ATS, odd ones PRODUCTION with HRIS, so the type and category indexes are each half
// the tenant and a filter on TEST and HRIS together matches nothing.
func alternating(org int, project string, i, perOwner int) *model.CreateConnectSessionInput {
	in := input(org, project, i, perOwner)
	in.Type, in.Categories = ptr(model.TypeProduction), []model.Category{model.CategoryHRIS}
	if i%2 == 0 {
		in.Type, in.Categories = ptr(model.TypeTest), []model.Category{model.CategoryATS}
	}
	return in
}

func ptr[T any](v T) *T { return &v }

func load(ctx context.Context, store *cache.Store, input func(org int, project string, i, perOwner int) *model.CreateConnectSessionInput,
	org int, project string, n, batch, workers, perOwner int) (first, last int, err error) {
	var next atomic.Int64
	var mu sync.Mutex
	first, last = -1, -1
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(int64(batch))) - batch
				if from >= n {
					return
				}
				to := min(from+batch, n)
				ins := make([]*model.CreateConnectSessionInput, 0, to-from)
				for i := from; i < to; i++ {
					ins = append(ins, input(org, project, i, perOwner))
				}
				out, _, err := store.CreateBatch(ctx, ins)
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				if first < 0 || out[0].ID < first {
					first = out[0].ID
				}
				last = max(last, out[len(out)-1].ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errc)
	return first, last, <-errc
}

// indexKind names an index by its key suffix ("ix:all", "ix:<f>:<value>", "vx:<f>", "exp").
func indexKind(suffix string) string {
	switch {
	case suffix == "ix:all":
		return "index: all (creation order)"
	case suffix == "exp":
		return "index: expiry (retention)"
	case strings.HasPrefix(suffix, "ix:"):
		f := strings.SplitN(suffix, ":", 3)[1]
		return "index: " + map[string]string{"p": "provider", "o": "owner", "a": "account", "c": "category", "t": "type"}[f]
	case strings.HasPrefix(suffix, "vx:"):
		return "index: " + map[string]string{"o": "owner", "a": "account"}[strings.TrimPrefix(suffix, "vx:")] + " (value-ordered)"
	}
	return "index: " + suffix
}

// report sums MEMORY USAGE over every key under prefix, by kind of key, and divides by
// the number of session records.
func report(ctx context.Context, rdb *redis.Client, prefix string) error {
	type class struct {
		keys  int
		bytes int64
	}
	classes := map[string]*class{}
	records := 0
	kind := func(k string) string {
		rest := strings.TrimPrefix(k, prefix+":")
		if strings.HasPrefix(rest, "{") {
			i := strings.Index(rest, "}:")
			if i < 0 {
				return "other"
			}
			rest = rest[i+2:]
			switch {
			case strings.HasPrefix(rest, "s:"):
				records++
				return "record (string)"
			case strings.HasPrefix(rest, "ixk:"):
				// A chunk of a chunked index: ixk:<n>:<index suffix>.
				if parts := strings.SplitN(rest, ":", 3); len(parts) == 3 {
					return indexKind(parts[2]) + " chunks"
				}
			case strings.HasPrefix(rest, "ixd:"):
				return "index directories"
			case rest == "ixn":
				return "index counts (hash)"
			case rest == "exp" || strings.HasPrefix(rest, "ix:"):
				return indexKind(rest)
			}
			return "tenant: " + rest
		}
		switch {
		case strings.HasPrefix(rest, "tok:"):
			return "token pointer (string + TTL)"
		case strings.HasPrefix(rest, "ids:"):
			return "id -> tenant buckets (hash)"
		}
		return "global: " + strings.SplitN(rest, ":", 2)[0]
	}
	iter := rdb.Scan(ctx, 0, prefix+":*", 5000).Iterator()
	var keys []string
	flush := func() error {
		cmds := make([]*redis.IntCmd, len(keys))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.MemoryUsage(ctx, k, 0) // SAMPLES 0: every element of big sets
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for i, k := range keys {
			c := classes[kind(k)]
			if c == nil {
				c = &class{}
				classes[kind(k)] = c
			}
			c.keys++
			c.bytes += cmds[i].Val()
		}
		keys = keys[:0]
		return nil
	}
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 2000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if records == 0 {
		return errors.New("no session records under the prefix")
	}
	names := make([]string, 0, len(classes))
	var total int64
	for name, c := range classes {
		names = append(names, name)
		total += c.bytes
	}
	sort.Slice(names, func(i, j int) bool { return classes[names[i]].bytes > classes[names[j]].bytes })
	fmt.Printf("%-32s %10s %14s %12s\n", "kind of key (MEMORY USAGE)", "keys", "bytes", "B/session")
	for _, name := range names {
		c := classes[name]
		fmt.Printf("%-32s %10d %14d %12.1f\n", name, c.keys, c.bytes, float64(c.bytes)/float64(records))
	}
	fmt.Printf("%-32s %10s %14d %12.1f\n", "total", "", total, float64(total)/float64(records))
	if sample, err := rdb.Get(ctx, firstRecord(ctx, rdb, prefix)).Result(); err == nil {
		fmt.Printf("sample record (%d bytes): %q\n", len(sample), sample)
	}
	return nil
}

func firstRecord(ctx context.Context, rdb *redis.Client, prefix string) string {
	keys, _, _ := rdb.Scan(ctx, 0, prefix+":{*}:s:*", 1000).Result()
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
