// Package jsonscan delimits JSON values without decoding them, for the hand-written
// decoders on hot paths (stored records, request bodies); each validates what it delimits.
package jsonscan

// CompositeEnd returns the index just after the object or array starting at s[i],
// matching braces and brackets outside strings (escapes inside strings skipped). It
// does not validate; ok is false when s[i] opens nothing or the value is not closed.
func CompositeEnd[T ~string | ~[]byte](s T, i int) (int, bool) {
	if i >= len(s) || (s[i] != '{' && s[i] != '[') {
		return 0, false
	}
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"':
			for j++; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return 0, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}
