package mailer

import (
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
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
