package dynamo

import (
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// What a move writes of each kind of item: the new key, subject, address
// and list key where the item has them; no email due, no old digest keys.
func TestMovedCopy(t *testing.T) {
	const to, email = privacy.SubjectID("new"), "new@example.com"
	for _, c := range []struct {
		name string
		item map[string]types.AttributeValue
		want map[string]string // attribute → value ("" absent)
	}{
		{"a subscription on the list",
			map[string]types.AttributeValue{attrPK: str("S#old"), attrSK: str("SUB"), "subject": str("old"), "email": str("old@example.com"),
				"list_pk": str("LIST"), "list_sk": str("old"), AttrMailDue: str("confirmed:s1"), "email_sha256": str("d")},
			map[string]string{attrPK: "S#new", attrSK: "SUB", "subject": "new", "email": email, "list_pk": "LIST", "list_sk": "new",
				AttrMailDue: "", "email_sha256": ""}},
		{"an item listed by its key",
			map[string]types.AttributeValue{attrPK: str("S#old"), attrSK: str("INQ#1"), "list_sk": str("S#old"), "email_md5": str("d")},
			map[string]string{attrPK: "S#new", "list_sk": "S#new", "subject": "", "email": "", "email_md5": ""}},
		{"a ledger entry: no address, no subject to rewrite",
			map[string]types.AttributeValue{attrPK: str("S#old"), attrSK: str("2026#1"), "event": str("unsubscribed")},
			map[string]string{attrPK: "S#new", attrSK: "2026#1", "event": "unsubscribed", "email": "", "subject": ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := s1(c.item, attrPK)
			got := movedCopy(c.item, to, email)
			for a, want := range c.want {
				if v := s1(got, a); v != want {
					t.Errorf("%s = %q, want %q", a, v, want)
				}
				if _, ok := got[a]; want == "" && ok {
					t.Errorf("%s is kept", a)
				}
			}
			if s1(c.item, attrPK) != before {
				t.Error("the item read was changed")
			}
		})
	}
}

// What a move writes of a ledger entry under the new key: a new entry on
// the move's day, naming the old entry's key, with its own hash, whatever
// the old one held (a detail, or none after an erasure redacted it).
func TestMovedLedgerCopy(t *testing.T) {
	const to, day = privacy.SubjectID("new"), "2026-12-07"
	redacted := sealEntry(map[string]types.AttributeValue{attrPK: str("S#old"), attrSK: str("2026-12-01T10:00:00Z#unsubscribed#u1"),
		"at": str("2026-12-01T10:00:00Z"), "event": str("unsubscribed"), "subject": str("old"),
		ledger.AttrDetail: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"list": str("news")}}})
	delete(redacted, ledger.AttrDetail)
	delete(redacted, ledger.AttrSalt)
	redacted[ledger.AttrRedactedBy] = str("req-erase")
	for _, c := range []struct {
		name       string
		item       map[string]types.AttributeValue
		wantDetail map[string]string
	}{
		{"an entry with a detail",
			sealEntry(map[string]types.AttributeValue{attrPK: str("S#old"), attrSK: str("2026-12-01T10:00:00Z#subscribed#s1"),
				"at": str("2026-12-01T10:00:00Z"), "event": str("subscribed"), "subject": str("old"),
				ledger.AttrDetail: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"list": str("news")}}}),
			map[string]string{"list": "S:news", "moved_from": "S:2026-12-01T10:00:00Z#subscribed#s1"}},
		{"an entry an erasure redacted", redacted,
			map[string]string{"moved_from": "S:2026-12-01T10:00:00Z#unsubscribed#u1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			oldHash := s1(c.item, ledger.AttrHash)
			got := ledgerEntry(movedLedgerCopy(c.item, to, day))
			if got.PK != "S#new" || got.SK != s1(c.item, attrSK) || got.Day != day || got.Attrs["subject"] != "S:new" {
				t.Errorf("copy %s %s day %s subject %s", got.PK, got.SK, got.Day, got.Attrs["subject"])
			}
			if !maps.Equal(got.Detail, c.wantDetail) {
				t.Errorf("detail %v, want %v", got.Detail, c.wantDetail)
			}
			if why := ledger.Check(got); why != "" || got.Hash == oldHash || got.RedactedBy != "" {
				t.Errorf("copy's seal: %q, hash new %v, redacted by %q", why, got.Hash != oldHash, got.RedactedBy)
			}
			if _, ok := c.item[ledger.AttrDetail].(*types.AttributeValueMemberM); ok && len(detailOf(c.item)) != 1 {
				t.Error("the old entry's detail was changed")
			}
		})
	}
}
