package cache

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// The binary record format, the one the store writes (unless it is told to keep writing
// JSON, see Options.JSONRecords). It holds what the JSON form holds, in about 60% of the
// bytes: a session of the benchmark's mix takes ~190 bytes instead of ~310, which moves
// its Redis string from a 320-byte allocation to a 192- or 224-byte one.
//
//	0x01                       format version (a JSON record starts with '{')
//	uvarint flags              recXxx bits below
//	uvarint id
//	varint created             Unix ms
//	varint updated - created
//	varint expires - created
//	varint authAt - created    if recAuthAt
//	varint revoked - created   if recRevoked
//	str owner, str ownerName
//	str username, str provider if recUsername, recProvider
//	categories                 if recCats: with recCatCodes, uvarint n and n one-byte codes
//	                           (catCodes); without, str of the comma-joined wire values
//	str account, str label     if recAccount, recLabel
//	str metadata               if recMeta: the JSON object as given
//	hash                       with recRawHash the 32 bytes the base64url TokenHash
//	                           decodes to; without, str TokenHash
//
// str is a uvarint length and that many bytes. Varints are encoding/binary's. decodeRecord
// tells the two forms apart by the first byte and reads both, so records written before
// the binary form need no migration.
const recordVersion = 0x01

const (
	recTest = 1 << iota
	recMultiple
	recUsername
	recProvider
	recCats
	recCatCodes
	recAccount
	recLabel
	recMeta
	recAuthAt
	recRevoked
	recRawHash
	recAllFlags = 1<<iota - 1
)

// catCodes gives each category's wire value a one-byte code. Codes are stored: never
// change or reuse one; a new category takes the next free code (until it has one, it is
// stored by name, which also works).
var catCodes = map[string]byte{
	"ats": 1, "hris": 2, "hris-legacy": 3, "crm": 4, "iam": 5, "marketing": 6, "lms": 7,
	"stackone": 8, "documents": 9, "ticketing": 10, "screening": 11, "messaging": 12,
	"accounting": 13, "scheduling": 14,
}

var catNames = func() []string {
	names := make([]string, 256)
	for name, code := range catCodes {
		names[code] = name
	}
	return names
}()

// encodeBinary returns the record in the binary form.
func (r *record) encodeBinary() string {
	var flags uint64
	set := func(bit uint64, on bool) {
		if on {
			flags |= bit
		}
	}
	set(recTest, r.Test)
	set(recMultiple, r.Multiple)
	set(recUsername, r.Username != nil)
	set(recProvider, r.Provider != nil)
	set(recAccount, r.Account != nil)
	set(recLabel, r.Label != nil)
	set(recMeta, r.Meta != nil)
	set(recAuthAt, r.AuthAt != 0)
	set(recRevoked, r.Revoked != 0)
	var codes []byte
	if r.Cats != nil {
		flags |= recCats
		if codes = categoryCodes(*r.Cats); codes != nil {
			flags |= recCatCodes
		}
	}
	rawHash, err := base64.RawURLEncoding.DecodeString(r.TokenHash)
	if err == nil && len(rawHash) == 32 && base64.RawURLEncoding.EncodeToString(rawHash) == r.TokenHash {
		flags |= recRawHash
	} else {
		rawHash = nil
	}

	b := make([]byte, 0, 96+len(r.Owner)+len(r.OwnerName)+len(r.Meta)+optLen(r.Username)+
		optLen(r.Provider)+optLen(r.Cats)+optLen(r.Account)+optLen(r.Label))
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendUvarint(b, uint64(r.ID))
	b = binary.AppendVarint(b, r.Created)
	b = binary.AppendVarint(b, r.Updated-r.Created)
	b = binary.AppendVarint(b, r.Expires-r.Created)
	if r.AuthAt != 0 {
		b = binary.AppendVarint(b, r.AuthAt-r.Created)
	}
	if r.Revoked != 0 {
		b = binary.AppendVarint(b, r.Revoked-r.Created)
	}
	b = appendStr(b, r.Owner)
	b = appendStr(b, r.OwnerName)
	b = appendOpt(b, r.Username)
	b = appendOpt(b, r.Provider)
	if r.Cats != nil {
		if codes != nil {
			b = binary.AppendUvarint(b, uint64(len(codes)))
			b = append(b, codes...)
		} else {
			b = appendStr(b, *r.Cats)
		}
	}
	b = appendOpt(b, r.Account)
	b = appendOpt(b, r.Label)
	if r.Meta != nil {
		b = appendStr(b, string(r.Meta))
	}
	if rawHash != nil {
		b = append(b, rawHash...)
	} else {
		b = appendStr(b, r.TokenHash)
	}
	return string(b)
}

