// Command webhooks measures webhook delivery against a real Redis: how many events per
// second the dispatcher delivers to a local receiver (one endpoint, which gets its events
// one at a time, and several, delivered in parallel), and what an endpoint costs the
// creates of its project, in the same run: creates with no endpoint, then with one
// while its events are delivered. The dispatcher is the service's (package webhooks);
// creates call the store directly, so the figures leave out HTTP and GraphQL. Its keys
// go under a prefix of their own, removed at the end.
//
//	go run ./bench/webhooks -redis-url redis://127.0.0.1:6379/0
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"connectsession/cache"
	"connectsession/graph/model"
	"connectsession/webhooks"
)

func main() {
	url := flag.String("redis-url", "redis://127.0.0.1:6379/0", "redis:// URL")
	creates := flag.Int("creates", 3000, "creates per phase of the create-cost measure")
	backlog := flag.Int("backlog", 3000, "events per endpoint in the delivery measure")
	endpoints := flag.Int("endpoints", 4, "endpoints (one project each) in the parallel delivery measure")
	workers := flag.Int("workers", 4, "goroutines creating sessions")
	flag.Parse()
	if err := run(*url, *creates, *backlog, *endpoints, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "webhooks:", err)
		os.Exit(1)
	}
}

// receiver counts deliveries per project and answers 204.
type receiver struct {
	n   atomic.Int64
	url string
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/hook"}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.Copy(io.Discard, req.Body)
			r.n.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
	}()
	return r, nil
}

func run(url string, creates, backlog, endpoints, workers int) error {
	ctx := context.Background()
	rdb, err := cache.Connect(url, nil)
	if err != nil {
		return err
	}
	defer rdb.Close()
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "bench-wh-" + hex.EncodeToString(b[:])
	defer func() {
		keys, _ := rdb.Keys(ctx, prefix+":*").Result()
		for i := 0; i < len(keys); i += 500 {
			_ = rdb.Del(ctx, keys[i:min(i+500, len(keys))]...).Err()
		}
	}()
	store := cache.New(rdb, cache.Options{Prefix: prefix})
	if err := store.LoadScripts(ctx); err != nil {
		return err
	}
	recv, err := startReceiver()
	if err != nil {
		return err
	}
	newDispatcher := func() *webhooks.Dispatcher {
		return webhooks.NewDispatcher(store, webhooks.Options{
			Client:       webhooks.NewClient(webhooks.ClientOptions{Policy: webhooks.Policy{AllowHTTP: true, AllowPrivate: true}}),
			PollInterval: 20 * time.Millisecond, Concurrency: 16,
		})
	}
	addEndpoint := func(project string) error {
		e := &model.WebhookEndpoint{OrganizationID: 1, ProjectID: project, URL: recv.url}
		return store.CreateWebhookEndpoint(ctx, e, webhooks.NewSecret(), 10)
	}

	// Delivery: a backlog written first, then drained by a dispatcher started after it.
	for _, n := range []int{1, endpoints} {
		before := recv.n.Load()
		for i := range n {
			p := fmt.Sprintf("drain-%d-%d", n, i)
			if err := addEndpoint(p); err != nil {
				return err
			}
			if _, err := createMany(ctx, store, p, backlog, workers); err != nil {
				return err
			}
		}
		want := before + int64(n*backlog)
		dctx, cancel := context.WithCancel(ctx)
		d := newDispatcher()
		start := time.Now()
		go d.Run(dctx)
		for recv.n.Load() < want {
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		cancel()
		fmt.Printf("delivery: %d endpoint(s) x %d events: %.0f events/s (%s)\n", n, backlog, float64(n*backlog)/took.Seconds(), took.Round(time.Millisecond))
	}

	// Create cost: the same creates without an endpoint, then with one being delivered.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go newDispatcher().Run(dctx)
	without, err := createMany(ctx, store, "plain", creates, workers)
	if err != nil {
		return err
	}
	if err := addEndpoint("hooked"); err != nil {
		return err
	}
	before := recv.n.Load()
	with, err := createMany(ctx, store, "hooked", creates, workers)
	if err != nil {
		return err
	}
	during := recv.n.Load() - before
	drainStart := time.Now()
	for recv.n.Load() < before+int64(creates) {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("creates without an endpoint: %s\n", without)
	fmt.Printf("creates with an endpoint:    %s; delivered during them %d of %d, the rest %s later\n",
		with, during, creates, time.Since(drainStart).Round(time.Millisecond))
	return nil
}

// stats are the latencies of a batch of creates.
type stats struct {
	n    int
	took time.Duration
	lat  []time.Duration
}

func (s stats) String() string {
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	var sum time.Duration
	for _, l := range s.lat {
		sum += l
	}
	q := func(f float64) time.Duration { return s.lat[int(f*float64(len(s.lat)-1))] }
	return fmt.Sprintf("%d creates at %.0f/s, mean %s, p50 %s, p99 %s", s.n, float64(s.n)/s.took.Seconds(),
		(sum / time.Duration(len(s.lat))).Round(time.Microsecond), q(.5).Round(time.Microsecond), q(.99).Round(time.Microsecond))
}

// createMany creates n sessions in project with workers goroutines.
func createMany(ctx context.Context, store *cache.Store, project string, n, workers int) (stats, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	lat := make([]time.Duration, 0, n)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, n/workers+1)
			for next.Add(1) <= int64(n) {
				t := time.Now()
				_, _, err := store.Create(ctx, &model.CreateConnectSessionInput{OrganizationID: 1, ProjectID: project,
					OriginOwnerID: "owner", OriginOwnerName: "Owner"})
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return stats{n: n, took: time.Since(start), lat: lat}, firstErr
}
