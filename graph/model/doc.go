// Package model is the service's domain: the connect session and its tenant, its enums
// and the JSON scalar, the inputs, filters and pages the store takes and returns, the
// update it applies (update.go), the validation rules of those inputs, and the sentinel
// and typed errors every layer returns. It imports nothing of gqlgen: graph/ generates
// the GraphQL plumbing around it and graph/scalars reads and writes its other scalars.
package model