// categoryCodes returns the codes of a comma-joined category list, or nil when one of
// them has no code (or the list is empty, which the string form holds as well).
func categoryCodes(joined string) []byte {
	if joined == "" {
		return nil
	}
	codes := make([]byte, 0, 4)
	for rest := joined; ; {
		name, tail, more := strings.Cut(rest, ",")
		c, ok := catCodes[name]
		if !ok {
			return nil
		}
		codes = append(codes, c)
		if !more {
			return codes
		}
		rest = tail
	}
}

func optLen(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s) + 2
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendOpt(b []byte, s *string) []byte {
	if s == nil {
		return b
	}
	return appendStr(b, *s)
}

var errBadRecord = errors.New("cache: decode record: malformed binary record")

// binReader reads the binary form; the first failure sticks in err.
type binReader struct {
	s   string
	i   int
	err error
}

func (d *binReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	for shift := 0; shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			break
		}
		c := d.s[d.i]
		d.i++
		if shift == 63 && c > 1 {
			break
		}
		if c < 0x80 {
			if c == 0 && shift > 0 {
				break // not the shortest form: the encoder never writes it
			}
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
	}
	d.err = errBadRecord
	return 0
}

func (d *binReader) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *binReader) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)-d.i) {
		d.err = errBadRecord
		return ""
	}
	v := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	if !utf8.ValidString(v) {
		d.err = errBadRecord
	}
	return v
}

func (d *binReader) opt(flags, bit uint64) *string {
	if flags&bit == 0 {
		return nil
	}
	v := d.str()
	return &v
}

// decodeBinary reads a record in the binary form. It refuses anything encodeBinary
// would not write: unknown flags, truncation, trailing bytes, invalid UTF-8, unknown
// category codes, metadata that is not a JSON object.
func decodeBinary(s string) (*record, error) {
	if len(s) == 0 || s[0] != recordVersion {
		return nil, errBadRecord
	}
	d := &binReader{s: s, i: 1}
	flags := d.uvarint()
	if flags&^recAllFlags != 0 || (flags&recCatCodes != 0 && flags&recCats == 0) {
		return nil, errBadRecord
	}
	id := d.uvarint()
	if id > 1<<62 {
		d.err = errBadRecord
	}
	r := &record{ID: int(id), Test: flags&recTest != 0, Multiple: flags&recMultiple != 0}
	r.Created = d.varint()
	r.Updated = r.Created + d.varint()
	r.Expires = r.Created + d.varint()
	if flags&recAuthAt != 0 {
		if r.AuthAt = r.Created + d.varint(); r.AuthAt == 0 {
			d.err = errBadRecord
		}
	}
	if flags&recRevoked != 0 {
		if r.Revoked = r.Created + d.varint(); r.Revoked == 0 {
			d.err = errBadRecord
		}
	}
	r.Owner = d.str()
	r.OwnerName = d.str()
	r.Username = d.opt(flags, recUsername)
	r.Provider = d.opt(flags, recProvider)
	if flags&recCats != 0 {
		if flags&recCatCodes != 0 {
			r.Cats = d.categories()
		} else {
			r.Cats = d.opt(flags, recCats)
		}
	}
	r.Account = d.opt(flags, recAccount)
	r.Label = d.opt(flags, recLabel)
	if meta := d.opt(flags, recMeta); meta != nil {
		if !strings.HasPrefix(*meta, "{") || !json.Valid([]byte(*meta)) {
			d.err = errBadRecord
		}
		r.Meta = json.RawMessage(*meta)
	}
	if flags&recRawHash != 0 {
		if len(s)-d.i < 32 {
			d.err = errBadRecord
		} else if d.err == nil {
			r.TokenHash = base64.RawURLEncoding.EncodeToString([]byte(s[d.i : d.i+32]))
			d.i += 32
		}
	} else {
		r.TokenHash = d.str()
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.i != len(s) {
		return nil, errBadRecord
	}
	return r, nil
}

func (d *binReader) categories() *string {
	n := d.uvarint()
	if d.err != nil || n == 0 || n > uint64(len(d.s)-d.i) {
		d.err = errBadRecord
		return nil
	}
	var sb strings.Builder
	for k := range int(n) {
		name := catNames[d.s[d.i+k]]
		if name == "" {
			d.err = errBadRecord
			return nil
		}
		if k > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(name)
	}
	d.i += int(n)
	v := sb.String()
	return &v
}
