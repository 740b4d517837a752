package dynamo

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestUpgradeRecord(t *testing.T) {
	legacy := func(change func(map[string]types.AttributeValue)) map[string]types.AttributeValue {
		it := map[string]types.AttributeValue{attrPK: str("C#acme#r1"), attrSK: str(recordSK), "kind": str("controller_record"),
			"controller_id": str("acme"), "record_id": str("r1"), "email": str("ann@example.com"), "attributes": str(`{}`),
			"subject_key": str("acme#k256"), "lookup_md5": str("acme#k5"), "lookup_sha1": str("acme#k1"),
			"updated_at": str("2026-12-01T00:00:00.000000000Z"), "created_at": str("2026-12-01T00:00:00.000000000Z")}
		if change != nil {
			change(it)
		}
		return it
	}
	tests := []struct {
		name string
		it   map[string]types.AttributeValue
		ok   bool
	}{
		{"a record of before #35", legacy(nil), true},
		{"a key of another controller", legacy(func(it map[string]types.AttributeValue) { it["lookup_md5"] = str("other#k5") }), false},
		{"a key missing", legacy(func(it map[string]types.AttributeValue) { delete(it, "lookup_sha1") }), false},
		{"a record under another controller's key", legacy(func(it map[string]types.AttributeValue) { it[attrPK] = str("C#other#r1") }), false},
	}
	for _, tc := range tests {
		tx, ok := upgradeRecord("Records", tc.it)
		if ok != tc.ok {
			t.Errorf("%s: ok %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		rec := tx[0].Put.Item
		for _, gone := range []string{"email", "subject_key", "lookup_md5", "lookup_sha1"} {
			if _, ok := rec[gone]; ok {
				t.Errorf("%s: the record keeps %s", tc.name, gone)
			}
		}
		keys := rec["keys"].(*types.AttributeValueMemberSS).Value
		if !slices.Equal(keys, []string{"k5", "k1", "k256"}) || s1(rec, "identities") != `[{"identity_type":"email","identity_format":"raw"}]` {
			t.Errorf("%s: keys %v, identities %s", tc.name, keys, s1(rec, "identities"))
		}
		var lookups []string
		for _, w := range tx[1:] {
			lookups = append(lookups, s1(w.Put.Item, attrPK)+" "+s1(w.Put.Item, attrSK))
		}
		if !slices.Equal(lookups, []string{"K#acme#k5 C#acme#r1", "K#acme#k1 C#acme#r1", "K#acme#k256 C#acme#r1"}) {
			t.Errorf("%s: lookups %v", tc.name, lookups)
		}
	}
}
