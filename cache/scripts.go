package cache

import (
	"context"
	"embed"
	"strconv"
	"strings"
	"text/template"

	"github.com/redis/go-redis/v9"
)

// The store's Redis scripts are the .lua files in lua/, one per operation, each opening
// with a table of the KEYS and ARGV it takes. lua/lib.lua (the index layout, the member
// and varint encodings) is prepended to every script that touches an index, so that each
// operation stays one script, run with EVALSHA. Go calls each one through a call struct
// (writeCall, pageCall, createCall, ixCall, manyCall) whose args method lays out ARGV in
// the order the file's table gives.
//
//go:embed lua/*.lua
var luaFiles embed.FS

// luaConstants are the Go constants the Lua sources use ({{.ChunkSize}} in a .lua file),
// filled in once when the package loads, so that no constant is written in both.
var luaConstants = struct {
	ChunkSize, ChunkCountCost, MaxID, BoundWidth int
	DirectoryInfix, ChunkInfix, CountsName       string
}{
	ChunkSize:      chunkSize,
	ChunkCountCost: chunkCountCost,
	MaxID:          maxID,
	BoundWidth:     boundWidth,
	DirectoryInfix: directoryInfix,
	ChunkInfix:     chunkInfix,
	CountsName:     countsName,
}

// hole marks, in a key or message that Go writes, the place of a value only a script
// knows (a new id, the tenant tag found in a pointer bucket). Go passes the parts around
// the holes and the script joins them with the value, so that each format is written
// once, in Go. No key, record or JSON text the store writes contains a NUL byte.
const hole = "\x00"

// around returns the n+1 parts of s around its n holes.
func around(s string, n int) []string {
	parts := strings.Split(s, hole)
	if len(parts) != n+1 {
		panic("cache: " + strconv.Quote(s) + " does not have " + strconv.Itoa(n) + " holes")
	}
	return parts
}

var (
	writeScript  = newScript("lib.lua", "write.lua")
	pageScript   = newScript("lib.lua", "page.lua")
	createScript = newScript("lib.lua", "create.lua")
	ixScript     = newScript("lib.lua", "index.lua")
	manyScript   = newScript("many.lua")
	trimScript   = newScript("lib.lua", "trim.lua")
)

// allScripts are the scripts newScript made, for LoadScripts.
var allScripts []*redis.Script

func newScript(files ...string) *redis.Script {
	sc := redis.NewScript(luaSource(files...))
	allScripts = append(allScripts, sc)
	return sc
}

// LoadScripts puts the store's scripts into Redis's script cache (on a cluster, into
// every node) so that their first runs need no second round trip: each is run with
// EVALSHA, and a server that does not know it answers NOSCRIPT, after which the client
// sends the whole source (15-25 KB) with EVAL, once per request that meets the empty
// cache. A restart or SCRIPT FLUSH empties the cache again; the fallback covers that.
// It returns an error wrapping model.ErrUnavailable when Redis does not answer.
func (s *Store) LoadScripts(ctx context.Context) error {
	for _, sc := range allScripts {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return storeErr("load scripts", err)
		}
	}
	return nil
}

