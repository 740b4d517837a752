package dynamo

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
