package cache

import (
	"encoding/binary"
	"strconv"
	"strings"

	"connectsession/graph/model"
)

// keys builds every key name under one prefix.
//
//	<p>:seq                        global id sequence (INCR)
//	<p>:ids:<id/128>               hash id → tenant, bucketed to stay compact
//	<p>:tok:<hash>                 token pointer "<tenant>:<id>", expiring with the session;
//	                               <hash> is the record's TokenHash (see token.go); written
//	                               only with Options.TokenPointers, read only for tokens
//	                               of the old form (no id in them)
//	<p>:tenants                    set of tenants holding sessions (for retention sweeps)
//	<p>:{<tenant>}:s:<id>          the session record
//	<p>:{<tenant>}:ix:all          creation index: score createdAt (ms), member id (4 bytes BE)
//	<p>:{<tenant>}:ix:<f>:<value>  one creation-ordered index per equality filter value;
//	                               for owner and account (valueKinds) only when the value
//	                               has more than 64 entries, or was written so by an
//	                               earlier version (see "Value-ordered indexes" below)
//	<p>:{<tenant>}:vx:<f>          not a key: the name of the value-ordered index of owner
//	                               (f = o) or account (f = a), always chunked (ixd:vx:<f>,
//	                               ixk:<n>:vx:<f>)
//	<p>:{<tenant>}:exp             expiry index: score expiresAt (ms), for retention
//	<p>:{<tenant>}:ixd:<suffix>    directory of a chunked index (see below)
//	<p>:{<tenant>}:ixk:<n>:<suffix> one chunk of a chunked index
//	<p>:{<tenant>}:ixn             hash: <suffix> → entry count of each chunked index, and
//	                               #<suffix> → its chunk number sequence
//	<p>:{<tenant>}:ev              the tenant's event channel
//	<p>:{<tenant>}:log             the tenant's event log: a stream, one entry per change
//	                               (field e: the event message, see events.go), trimmed
//	                               by age and length (eventlog.go)
//	<p>:{<tenant>}:logcut          the newest id trimmed from the log (none: nothing was)
//	<p>:{<tenant>}:wh              webhook endpoints: score createdAt (ms), member the
//	                               endpoint id (webhooks.go)
//	<p>:{<tenant>}:wh:<id>         hash: one endpoint's settings, secret and delivery
//	                               state (cursor: the last event handled; see webhooks.go)
//	<p>:{<tenant>}:wha:<id>        list: the endpoint's latest delivery attempts, newest first
//	<p>:{<tenant>}:whr:<id>        list: event ids queued for redelivery, oldest first
//	<p>:{<tenant>}:whl:<id>        the endpoint's delivery lease: the holding instance's token
//	<p>:webhooks                   set of "<id>:<tenant>" of every endpoint, which instances
//	                               scan for work; outside every hash tag, so on a cluster it
//	                               is written by a command of its own, never in a script
//
// Besides these, API keys (apikeys.go), persisted queries (<p>:apq:<hash>, apq.go) and
// the rate limiters' counters ("rate:<p>:...", ratelimit.go, keylimit.go, apq.go) are
// described beside their code.
//
// Members are 4-byte big-endian ids, so that ties on the score sort by id and cost
// little memory.
//
// An index (named by its plain key above; <suffix> is that key after the tenant's
// "<p>:{<tenant>}:", e.g. "ix:all" or "exp") has one of two forms. Plain: one sorted set
// under its key, as long as it holds at most 64 entries (chunkSize), well inside the 128
// (chunkMax) that Redis keeps listpack-encoded; older data may hold plain indexes of any
// size, which are read as such. Chunked, once a write would leave it with more than 64
// entries: the plain key is
// gone and a directory exists. The directory is a sorted set, all scores 0 and so ordered
// by member, with one member per chunk: the chunk's lower bound (8-byte big-endian score
// and 4-byte big-endian id, 12 bytes) followed by the chunk's number n in decimal, which
// names the chunk key and never changes (the bound may be lowered). ZREVRANGEBYLEX
// dir [<bound of (score, id)>\xff - LIMIT 0 1 finds the chunk holding (score, id). A
// chunk is a sorted set of at most 64 entries (up to 128 when written by an earlier
// version), all at or above its bound and below the next chunk's. Appends past the last
// entry start a new chunk (creates come in creation order, so chunks stay full); an
// insert into a full chunk elsewhere splits it in halves; a removal that empties a chunk
// deletes it and its directory member, and the count fields go with the last entry. All
// of it is in cache/lua/lib.lua, run inside the scripts so that writes stay atomic;
// index.go reads it back for verify.
//
// Value-ordered indexes. Most owners and accounts have one session or a few, and a key of
// their own per value costs about 100 bytes of key, dict and listpack overhead. So a
// value of owner or account with at most 64 entries is indexed in the tenant's
// value-ordered index of that field instead: chunked as above (in chunks of up to
// valueChunkSize), but all scores 0 and each entry the member
// <valuePrefix(value)><6-byte BE createdAt><4-byte BE id> (valueEntry), so that the
// sorted sets order entries by value, then creation, and each value's entries are one
// lex range (ZRANGEBYLEX, ZLEXCOUNT). A directory member is a chunk's lowest entry (its
// bound) followed by the chunk's number; the number starts after the valueEntryWidth
// bytes that follow the bound's NUL. A value longer than 53 bytes makes an
// entry longer than Redis keeps in a listpack (zset-max-listpack-value, 64): its chunk
// still works, as a skiplist, at several times the memory. A value passing 64 entries moves into keys of its own
// (ix:<f>:<value>, in the form above), and back once those shrink to 32. Where a value's
// entries are is told by whether it has a key of its own (plain key or directory):
// then all of them are there, else all in the value-ordered index. Scripts find the
// value-ordered index from the plain key's name, so Go passes ix:<f>:<value> as before.
// Keys of their own written by earlier versions (of any size) are read as they are; the
// first write to one of at most 64 entries moves it (see Options.PerValueIndexes for a
// rolling upgrade).
type keys struct{ prefix string }