// luaSource is the named files of lua/, joined in order, with the constants filled in.
// It panics on a missing file or a bad template: both are caught by any test.
func luaSource(files ...string) string {
	var b strings.Builder
	for _, f := range files {
		text, err := luaFiles.ReadFile("lua/" + f)
		if err != nil {
			panic("cache: " + err.Error())
		}
		t := template.Must(template.New(f).Option("missingkey=error").Parse(string(text)))
		if err := t.Execute(&b, luaConstants); err != nil {
			panic("cache: " + f + ": " + err.Error())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// writeCall is one run of lua/write.lua: a compare-and-set write of a record with its
// index entries and event.
type writeCall struct {
	record      string   // the record key
	leave, join []string // the indexes the record leaves and joins (plain keys)
	guard       string   // the tenant's guard key
	expected    string   // the value read ("" = the record must not exist)
	next        string   // the new value ("" = delete the record)
	member      string   // the record's index member
	channel     string   // event channel ("" = publish nothing)
	event       string   // the event's header (eventHeader)
	publish     string   // PUBLISH, or SPUBLISH on a cluster
	base        string   // tenant base
	log         logArgs  // where the event is appended
	scores      []int64  // one per index of leave, then of join
}

// logArgs are the arguments of lib.lua's log_event: the tenant's event log, the oldest
// id it keeps, the most entries it keeps, and the write's time (ms), which the event's
// id starts with.
type logArgs struct {
	key, cut, minID string
	max             int
	at              int64
}

func (c *writeCall) keys() []string {
	keys := make([]string, 0, 2+len(c.leave)+len(c.join))
	keys = append(keys, c.record)
	keys = append(keys, c.leave...)
	keys = append(keys, c.join...)
	return append(keys, c.guard)
}

func (c *writeCall) args() []any {
	args := make([]any, 0, 13+len(c.scores))
	args = append(args, c.expected, c.next, c.member, len(c.leave), c.channel, c.event, c.publish, c.base,
		c.log.key, c.log.cut, c.log.minID, c.log.max, c.log.at)
	for _, sc := range c.scores {
		args = append(args, sc)
	}
	return args
}

// run returns 1 when the write was applied, 0 when the record changed since it was read.
func (c *writeCall) run(ctx context.Context, rdb redis.Scripter) *redis.Cmd {
	return writeScript.Run(ctx, rdb, c.keys(), c.args()...)
}

// pageCall is one run of lua/page.lua: a page of the intersection of indexes.
type pageCall struct {
	indexes            []string // the indexes to intersect (plain keys)
	guard              string   // the tenant's guard key
	recordPrefix       string   // record key without the id
	page               *window
	other              *window // only tested for being non-empty; nil = not asked
	countMin, countMax string  // score range to count; "" = do not count
	base               string  // tenant base
	budget             int     // the most units of work the call may spend
}

func (c *pageCall) args() []any {
	args := make([]any, 0, 21)
	args = append(args, c.recordPrefix)
	args = c.page.appendArgs(args)
	args = c.other.appendArgs(args)
	return append(args, c.countMin, c.countMax, c.base, c.budget)
}

func (c *pageCall) run(ctx context.Context, rdb redis.Scripter) *redis.Cmd {
	return pageScript.Run(ctx, rdb, append(c.indexes, c.guard), c.args()...)
}

// appendArgs appends the window's eight arguments (all "" for a nil window).
func (w *window) appendArgs(args []any) []any {
	if w == nil {
		return append(args, "", "", "", "", "", "", "", "")
	}
	take := "bottom"
	if w.top {
		take = "top"
	}
	args = append(args, take, w.limit)
	args = w.lo.appendArgs(args)
	return w.hi.appendArgs(args)
}

// appendArgs appends the bound's three arguments: score, id, inclusive ("" when unset).
func (b bound) appendArgs(args []any) []any {
	if !b.set {
		return append(args, "", "", "")
	}
	inc := "0"
	if b.inclusive {
		inc = "1"
	}
	return append(args, strconv.FormatInt(b.ms, 10), strconv.FormatInt(b.id, 10), inc)
}

// createCall is one run of lua/create.lua: a whole create on a single server.
// The []string fields are formats written by Go with holes where the new id goes
// (see hole): the parts around them.
type createCall struct {
	seq, tenants string   // the id sequence and tenant registry keys
	indexes      []string // the indexes the record joins (plain keys)
	recordKey    []string // the record key around its id (2 parts)
	bucketPrefix string   // id bucket key without the bucket number
	bucketSize   int
	tag          string   // tenant tag
	record       []string // the encoded record around its id (2 parts)
	binaryID     bool     // the record writes its id as a uvarint, else in decimal
	base         string   // tenant base
	tokenKey     string   // the token pointer's key ("" = write none, see Options.TokenPointers)
	tokenTTL     int64    // its lifetime (ms)
	tokenPointer []string // the token pointer's value around its id (2 parts; nil without a key)
	channel      string   // event channel ("" = publish nothing)
	event        []string // the CREATED event's header around its id (2 parts; nil without a channel)
	log          logArgs  // where the event is appended
	scores       []int64
}

func (c *createCall) keys() []string {
	keys := make([]string, 0, 2+len(c.indexes))
	keys = append(keys, c.seq, c.tenants)
	return append(keys, c.indexes...)
}

func (c *createCall) args() []any {
	idForm := ""
	if c.binaryID {
		idForm = "b"
	}
	event := c.event
	if event == nil {
		event = []string{"", ""}
	}
	pointer := c.tokenPointer
	if pointer == nil {
		pointer = []string{"", ""}
	}
	args := make([]any, 0, 21+len(c.scores))
	args = append(args, c.recordKey[0], c.recordKey[1], c.bucketPrefix, c.bucketSize, c.tag,
		c.record[0], c.record[1], idForm, c.base, c.tokenKey, c.tokenTTL, pointer[0], pointer[1],
		c.channel, event[0], event[1], c.log.key, c.log.cut, c.log.minID, c.log.max, c.log.at)
	for _, sc := range c.scores {
		args = append(args, sc)
	}
	return args
}

// run returns the new id.
func (c *createCall) run(ctx context.Context, rdb redis.Scripter) *redis.Cmd {
	return createScript.Run(ctx, rdb, c.keys(), c.args()...)
}

// ixCall is one run of lua/index.lua: one operation on one index.
type ixCall struct {
	index, guard, base string
	op                 string // "add", "rem", "rebuild" or "range"
	score              int64  // add, rem: the entry's score; range: the bound below
	arg                any    // add, rem: the member; range: how many entries
}

func (c *ixCall) args() []any {
	if c.op == "rebuild" {
		return []any{c.base, c.op}
	}
	return []any{c.base, c.op, c.score, c.arg}
}

func (c *ixCall) run(ctx context.Context, rdb redis.Scripter) *redis.Cmd {
	return ixScript.Run(ctx, rdb, []string{c.index, c.guard}, c.args()...)
}

// manyCall is one run of lua/many.lua: records by id, whichever their tenants.
type manyCall struct {
	buckets   []string // each id's pointer bucket
	recordKey []string // a record key around its tag and id: keys.recordKey(hole, hole)
	ids       []int
}

func (c *manyCall) args() []any {
	args := make([]any, 0, len(c.ids)+3)
	args = append(args, c.recordKey[0], c.recordKey[1], c.recordKey[2])
	for _, id := range c.ids {
		args = append(args, strconv.Itoa(id))
	}
	return args
}

func (c *manyCall) run(ctx context.Context, rdb redis.Scripter) *redis.Cmd {
	return manyScript.Run(ctx, rdb, c.buckets, c.args()...)
}
