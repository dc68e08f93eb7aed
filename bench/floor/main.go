// Command floor is the benchmark's floors: the least any server could do to answer the
// service's point read, page and create, with a plain Redis client (no client-side
// cache). No auth, no GraphQL, no validation: whatever the service adds on top is
// measured against these.
//
//   - POST /graphql, the point read: reads the id from the JSON body's variables, does
//     one GET of a stored JSON document (the service's own answer to that read, stored
//     by bench/run.sh) and writes it back.
//
//   - POST /page: one ZREVRANGE of the newest 50 ids of <prefix>ix, one MGET of their
//     documents, written back as a JSON array.
//
//   - POST /create: INCR of <prefix>seq, then SET of the request body as
//     <prefix>created:<id> and ZADD of the id to <prefix>created (one pipelined round
//     trip), and writes back the id.
//
//     go run ./bench/floor -addr 127.0.0.1:8090 -redis-url redis://127.0.0.1:6390/0
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	url := flag.String("redis-url", "redis://127.0.0.1:6379/0", "redis:// URL holding the documents")
	prefix := flag.String("prefix", "floor:doc:", "key of a document: prefix + id")
	flag.Parse()
	opts, err := redis.ParseURL(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	opts.Protocol = 2 // as the service's client
	rdb := redis.NewClient(opts)
	notFound := []byte(`{"data":{"connectSession":null}}`)
	http.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Variables struct {
				ID int `json:"id"`
			} `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		doc, err := rdb.Get(r.Context(), *prefix+strconv.Itoa(req.Variables.ID)).Bytes()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case errors.Is(err, redis.Nil):
			_, _ = w.Write(notFound)
		case err != nil:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write(doc)
		}
	})
	http.HandleFunc("POST /page", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ids, err := rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: *prefix + "ix", Start: 0, Stop: 49, Rev: true}).Result()
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = *prefix + id
		}
		docs := []any{}
		if len(keys) > 0 {
			if docs, err = rdb.MGet(ctx, keys...).Result(); err != nil {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
		}
		b := make([]byte, 0, 64*len(docs)+2)
		b = append(b, '[')
		for i, d := range docs {
			if i > 0 {
				b = append(b, ',')
			}
			if s, ok := d.(string); ok {
				b = append(b, s...)
			} else {
				b = append(b, "null"...)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(append(b, ']'))
	})
	http.HandleFunc("POST /create", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		id, err := rdb.Incr(ctx, *prefix+"seq").Result()
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		sid := strconv.FormatInt(id, 10)
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, *prefix+"created:"+sid, body, 0)
			p.ZAdd(ctx, *prefix+"created", redis.Z{Score: float64(id), Member: sid})
			return nil
		}); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":` + sid + `}`))
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