const idBucketSize = 128

// tenantTag returns "<org>:<escaped project>": the project is escaped so that braces,
// colons and percent signs in it cannot end the hash tag or make two tenants collide.
func tenantTag(t model.Tenant) string {
	return strconv.Itoa(t.OrganizationID) + ":" + escapeProject(t.ProjectID)
}

func escapeProject(p string) string {
	plain := true
	for i := 0; i < len(p) && plain; i++ {
		switch p[i] {
		case '{', '}', ':', '%':
			plain = false
		}
	}
	if plain {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '{', '}', ':', '%':
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(strconv.FormatInt(int64(c), 16)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unescapeProject(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

// parseTenantTag reverses tenantTag.
func parseTenantTag(s string) (model.Tenant, bool) {
	org, project, ok := strings.Cut(s, ":")
	if !ok {
		return model.Tenant{}, false
	}
	o, err := strconv.Atoi(org)
	if err != nil || o <= 0 {
		return model.Tenant{}, false
	}
	p, ok := unescapeProject(project)
	if !ok {
		return model.Tenant{}, false
	}
	return model.Tenant{OrganizationID: o, ProjectID: p}, true
}

func (k keys) seq() string     { return k.prefix + ":seq" }
func (k keys) tenants() string { return k.prefix + ":tenants" }

func (k keys) idBucket(id int) string {
	return k.idBucketPrefix() + strconv.Itoa(id/idBucketSize)
}

// idBucketPrefix is an id bucket's key without the bucket number (id / idBucketSize).
func (k keys) idBucketPrefix() string { return k.prefix + ":ids:" }

func (k keys) token(hash string) string { return k.prefix + ":tok:" + hash }

// tenantBase is "<p>:{<tag>}:", the start of every key of the tenant.
func (k keys) tenantBase(t model.Tenant) string {
	// Built in one allocation: every key of a write starts with it.
	p := escapeProject(t.ProjectID)
	var b strings.Builder
	b.Grow(len(k.prefix) + len(p) + 16)
	b.WriteString(k.prefix)
	b.WriteString(":{")
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], int64(t.OrganizationID), 10))
	b.WriteByte(':')
	b.WriteString(p)
	b.WriteString("}:")
	return b.String()
}

func (k keys) record(t model.Tenant, id int) string { return k.recordOfTag(tenantTag(t), id) }

// recordOfTag is the record key from a tenant tag as stored in pointers.
func (k keys) recordOfTag(tag string, id int) string { return k.recordKey(tag, strconv.Itoa(id)) }

// recordKey is the one writer of a record key's shape (keys.record, recordPrefix and the
// scripts that build record keys take it from here).
func (k keys) recordKey(tag, id string) string { return k.prefix + ":{" + tag + "}:s:" + id }

func (k keys) recordPrefix(t model.Tenant) string { return k.recordKey(tenantTag(t), "") }
func (k keys) all(t model.Tenant) string          { return k.tenantBase(t) + "ix:all" }
func (k keys) expiry(t model.Tenant) string       { return k.tenantBase(t) + "exp" }
func (k keys) events(t model.Tenant) string       { return k.tenantBase(t) + "ev" }
func (k keys) eventLog(t model.Tenant) string     { return k.tenantBase(t) + "log" }
func (k keys) eventLogCut(t model.Tenant) string  { return k.tenantBase(t) + "logcut" }
func (k keys) webhooks(t model.Tenant) string     { return k.tenantBase(t) + "wh" }

func (k keys) webhook(t model.Tenant, id string) string { return k.tenantBase(t) + "wh:" + id }
func (k keys) webhookAttempts(t model.Tenant, id string) string {
	return k.tenantBase(t) + "wha:" + id
}
func (k keys) webhookRedeliveries(t model.Tenant, id string) string {
	return k.tenantBase(t) + "whr:" + id
}
func (k keys) webhookLease(t model.Tenant, id string) string { return k.tenantBase(t) + "whl:" + id }
func (k keys) webhookRegistry() string                       { return k.prefix + ":webhooks" }

// guard is a key of the tenant that is never written. Scripts that reach keys they do
// not declare (index chunks, directories, records of a page) declare it last: while the
// tenant's slot migrates between cluster nodes, a declared key that a node lacks makes
// Redis refuse the whole script (TRYAGAIN, or ASK and then TRYAGAIN) before it runs, so a
// script never stops halfway at a key already moved. Outside a migration it costs nothing.
func (k keys) guard(t model.Tenant) string { return k.tenantBase(t) + "guard" }

// The equality-filter index kinds.
const (
	ixProvider = "p"
	ixOwner    = "o"
	ixAccount  = "a"
	ixCategory = "c"
	ixType     = "t"
)

func (k keys) index(t model.Tenant, kind, value string) string {
	return k.tenantBase(t) + "ix:" + kind + ":" + value
}

// The value-ordered indexes: valueInfix and a kind name one after the tenant base (VX_INFIX
// in lua/lib.lua); valueKinds are the kinds indexed so, a letter each (VX_KINDS).
const (
	valueInfix = "vx:"
	valueKinds = ixOwner + ixAccount
)

// valueEntryWidth is the width of a value-ordered index entry after the value's prefix:
// createdAt in 6 big-endian bytes (enough until the year 10889), then the 4-byte member
// (VX_WIDTH in lua/lib.lua). valueChunkSize is how many entries writes put in one of its
// chunks (LX_MAX): more than chunkSize, because entries arrive in value order, not
// creation order, so chunks split in halves and are about 70% full on average, and one
// chunk costs about 350 bytes (its key, and its directory member, 100k of which make
// a skiplist); one less than chunkMax, because an insert into a full chunk holds one
// entry more for a moment before it splits, and Redis keeps at most chunkMax entries in
// a listpack (it does not convert back).
const (
	valueEntryWidth = 10
	valueChunkSize  = 127
)

// valueIndex is the name of the tenant's value-ordered index of kind.
func (k keys) valueIndex(t model.Tenant, kind string) string {
	return k.tenantBase(t) + valueInfix + kind
}

// valueOf splits the suffix of an equality index ("ix:<kind>:<value>") of a value-ordered
// kind; ok is false for any other index.
func valueOf(suffix string) (kind, value string, ok bool) {
	rest, found := strings.CutPrefix(suffix, "ix:")
	if !found || len(rest) < 2 || rest[1] != ':' || !strings.Contains(valueKinds, rest[:1]) {
		return "", "", false
	}
	return rest[:1], rest[2:], true
}

// valuePrefix is what every entry of value v starts with in a value-ordered index
// (vx_prefix in lua/lib.lua): v with each byte 0x00 written as 0x01 0x01 and each 0x01
// as 0x01 0x02, then a NUL. The NUL appears nowhere else, so no value's prefix begins
// another value's entries.
func valuePrefix(v string) string {
	if strings.IndexByte(v, 0) < 0 && strings.IndexByte(v, 1) < 0 {
		return v + "\x00"
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case 0:
			b.WriteString("\x01\x01")
		case 1:
			b.WriteString("\x01\x02")
		default:
			b.WriteByte(v[i])
		}
	}
	b.WriteByte(0)
	return b.String()
}

