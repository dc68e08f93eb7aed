// Command scancost measures what one page call costs Redis per unit of its work budget
// (PAGE_SCAN_LIMIT), on a tenant that bench/load filled with -alternate (so that
// {type: TEST, category: HRIS} never matches): for each budget it runs the worst
// combined-filter count and a ranged one-filter count through the service's own store,
// and reads the Redis time of the scripts from INFO commandstats (differences, so it
// leaves the server's statistics alone).
//
//	go run ./bench/load -redis-url redis://127.0.0.1:6390/0 -project noisy -n 20000 -alternate
//	go run ./bench/scancost -redis-url redis://127.0.0.1:6390/0 -project noisy
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/cache"
	"connectsession/graph/model"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scancost:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("redis-url", "", "redis:// URL of the benchmark's Redis (required)")
	prefix := flag.String("prefix", "cs", "key prefix, as REDIS_KEY_PREFIX")
	org := flag.Int("org", 1, "organization of the sessions")
	project := flag.String("project", "noisy", "project filled by bench/load -alternate")
	budgets := flag.String("budgets", "250,500,1000,2000,4000,8000,100000000", "comma-separated budgets to measure")
	calls := flag.Int("calls", 200, "calls per budget and query")
	flag.Parse()
	if *url == "" {
		return errors.New("-redis-url is required")
	}
	opts, err := redis.ParseURL(*url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	t := model.Tenant{OrganizationID: *org, ProjectID: *project}
	zero, since := 0, time.UnixMilli(1)
	queries := []struct {
		name string
		q    model.ListQuery
	}{
		{"first:0 {type:TEST,category:HRIS} totalCount", model.ListQuery{WantCount: true,
			Filter: &model.ConnectSessionFilter{Type: ptr(model.TypeTest), Category: ptr(model.CategoryHRIS)},
			Args:   model.PageArgs{First: &zero}}},
		{"first:0 {type:TEST,createdAfter} totalCount", model.ListQuery{WantCount: true,
			Filter: &model.ConnectSessionFilter{Type: ptr(model.TypeTest), CreatedAfter: &since},
			Args:   model.PageArgs{First: &zero}}},
	}
	fmt.Println("budget query calls redis-us/call units/call us/1000-units cut")
	for _, f := range strings.Split(*budgets, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("budget %q: %w", f, err)
		}
		for _, qq := range queries {
			var units, cut int
			store := cache.New(rdb, cache.Options{Prefix: *prefix, PageScanLimit: b, OnPageScan: func(s cache.PageScan) {
				units += s.Examined
				if s.Cut || s.CountCut {
					cut++
				}
			}})
			if _, err := store.List(ctx, t, qq.q); err != nil { // loads the script
				return err
			}
			units, cut = 0, 0
			c0, u0, err := scriptStats(ctx, rdb)
			if err != nil {
				return err
			}
			for range *calls {
				if _, err := store.List(ctx, t, qq.q); err != nil {
					return err
				}
			}
			c1, u1, err := scriptStats(ctx, rdb)
			if err != nil {
				return err
			}
			n := float64(c1 - c0)
			fmt.Printf("%d %q %d %.0f %.0f %.0f %d\n", b, qq.name, c1-c0, float64(u1-u0)/n, float64(units)/n,
				float64(u1-u0)/float64(max(units, 1))*1000, cut)
		}
	}
	return nil
}

// scriptStats sums calls and microseconds of EVAL and EVALSHA from INFO commandstats.
func scriptStats(ctx context.Context, rdb *redis.Client) (calls, usec int64, err error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "cmdstat_evalsha:") && !strings.HasPrefix(line, "cmdstat_eval:") {
			continue
		}
		for _, kv := range strings.Split(line[strings.Index(line, ":")+1:], ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				calls += n
			case "usec":
				usec += n
			}
		}
	}
	return calls, usec, nil
}

func ptr[T any](v T) *T { return &v }
