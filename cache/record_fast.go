package cache

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"connectsession/internal/jsonscan"
)

// decodeRecordFast parses a record as encodeJSON writes it, without reflection: one flat
// JSON object with the record's own keys, integers, true/false, strings without escapes,
// and the metadata object. Anything else (an escape sequence, whitespace between tokens,
// null, an unknown or differently cased key, invalid UTF-8) makes it return false, and
// decodeRecord falls back to encoding/json, so the two accept and produce the same
// (FuzzDecodeRecord checks it). Records in the binary form never come here; it serves
// events, and records written in the JSON form (Options.JSONRecords, or before the
// binary form existed).
func decodeRecordFast(s string) (*record, bool) {
	if len(s) < 2 || s[0] != '{' {
		return nil, false
	}
	r := &record{}
	i := 1
	if s[i] == '}' {
		return r, len(s) == 2
	}
	for {
		key, j, ok := fastString(s, i)
		if !ok || j >= len(s) || s[j] != ':' {
			return nil, false
		}
		i = j + 1
		switch key {
		case "i", "c", "u", "e", "aa", "r":
			n, j, ok := fastInt(s, i)
			if !ok {
				return nil, false
			}
			switch key {
			case "i":
				r.ID = int(n)
			case "c":
				r.Created = n
			case "u":
				r.Updated = n
			case "e":
				r.Expires = n
			case "aa":
				r.AuthAt = n
			case "r":
				r.Revoked = n
			}
			i = j
		case "o", "on", "h":
			v, j, ok := fastString(s, i)
			if !ok {
				return nil, false
			}
			switch key {
			case "o":
				r.Owner = v
			case "on":
				r.OwnerName = v
			case "h":
				r.TokenHash = v
			}
			i = j
		case "un", "p", "ca", "a", "l":
			v, j, ok := fastString(s, i)
			if !ok {
				return nil, false
			}
			switch key {
			case "un":
				r.Username = &v
			case "p":
				r.Provider = &v
			case "ca":
				r.Cats = &v
			case "a":
				r.Account = &v
			case "l":
				r.Label = &v
			}
			i = j
		case "t", "mu":
			var v bool
			switch {
			case strings.HasPrefix(s[i:], "true"):
				v, i = true, i+4
			case strings.HasPrefix(s[i:], "false"):
				i += 5
			default:
				return nil, false
			}
			if key == "t" {
				r.Test = v
			} else {
				r.Multiple = v
			}
		case "m":
			j, ok := jsonscan.CompositeEnd(s, i)
			if !ok || s[i] != '{' || !json.Valid([]byte(s[i:j])) {
				return nil, false
			}
			r.Meta = json.RawMessage(s[i:j])
			i = j
		default:
			return nil, false
		}
		if i >= len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i++
		case '}':
			return r, i+1 == len(s)
		default:
			return nil, false
		}
	}
}

// fastString reads a JSON string at s[i] that needs no unescaping; it returns the
// value and the index after its closing quote.
func fastString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			v := s[i+1 : j]
			return v, j + 1, utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

// fastInt reads a JSON integer at s[i] that fits an int64 comfortably (at most 18
// digits); it returns it and the index after it.
func fastInt(s string, i int) (int64, int, bool) {
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	var n int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int64(s[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || (digits > 1 && s[start] == '0') {
		return 0, 0, false
	}
	if i < len(s) && (s[i] == '.' || s[i] == 'e' || s[i] == 'E') {
		return 0, 0, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}
