package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzCreateInputValidate(f *testing.F) {
	f.Add(1, "demo", "acme", "Acme", "hibob", "label", `{"plan":"gold"}`, 1800)
	f.Add(0, "", " ", "", "Bad", strings.Repeat("x", 300), `[1]`, 59)
	f.Add(-5, strings.Repeat("p", 129), "o", "n", "a.b-c_d", "", `{}`, 2592001)
	f.Fuzz(func(t *testing.T, org int, project, owner, name, provider, label, meta string, expires int) {
		in := CreateConnectSessionInput{
			OrganizationID: org, ProjectID: project, OriginOwnerID: owner, OriginOwnerName: name,
			Provider: &provider, Label: &label, Metadata: JSON(meta), ExpiresIn: &expires,
		}
		err := in.Validate()
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.HasPrefix(ie.Field, "input.") {
				t.Fatalf("error %v is not an input error naming an input field", err)
			}
			return
		}
		// Accepted: then every rule holds.
		switch {
		case org <= 0, utf8.RuneCountInString(project) < 1, utf8.RuneCountInString(project) > 128:
			t.Fatalf("accepted tenant %d %q", org, project)
		case strings.TrimSpace(owner) == "", strings.TrimSpace(name) == "":
			t.Fatalf("accepted blank owner %q / name %q", owner, name)
		case !providerPattern.MatchString(provider):
			t.Fatalf("accepted provider %q", provider)
		case utf8.RuneCountInString(label) > 255:
			t.Fatalf("accepted a label of %d characters", utf8.RuneCountInString(label))
		case expires < MinExpiresIn || expires > MaxExpiresIn:
			t.Fatalf("accepted expiresIn %d", expires)
		case len(meta) > MaxMetadataBytes:
			t.Fatalf("accepted %d bytes of metadata", len(meta))
		}
		var obj map[string]any
		if json.Unmarshal([]byte(meta), &obj) != nil || obj == nil {
			t.Fatalf("accepted metadata %q that is not an object", meta)
		}
	})
}

func FuzzJSONScalar(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2]`, `"x"`, `null`, `{"a":{"b":[1,{"c":null}]}}`, `1e400`, `{"n":12345678901234567890}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber() // as gqlgen decodes variables
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		var j JSON
		err := j.UnmarshalGQL(v)
		_, isObject := v.(map[string]any)
		if isObject != (err == nil) {
			t.Fatalf("UnmarshalGQL(%s): err %v, object %v", raw, err, isObject)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not an input error", err)
			}
			return
		}
		if !isJSONObject(j) {
			t.Fatalf("kept %s, which is not an object", j)
		}
		var sb strings.Builder
		j.MarshalGQL(&sb)
		if sb.String() != string(j) {
			t.Fatalf("marshal changed %s into %s", j, sb.String())
		}
	})
}

// decodesAsObject is the metadata check as it was: a full decode of one JSON object.
func decodesAsObject(b []byte) bool {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if dec.Decode(&obj) != nil || obj == nil || dec.More() {
		return false
	}
	var buf bytes.Buffer
	return json.Compact(&buf, b) == nil // refuses what More lets through, such as "{}}"
}

// isJSONObject, the metadata check, accepts exactly what a full decode accepts.
func FuzzIsJSONObject(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a":1} `, `{"a":[1,{"b":null}]}`, `[]`, `null`, `{"a":1}{}`, `{"a":}`, "{\"a\":\"\xff\"}", `{"a":1,"a":2}`, ``, ` `, `"x"`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := isJSONObject(b), decodesAsObject(b); got != want {
			t.Fatalf("%q: isJSONObject %v, full decode %v", b, got, want)
		}
	})
}
