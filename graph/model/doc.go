// Package model holds the service's domain types: the connect session, its enums and
// scalars, the inputs and pages gqlgen generates from the schema (models_gen.go), the
// update the store applies (update.go, free of gqlgen's Omittable), the validation rules
// of those inputs, and the sentinel and typed errors every layer returns.
package model
