// Command floor is the benchmark's floor: the least any server could do to answer the
// service's point read. It takes the same POST /graphql request, reads the id from the
// JSON body's variables, does one Redis GET of a stored JSON document (the service's own
// answer to that read, stored by bench/run.sh) and writes it back. No auth, no GraphQL,
// no validation: whatever the service adds on top is measured against this.
//
//	go run ./bench/floor -addr 127.0.0.1:8090 -redis-url redis://127.0.0.1:6390/0
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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
	log.Fatal(http.ListenAndServe(*addr, nil))
}
