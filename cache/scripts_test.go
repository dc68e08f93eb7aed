package cache

import (
	"connectsession/graph/model"
	"context"
	"encoding/binary"
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Every .lua file is a script with its KEYS/ARGV table first (or the shared library),
// and loads with every Go constant filled in.
func TestLuaSources(t *testing.T) {
	files, err := fs.Glob(luaFiles, "lua/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded Lua files: %v", err)
	}
	for _, f := range files {
		name := strings.TrimPrefix(f, "lua/")
		src := luaSource(name)
		if !strings.HasPrefix(src, "-- "+name+" ") && !strings.HasPrefix(src, "-- "+name+":") {
			t.Errorf("%s does not open with a comment naming it", name)
		}
		if strings.Contains(src, "{{") {
			t.Errorf("%s has an unfilled constant", name)
		}
		header, _, _ := strings.Cut(src, "\n\n")
		if name != "lib.lua" && !strings.Contains(src[:strings.Index(src, "\nlocal ")], "ARGV[1]") {
			t.Errorf("%s does not document its ARGV before its first local: %q", name, header)
		}
	}
	for _, c := range []struct{ file, want string }{
		{"lib.lua", "local IX_MAX = " + strconv.Itoa(chunkSize) + "\n"},
		{"lib.lua", "local IX_CHUNK_COST = " + strconv.Itoa(chunkCountCost) + "\n"},
		{"create.lua", "if id > " + strconv.Itoa(maxID) + " then"},
	} {
		if !strings.Contains(luaSource(c.file), c.want) {
			t.Errorf("%s lacks %q", c.file, c.want)
		}
	}
}

// The encodings both languages must compute (Go for the writes it plans, Lua for the
// ids only a script knows) agree: index members, the record's uvarint id, directory
// bounds, and the directory and chunk keys of an index.
func TestLuaEncodingsMatchGo(t *testing.T) {
	probe := redis.NewScript(luaSource("lib.lua") + `
local base, key, s, id, dm = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local ix = ix_open(base, key)
return {member_of(id), uvarint(id), ix_enc(s, member_of(id)), ix.dir, ix.cnt, ix_chunk(ix, dm)}
`)
	each(t, func(t *testing.T, b *backend) {
		tenant := model.Tenant{OrganizationID: 7, ProjectID: "p:{x}"}
		k := b.store.k
		key := k.index(tenant, "provider", "hibob")
		for _, c := range []struct {
			score int64
			id    int
		}{{0, 0}, {1, 1}, {127, 128}, {1 << 40, 300}, {1796000000123, 16384}, {1<<53 - 1, maxID}} {
			dm := string(binary.BigEndian.AppendUint64(nil, uint64(c.score))) + member(c.id) + "17"
			got, err := probe.Run(context.Background(), b.rdb, []string{key},
				k.tenantBase(tenant), key, c.score, c.id, dm).StringSlice()
			if err != nil {
				t.Fatal(err)
			}
			want := []string{member(c.id), string(binary.AppendUvarint(nil, uint64(c.id))), dm[:boundWidth],
				k.directory(tenant, key), k.counts(tenant), k.chunk(tenant, key, dm)}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("score %d id %d: Lua %q, Go %q (result %d)", c.score, c.id, got[i], want[i], i)
				}
			}
			if e, ok := decodeBound(dm); !ok || e.score != c.score || idOf(e.m) != c.id {
				t.Errorf("decodeBound(%q) = %v %v", dm, e, ok)
			}
		}
	})
}

// LoadScripts leaves every script of the store in Redis's script cache (on a cluster, in
// every master's), so that its first EVALSHA finds it.
func TestLoadScripts(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		if err := b.store.LoadScripts(ctx); err != nil {
			t.Fatal(err)
		}
		if len(allScripts) == 0 {
			t.Fatal("no script registered")
		}
		check := func(ctx context.Context, c redis.Scripter) error {
			for _, sc := range allScripts {
				if ok, err := sc.Exists(ctx, c).Result(); err != nil || len(ok) != 1 || !ok[0] {
					t.Errorf("script %s is not loaded: %v %v", sc.Hash(), ok, err)
				}
			}
			return nil
		}
		if c, ok := b.rdb.(*redis.ClusterClient); ok {
			_ = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return check(ctx, node) })
		} else {
			_ = check(ctx, b.rdb)
		}
	})
}
