package cache

import (
	"encoding/base64"
	"strconv"
	"strings"

	"connectsession/graph/model"
)

// position is a place in a tenant's creation order: (createdAt in ms, id). A cursor
// encodes a position, not an offset, so it stays valid after its session is deleted.
type position struct {
	ms int64
	id int
}

const cursorVersion = "v1"

func encodeCursor(p position) string {
	raw := cursorVersion + ":" + strconv.FormatInt(p.ms, 10) + ":" + strconv.Itoa(p.id)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeCursor parses a cursor; anything that encodeCursor could not have produced is an
// *model.InputError for field.
func decodeCursor(field, c string) (position, error) {
	bad := model.Invalid(field, "is not a valid cursor")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) > 64 {
		return position{}, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return position{}, bad
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ms < 0 || ms > maxMillis {
		return position{}, bad
	}
	id, err := strconv.ParseInt(parts[2], 10, 32)
	if err != nil || id <= 0 {
		return position{}, bad
	}
	p := position{ms: ms, id: int(id)}
	if encodeCursor(p) != c {
		return position{}, bad
	}
	return p, nil
}

// maxMillis keeps scores exactly representable as Redis doubles (below 2^53).
const maxMillis = 1<<53 - 1
