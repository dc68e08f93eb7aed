package cache

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"connectsession/graph/model"
)

// benchRecord is a session of the benchmark's mix: every optional field set.
func benchRecord() *record {
	user, provider, cats, account, label := "user29236@customer2923.example.com", "workday", "hris,ats,crm", "acct_502923", "HR system 2923"
	return &record{ID: 29237, Created: 1795680049050, Updated: 1795680049050, Expires: 1795766449050,
		Owner: "org_102923", OwnerName: "Customer Company 2923", Username: &user, Provider: &provider,
		Cats: &cats, Account: &account, Label: &label, Meta: json.RawMessage(`{"plan":"growth","seats":86}`),
		Multiple: true, TokenHash: "ZqnkvANHlfEizOtTuLMloXRU_XbUOU0IDGCAw__wb70"}
}

func binaryCases() []*record {
	empty, unknown, label := "", "ats,newkind", "Ünïcode label ✓"
	full := benchRecord()
	full.AuthAt, full.Revoked, full.Updated, full.Test = full.Created+5, full.Created+7, full.Created+9, true
	return []*record{
		benchRecord(),
		full,
		{ID: 1, Owner: "o", OwnerName: "n", TokenHash: "h"},                                           // zero times, hash not base64
		{ID: 2, Owner: "", OwnerName: "", Cats: &empty, TokenHash: ""},                                // empty list, empty strings
		{ID: 3, Owner: "o", OwnerName: "n", Cats: &unknown, Label: &label},                            // a category without a code
		{ID: 1<<31 - 1, Created: -5, Updated: -1 << 40, Expires: 1 << 50, Owner: "o", OwnerName: "n"}, // extremes
		{ID: 4, Owner: "o", OwnerName: "n", TokenHash: "ZqnkvANHlfEizOtTuLMloXRU_XbUOU0IDGCAw__wb71"}, // non-canonical base64
	}
}

func TestBinaryRecordRoundTrip(t *testing.T) {
	for _, r := range binaryCases() {
		enc := r.encodeBinary()
		if enc[0] != recordVersion {
			t.Fatalf("%+v: first byte %#x", r, enc[0])
		}
		got, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got  %+v\n want %+v", got, r)
		}
		// The JSON form of the same record still reads as before.
		if got, err := decodeRecord(r.encodeJSON()); err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("JSON form: %+v %v", got, err)
		}
	}
	// What the form is for: the benchmark's session is ~60% of its JSON size, and under the
	// 188 bytes that Redis allocates in 192-byte blocks (a 3-byte header and a terminator).
	r := benchRecord()
	bin, js := len(r.encodeBinary()), len(r.encodeJSON())
	if bin > 188 || bin*10 > js*7 {
		t.Errorf("binary record %d bytes, JSON %d", bin, js)
	}
}

// Every category the API knows has its own stored code, and codes are not shared.
func TestCategoryCodes(t *testing.T) {
	seen := map[byte]string{}
	for _, c := range model.AllCategories {
		code, ok := catCodes[string(c)]
		if !ok || code == 0 {
			t.Errorf("category %q has no code", c)
		}
		if other, dup := seen[code]; dup {
			t.Errorf("code %d given to %q and %q", code, other, c)
		}
		seen[code] = string(c)
	}
	if len(catCodes) != len(model.AllCategories) {
		t.Errorf("%d codes for %d categories", len(catCodes), len(model.AllCategories))
	}
}

// A damaged binary record is an error, never a panic or a half-read record.
func TestBinaryRecordRefusesDamage(t *testing.T) {
	for _, r := range binaryCases() {
		enc := r.encodeBinary()
		for n := 0; n < len(enc); n++ {
			if got, err := decodeBinary(enc[:n]); err == nil {
				t.Errorf("truncated to %d of %d bytes: decoded %+v", n, len(enc), got)
			}
		}
		if _, err := decodeBinary(enc + "x"); err == nil {
			t.Errorf("trailing byte accepted")
		}
	}
	bad := []string{
		"\x01\x80\x80\x80\x01\x00",                       // a flag that does not exist
		"\x01\x20\x01\x00\x00\x00\x01o\x01n\x00\x00",     // category codes without the list flag
		"\x01\x30\x01\x00\x00\x00\x01o\x01n\x01\x63\x00", // category code 99
		"\x01\x30\x01\x00\x00\x00\x01o\x01n\x00\x00",     // a coded list of none
		"\x01\x00\x01\x00\x00\x00\x01\xff\x01n\x00",      // owner not UTF-8
		"\x01\x00\x81\x00\x00\x00\x00\x01o\x01n\x00",     // id 1 written in two bytes
	}
	for _, s := range bad {
		if got, err := decodeBinary(s); err == nil {
			t.Errorf("%q decoded to %+v", s, got)
		}
	}
	meta := benchRecord()
	meta.Meta = json.RawMessage(`[1,2]`)
	if _, err := decodeBinary(meta.encodeBinary()); err == nil {
		t.Errorf("metadata that is not an object accepted")
	}
}

// FuzzDecodeBinaryRecord: whatever bytes decode, decode to a record that encodes and
// decodes back to itself.
func FuzzDecodeBinaryRecord(f *testing.F) {
	for _, r := range binaryCases() {
		f.Add(r.encodeBinary())
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := decodeBinary(s)
		if err != nil {
			return
		}
		again, err := decodeBinary(r.encodeBinary())
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%q decoded to %+v, which round-trips to %+v (%v)", s, r, again, err)
		}
	})
}

// With JSONRecords the store writes the JSON form; both stores read both forms, and an
// update by either rewrites the record in its own form.
func TestJSONRecordsOption(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		old := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, JSONRecords: true})
		in := createIn(demo, "mixed")
		in.Label = ptr("first")
		in.Categories = []model.Category{model.CategoryHRIS, model.CategoryATS}
		created, tok, err := old.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		raw := func() string { return b.rdb.Get(ctx, b.store.k.record(demo, created.ID)).Val() }
		if !strings.HasPrefix(raw(), `{"i":`) {
			t.Fatalf("JSON store wrote %q", raw())
		}
		got, err := b.store.Get(ctx, demo, created.ID)
		if err != nil || *got.Label != "first" || len(got.Categories) != 2 || got.Categories[0] != model.CategoryHRIS {
			t.Fatalf("binary store reads the JSON record: %+v %v", got, err)
		}
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID,
			ProjectID: demo.ProjectID, ID: created.ID, Label: model.Set(ptr("second"))}); err != nil {
			t.Fatal(err)
		}
		if raw()[0] != recordVersion {
			t.Fatalf("binary store's update left %q", raw())
		}
		got, err = old.Get(ctx, demo, created.ID)
		if err != nil || *got.Label != "second" || got.Categories[1] != model.CategoryATS {
			t.Fatalf("JSON store reads the binary record: %+v %v", got, err)
		}
		if s, err := old.Authenticate(ctx, tok); err != nil || s.ID != created.ID {
			t.Fatalf("authenticate through the JSON store: %+v %v", s, err)
		}
		if raw()[0] != '{' {
			t.Fatalf("JSON store's write left %q", raw())
		}
	})
}