// unescapeValue reverses valuePrefix's escaping (without the NUL); ok is false for bytes
// it never writes.
func unescapeValue(p string) (string, bool) {
	if strings.IndexByte(p, 1) < 0 {
		return p, true
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != 1 {
			b.WriteByte(p[i])
			continue
		}
		if i+1 >= len(p) || (p[i+1] != 1 && p[i+1] != 2) {
			return "", false
		}
		b.WriteByte(p[i+1] - 1)
		i++
	}
	return b.String(), true
}

// valueEntry is entry e of value v in a value-ordered index (vx_entry in lua/lib.lua).
func valueEntry(v string, e ixEntry) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e.score))
	return valuePrefix(v) + string(b[2:]) + e.m
}

// splitValueEntry decodes an entry of a value-ordered index: its value, score and member.
func splitValueEntry(e string) (value string, en ixEntry, ok bool) {
	i := strings.IndexByte(e, 0)
	if i < 0 || len(e) != i+1+valueEntryWidth {
		return "", ixEntry{}, false
	}
	v, ok := unescapeValue(e[:i])
	var b [8]byte
	copy(b[2:], e[i+1:i+7])
	return v, ixEntry{score: int64(binary.BigEndian.Uint64(b[:])), m: e[i+7:]}, ok
}

// member encodes an id as an index member: 4 bytes, big-endian (member_of in
// lua/lib.lua, where the scripts build members).
func member(id int) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(id))
	return string(b[:])
}

// idOf decodes an index member (id_of in lua/lib.lua); -1 when it is not one.
func idOf(m string) int {
	if len(m) != 4 {
		return -1
	}
	return int(binary.BigEndian.Uint32([]byte(m)))
}

// indexKeys lists every creation-ordered index the record belongs to.
func (k keys) indexKeys(t model.Tenant, r *record) []string {
	cats := r.categories()
	out := make([]string, 0, 5+len(cats))
	out = append(out, k.all(t), k.index(t, ixType, string(r.sessionType())))
	out = append(out, k.index(t, ixOwner, r.Owner))
	if r.Provider != nil {
		out = append(out, k.index(t, ixProvider, *r.Provider))
	}
	if r.Account != nil {
		out = append(out, k.index(t, ixAccount, *r.Account))
	}
	for _, c := range cats {
		out = append(out, k.index(t, ixCategory, string(c)))
	}
	return out
}
