package model

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits the API promises its callers on inputs (lengths, expiresIn, page sizes) and the
// defaults it applies when an argument is left out.
const (
	MaxProjectIDLen  = 128
	MaxTextLen       = 255
	MinExpiresIn     = 60
	MaxExpiresIn     = 30 * 24 * 60 * 60
	DefaultExpiresIn = 1800
	DefaultPageSize  = 20
	MaxPageSize      = 100
)

var providerPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ValidateTenant checks an organization id and a project id; field names are the
// argument paths to report, such as "organizationId" or "input.organizationId".
func ValidateTenant(orgField string, org int, projectField, project string) error {
	if org <= 0 {
		return Invalid(orgField, "must be a positive integer")
	}
	if n := utf8.RuneCountInString(project); n < 1 || n > MaxProjectIDLen {
		return Invalid(projectField, "must be 1 to 128 characters")
	}
	return nil
}

// ValidateID checks a session id argument.
func ValidateID(field string, id int) error {
	if id <= 0 || id > 1<<31-1 {
		return Invalid(field, "must be a positive 32-bit integer")
	}
	return nil
}

func validateRequiredText(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return Invalid(field, "must not be empty")
	}
	return validateText(field, &s)
}

func validateText(field string, s *string) error {
	if s != nil && utf8.RuneCountInString(*s) > MaxTextLen {
		return Invalid(field, "must be at most 255 characters")
	}
	return nil
}

func validateProvider(field string, p *string) error {
	if p != nil && !providerPattern.MatchString(*p) {
		return Invalid(field, "must match ^[a-z0-9][a-z0-9_.-]{0,63}$ (a provider key such as hibob)")
	}
	return nil
}

func validateCategories(field string, cs []Category) error {
	seen := make(map[Category]bool, len(cs))
	for _, c := range cs {
		if !c.Valid() {
			return Invalid(field, "holds an unknown category")
		}
		if seen[c] {
			return Invalid(field, "must not repeat a category")
		}
		seen[c] = true
	}
	return nil
}

func validateMetadata(field string, m JSON) error {
	if m == nil {
		return nil
	}
	if len(m) > MaxMetadataBytes {
		return Invalid(field, "must be at most 8 KiB when serialized")
	}
	if !isJSONObject(m) {
		return Invalid(field, "must be a JSON object")
	}
	return nil
}

// isJSONObject reports whether b is exactly one JSON object (surrounding whitespace
// allowed), without decoding it (FuzzIsJSONObject compares it with a full decode).
func isJSONObject(b []byte) bool {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(b)
}

func validateExpiresIn(field string, s *int) error {
	if s != nil && (*s < MinExpiresIn || *s > MaxExpiresIn) {
		return Invalid(field, "must be between 60 and 2592000 seconds")
	}
	return nil
}

// Validate checks every rule of a create input and returns the first broken one as an
// *InputError naming its field (for example "input.provider").
func (in *CreateConnectSessionInput) Validate() error {
	checks := []func() error{
		func() error {
			return ValidateTenant("input.organizationId", in.OrganizationID, "input.projectId", in.ProjectID)
		},
		func() error { return validateRequiredText("input.originOwnerId", in.OriginOwnerID) },
		func() error { return validateRequiredText("input.originOwnerName", in.OriginOwnerName) },
		func() error { return validateText("input.originUsername", in.OriginUsername) },
		func() error { return validateProvider("input.provider", in.Provider) },
		func() error { return validateCategories("input.categories", in.Categories) },
		func() error { return validateText("input.accountId", in.AccountID) },
		func() error { return validateText("input.label", in.Label) },
		func() error { return validateMetadata("input.metadata", in.Metadata) },
		func() error {
			if in.Type != nil && !in.Type.Valid() {
				return Invalid("input.type", "is not a known type")
			}
			return nil
		},
		func() error { return validateExpiresIn("input.expiresIn", in.ExpiresIn) },
	}
	return firstError(checks)
}

// Validate checks every rule of an update: the same rules as a create for the fields
// given, and originOwnerName and expiresIn may not be null.
func (in *SessionUpdate) Validate() error {
	checks := []func() error{
		func() error {
			return ValidateTenant("input.organizationId", in.OrganizationID, "input.projectId", in.ProjectID)
		},
		func() error { return ValidateID("input.id", in.ID) },
		func() error {
			v, ok := in.OriginOwnerName.ValueOK()
			if !ok {
				return nil
			}
			if v == nil {
				return Invalid("input.originOwnerName", "cannot be cleared")
			}
			return validateRequiredText("input.originOwnerName", *v)
		},
		func() error { return validateText("input.originUsername", in.OriginUsername.Value()) },
		func() error { return validateProvider("input.provider", in.Provider.Value()) },
		func() error { return validateCategories("input.categories", in.Categories.Value()) },
		func() error { return validateText("input.accountId", in.AccountID.Value()) },
		func() error { return validateText("input.label", in.Label.Value()) },
		func() error { return validateMetadata("input.metadata", in.Metadata.Value()) },
		func() error {
			if v, ok := in.ExpiresIn.ValueOK(); ok && v == nil {
				return Invalid("input.expiresIn", "cannot be null; leave it out to keep the expiry")
			}
			return validateExpiresIn("input.expiresIn", in.ExpiresIn.Value())
		},
	}
	return firstError(checks)
}

func firstError(checks []func() error) error {
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// PageArgs are a list's pagination arguments.
type PageArgs struct {
	First, Last   *int
	After, Before *string
}

// Size validates the arguments and returns how many items the page holds and whether it
// is taken from the end of the window (last) rather than its start (first).
func (a PageArgs) Size() (n int, fromEnd bool, err error) {
	switch {
	case a.First != nil && a.Last != nil:
		return 0, false, Invalid("first", "cannot be combined with last")
	case a.First != nil:
		n = *a.First
		if n < 0 || n > MaxPageSize {
			return 0, false, Invalid("first", "must be between 0 and 100")
		}
		return n, false, nil
	case a.Last != nil:
		n = *a.Last
		if n < 0 || n > MaxPageSize {
			return 0, false, Invalid("last", "must be between 0 and 100")
		}
		return n, true, nil
	default:
		return DefaultPageSize, false, nil
	}
}

// ValidateFilter checks a list filter's values.
func ValidateFilter(f *ConnectSessionFilter) error {
	if f == nil {
		return nil
	}
	if err := validateProvider("filter.provider", f.Provider); err != nil {
		return err
	}
	if err := validateText("filter.originOwnerId", f.OriginOwnerID); err != nil {
		return err
	}
	if err := validateText("filter.accountId", f.AccountID); err != nil {
		return err
	}
	if f.Category != nil && !f.Category.Valid() {
		return Invalid("filter.category", "is not a known category")
	}
	if f.Type != nil && !f.Type.Valid() {
		return Invalid("filter.type", "is not a known type")
	}
	return nil
}

// EqualityFields counts the filter's fields that each select one index (provider, owner,
// account, category, type); a page filtered by two or more walks one index and checks
// the others.
func (f *ConnectSessionFilter) EqualityFields() int {
	if f == nil {
		return 0
	}
	n := 0
	for _, set := range []bool{f.Provider != nil, f.OriginOwnerID != nil, f.AccountID != nil, f.Category != nil, f.Type != nil} {
		if set {
			n++
		}
	}
	return n
}
