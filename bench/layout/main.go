// Command layout estimates what the compact index layout proposed in bench/README.md
// ("Redis memory per session") would cost, without implementing it in the store: it
// rewrites, in a benchmark Redis already filled by bench/load, every index sorted set of
// the store (ix:* and exp) into that layout, and prints INFO used_memory before and after.
// Pages cannot be served from the rewritten data; use a throwaway redis-server.
//
// The proposed layout of one index (now one sorted set, skiplist-encoded past 128
// entries at about 96 bytes per entry):
//
//	<index key>                       directory: one member per chunk, all scored 0 and
//	                                  ordered by member, the chunk's lower bound as
//	                                  8-byte big-endian score + 4-byte big-endian id
//	<tenant>k:<hex lower>:<index>     chunk: a sorted set of at most -chunk entries
//	                                  (score createdAt or expiresAt, member the 4-byte
//	                                  id), so Redis keeps it listpack-encoded
//	<tenant>n                         hash: index suffix -> entry count (totalCount)
//
// An index of at most -chunk entries stays one sorted set (listpack already; its count is
// ZCARD): owners and accounts mostly. A page finds its first chunk with one ZREVRANGEBYLEX on the directory and walks
// chunks in order (O(log N + page) as now); an insert or removal locates its chunk the
// same way, splitting a full chunk (or starting a new one past its last entry).
//
//	go run ./bench/layout -redis-url redis://127.0.0.1:6390/0 [-drop-tokens]
package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
)

func main() {
	url := flag.String("redis-url", "", "redis:// URL of a benchmark Redis filled by bench/load (required)")
	prefix := flag.String("prefix", "cs", "key prefix")
	chunk := flag.Int("chunk", 128, "entries per chunk (at most zset-max-listpack-entries)")
	fill := flag.Float64("fill", 1, "how full chunks are, 0.5 to 1 (appends fill them; splits leave halves)")
	dropTokens := flag.Bool("drop-tokens", false, "also delete the token pointers (the token then carries the session id)")
	sessions := flag.Int("sessions", 0, "divide the difference by this many sessions (default: the records found)")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "layout: -redis-url is required")
		os.Exit(2)
	}
	opts, err := redis.ParseURL(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "layout:", err)
		os.Exit(2)
	}
	rdb := redis.NewClient(opts)
	ctx := context.Background()
	if err := run(ctx, rdb, *prefix, *chunk, *fill, *dropTokens, *sessions); err != nil {
		fmt.Fprintln(os.Stderr, "layout:", err)
		os.Exit(1)
	}
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			var n int64
			_, err := fmt.Sscan(v, &n)
			return n, err
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO")
}

func run(ctx context.Context, rdb *redis.Client, prefix string, chunk int, fill float64, dropTokens bool, sessions int) error {
	var indexes, tokens []string
	records := 0
	iter := rdb.Scan(ctx, 0, prefix+":*", 5000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		rest := strings.TrimPrefix(k, prefix+":")
		switch {
		case strings.HasPrefix(rest, "tok:"):
			tokens = append(tokens, k)
		case strings.HasPrefix(rest, "{"):
			i := strings.Index(rest, "}:")
			if i < 0 {
				continue
			}
			if tail := rest[i+2:]; strings.HasPrefix(tail, "ix:") || tail == "exp" {
				indexes = append(indexes, k)
			} else if strings.HasPrefix(tail, "s:") {
				records++
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if sessions == 0 {
		sessions = records
	}
	if sessions == 0 {
		return fmt.Errorf("no records under %s", prefix)
	}
	before, err := usedMemory(ctx, rdb)
	if err != nil {
		return err
	}
	per := max(1, int(float64(chunk)*fill))
	chunks, large := 0, 0
	for _, ix := range indexes {
		entries, err := rdb.ZRangeWithScores(ctx, ix, 0, -1).Result()
		if err != nil {
			return err
		}
		if len(entries) <= chunk {
			continue // small: already listpack-encoded, stays one sorted set
		}
		large++
		cut := strings.Index(ix, "}:") + 2
		tenant, suffix := ix[:cut], ix[cut:]
		if err := rdb.Del(ctx, ix).Err(); err != nil {
			return err
		}
		_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for from := 0; from < len(entries); from += per {
				part := entries[from:min(from+per, len(entries))]
				var lower [12]byte
				binary.BigEndian.PutUint64(lower[:8], uint64(part[0].Score))
				copy(lower[8:], part[0].Member.(string))
				p.ZAdd(ctx, ix, redis.Z{Score: 0, Member: string(lower[:])})
				p.ZAdd(ctx, tenant+"k:"+hex.EncodeToString(lower[:])+":"+suffix, part...)
				chunks++
			}
			p.HSet(ctx, tenant+"n", suffix, len(entries))
			return nil
		})
		if err != nil {
			return err
		}
	}
	if dropTokens {
		for from := 0; from < len(tokens); from += 1000 {
			if err := rdb.Del(ctx, tokens[from:min(from+1000, len(tokens))]...).Err(); err != nil {
				return err
			}
		}
	}
	after, err := usedMemory(ctx, rdb)
	if err != nil {
		return err
	}
	fmt.Printf("rewrote %d large index sorted sets (of %d) into %d chunks of up to %d entries", large, len(indexes), chunks, per)
	if dropTokens {
		fmt.Printf(", deleted %d token pointers", len(tokens))
	}
	fmt.Printf("\nused_memory %d -> %d: %+.1f bytes per session over %d sessions\n",
		before, after, float64(after-before)/float64(sessions), sessions)
	return nil
}
