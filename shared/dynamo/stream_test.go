package dynamo_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// DecodeChange reads a stream record's key and images as the change the
// mailer and the callbacks act on.
func TestDecodeChange(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	keys := map[string]types.AttributeValue{"pk": s("R#1"), "sk": s("REQ")}
	tests := []struct {
		name          string
		removed       bool
		old, new      map[string]types.AttributeValue
		wantStatus    string
		wantOldStatus string
		wantReplayed  bool
		wantCreated   bool
		wantMailDue   privacy.MailDue
		wantOldDue    privacy.MailDue
	}{
		{name: "a new item", new: map[string]types.AttributeValue{"status": s("pending"), dynamo.AttrMailDue: s("received:r1")},
			wantStatus: "pending", wantMailDue: privacy.MailDue{Kind: "received", Ref: "r1"}, wantCreated: true},
		{name: "a change of status", old: map[string]types.AttributeValue{"status": s("pending"), dynamo.AttrMailDue: s("received:r1")},
			new: map[string]types.AttributeValue{"status": s("in_progress")}, wantStatus: "in_progress", wantOldStatus: "pending",
			wantOldDue: privacy.MailDue{Kind: "received", Ref: "r1"}},
		{name: "replayed", old: map[string]types.AttributeValue{"status": s("pending")},
			new:        map[string]types.AttributeValue{"status": s("pending"), dynamo.AttrReplayedAt: s("2026-12-07T00:00:00Z")},
			wantStatus: "pending", wantOldStatus: "pending", wantReplayed: true},
		{name: "replayed before, not now", old: map[string]types.AttributeValue{dynamo.AttrReplayedAt: s("2026-12-07T00:00:00Z")},
			new: map[string]types.AttributeValue{dynamo.AttrReplayedAt: s("2026-12-07T00:00:00Z")}},
		{name: "removed: the new image is not read", removed: true, old: map[string]types.AttributeValue{"status": s("done")},
			new: map[string]types.AttributeValue{"status": s("ignored")}, wantOldStatus: "done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dynamo.DecodeChange(privacy.Change{Seq: "9", Removed: tt.removed}, keys, tt.old, tt.new)
			if c.Seq != "9" || c.PK != "R#1" || c.SK != "REQ" || c.Removed != tt.removed {
				t.Errorf("the record's own facts: %+v", c)
			}
			if c.Status != tt.wantStatus || c.OldStatus != tt.wantOldStatus || c.Replayed != tt.wantReplayed ||
				c.MailDue != tt.wantMailDue || c.OldMailDue != tt.wantOldDue {
				t.Errorf("status %q (old %q) replayed %v due %v (old %v), want %q (%q) %v %v (%v)", c.Status, c.OldStatus,
					c.Replayed, c.MailDue, c.OldMailDue, tt.wantStatus, tt.wantOldStatus, tt.wantReplayed, tt.wantMailDue, tt.wantOldDue)
			}
			// The item's first write (INSERT: no old image) is what the
			// mailer writes an inquiry's ledger entry from.
			if c.Created != tt.wantCreated {
				t.Errorf("created %v, want %v", c.Created, tt.wantCreated)
			}
		})
	}
}
