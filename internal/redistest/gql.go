package redistest

// GQLError is one entry of a GraphQL response's errors, as the service writes it: the
// extensions carry the machine-readable code and, for input errors, the field.
type GQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is extensions.code, or "" when absent.
func (e GQLError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Field is extensions.field, or "" when absent.
func (e GQLError) Field() string { s, _ := e.Extensions["field"].(string); return s }
