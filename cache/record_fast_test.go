package cache

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeRecord checks that the fast record decoder accepts only what encoding/json
// accepts, and decodes it to the same record.
func FuzzDecodeRecord(f *testing.F) {
	label, user, provider, cats, account := "Main HR", "ada@example.com", "hibob", "hris,ats", "acc-1"
	full := &record{ID: 12, Created: 1772366400000, Updated: 1772366400001, Expires: 1772367000000,
		AuthAt: 1772366400002, Revoked: 1772366400003, Owner: "acme", OwnerName: "Owner Ácme",
		Username: &user, Provider: &provider, Cats: &cats, Account: &account, Label: &label,
		Meta: json.RawMessage(`{"plan":"gold","n":[1,{"x":"}\"]"}],"e":{}}`), Test: true, Multiple: true,
		TokenHash: "chC9IdfKtmbS9LUw8G2xBdjFHXv678qePR37IVCSd6Q"}
	empty := ""
	for _, seed := range []string{
		full.encodeJSON(),
		(&record{ID: 1, Owner: "o", OwnerName: "n", TokenHash: "h", Cats: &empty}).encodeJSON(),
		(&record{ID: 2, Owner: `a "quoted" & <tagged>`, OwnerName: "tab\there"}).encodeJSON(),
		`{}`, `{"i":1}`, `{"i":01}`, `{"i":1.0}`, `{"i":-3,"c":-1}`, `{"I":1}`, `{"p":null}`, `{ "i":1}`,
		`{"i":1,}`, `{"m":[1]}`, `{"m":{"a":1}`, `{"m":{"a":}}`, `{"t":true,"mu":false}`, `{"t":tru}`,
		`{"o":"\u00e9"}`, "{\"o\":\"\xff\"}", `{"i":1}x`, `{"i":99999999999999999999}`,
		`{"o":"a","o":"b"}`, `{"m":{"a":"}"},"i":2}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := decodeRecordFast(s)
		var want record
		err := json.Unmarshal([]byte(s), &want)
		if !ok {
			return // decodeRecord falls back to encoding/json
		}
		if err != nil {
			t.Fatalf("fast decoder accepted %q, encoding/json refuses it: %v", s, err)
		}
		if !reflect.DeepEqual(*fast, want) {
			t.Fatalf("%q:\n fast %+v\n json %+v", s, *fast, want)
		}
	})
}

// The records the store writes take the fast path.
func TestRecordsDecodeFast(t *testing.T) {
	label := "Main HR"
	for _, r := range []*record{
		{ID: 7, Created: 1, Updated: 2, Expires: 3, Owner: "acme", OwnerName: "Acme Inc.", Label: &label,
			Meta: json.RawMessage(`{"plan":"gold"}`), TokenHash: "abc"},
		{ID: 8, Owner: "x", OwnerName: "y", TokenHash: "z", Test: true},
	} {
		enc := r.encodeJSON()
		got, ok := decodeRecordFast(enc)
		if !ok || !reflect.DeepEqual(got, r) {
			t.Errorf("%s: fast %v %+v", enc, ok, got)
		}
	}
	if _, ok := decodeRecordFast(`{"o":"` + strings.Repeat("a", 10) + `\n"}`); ok {
		t.Errorf("escaped string took the fast path")
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	user, provider, cats, account, label := "user1@customer.example.com", "hibob", "hris,ats,crm", "acct_500001", "HR system 1"
	enc := (&record{ID: 84487, Created: 1795668077683, Updated: 1795668077683, Expires: 1795754477683,
		Owner: "org_108448", OwnerName: "Customer Company 8448", Username: &user, Provider: &provider,
		Cats: &cats, Account: &account, Label: &label, Meta: json.RawMessage(`{"plan":"growth","seats":76}`),
		TokenHash: "c0cODkNM9poRvZUUqm14W2hkhMz3BaSK36t09EdqrVs"}).encodeJSON()
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeRecordFast(enc); !ok {
				b.Fatal("not fast")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r record
			if err := json.Unmarshal([]byte(enc), &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
