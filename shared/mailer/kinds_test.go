package mailer

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Every kind of email a request can make due has its email.
func TestEveryRequestMailKindHasAnEmail(t *testing.T) {
	for _, k := range privacy.RequestMailKinds() {
		if _, ok := requestEmails[k]; !ok {
			t.Errorf("no email for mail kind %q", k)
		}
	}
	if len(requestEmails) != len(privacy.RequestMailKinds()) {
		t.Errorf("%d emails for %d kinds", len(requestEmails), len(privacy.RequestMailKinds()))
	}
}

// An erasure's extension past the policy's 30 days says so (policy §7);
// an extension within them, or of another request, does not.
func TestExtensionBeyondTheErasurePromise(t *testing.T) {
	tokens, err := token.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 1, 10, 10, 0, 0, 0, time.UTC)
	m := &Mailer{Tokens: tokens, Now: func() time.Time { return now }, Config: notify.Config{BaseURL: "https://api.example"}}
	received := time.Date(2027, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		typ    privacy.Right
		until  time.Time
		beyond bool
	}{
		{"an erasure past 30 days", privacy.RightErasure, received.AddDate(0, 0, 45), true},
		{"an erasure within 30 days", privacy.RightErasure, received.AddDate(0, 0, 29), false},
		{"an access request past 30 days", privacy.RightAccess, received.AddDate(0, 0, 60), false},
	} {
		req := privacy.RightsRequest{ID: "r-1", Subject: privacy.SubjectID(strings.Repeat("a", 64)), Email: "ann@example.com", Type: tc.typ, ReceivedAt: received,
			ExtendedUntil: tc.until, ExtensionReason: "two archives to search"}
		msgs, err := requestEmails[privacy.MailExtended](m, m.Config, req, privacy.Due(privacy.MailExtended, "x"))
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: %d emails, %v", tc.name, len(msgs), err)
		}
		if got := strings.Contains(msgs[0].Text, "promises to remove data within 30 days"); got != tc.beyond {
			t.Errorf("%s: says the promise is exceeded: %v, want %v\n%s", tc.name, got, tc.beyond, msgs[0].Text)
		}
	}
}
