package mailer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A processor's former contact address is told that the team changed it
// (approved by a second member): to that address, naming the processor,
// the day and the new address's domain, never the new address itself nor
// anything of a person; replies go to the team. Fails before the notice
// (the change's item made no email due).
func TestContactNoticeToTheFormerAddress(t *testing.T) {
	m := &Mailer{Config: notify.Config{Company: "Acme", TeamInbox: "privacy@acme.example", PolicyURL: "https://acme.example/privacy"}}
	at := time.Date(2026, 12, 7, 12, 30, 0, 0, time.UTC)
	ch := privacy.Change{Kind: "processor_contact_notice", MailDue: privacy.Due(privacy.MailContactChanged, "ask-1"),
		ContactNotice: &privacy.ContactNotice{ProcessorID: "p-1", ProcessorName: "Drift", To: "privacy@drift.example",
			NewDomain: "drift-privacy.example", ChangedAt: at}}
	msgs, err := m.due(context.Background(), ch)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%d emails, %v", len(msgs), err)
	}
	msg := msgs[0]
	if len(msg.To) != 1 || msg.To[0] != "privacy@drift.example" || len(msg.ReplyTo) != 1 || msg.ReplyTo[0] != "privacy@acme.example" ||
		msg.Kind != notify.KindContactChanged {
		t.Errorf("to %v, reply to %v, kind %s", msg.To, msg.ReplyTo, msg.Kind)
	}
	for _, body := range []string{msg.Text, msg.HTML} {
		if !strings.Contains(body, "Drift") || !strings.Contains(body, "drift-privacy.example") || !strings.Contains(body, "7 December 2026") {
			t.Errorf("the notice does not say what changed:\n%s", body)
		}
		if strings.Contains(body, "dpo@") {
			t.Errorf("the notice names the new address:\n%s", body)
		}
	}
	// The same item not made due again (a redelivery): nothing.
	ch.OldMailDue = ch.MailDue
	if msgs, err := m.due(context.Background(), ch); err != nil || len(msgs) != 0 {
		t.Errorf("a redelivered notice: %d emails, %v", len(msgs), err)
	}
}
