package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Review 9 of the merge of branch lifts (#35's gaps A, B, C), as a hostile
// stranger and role versus code. Each test below is a hole found, and
// fails on the code it was found in.

// R9L-5. The retired inbox still confirms. The team changes a processor's
// contact because its old privacy inbox changed hands (the reason
// ChangeProcessorContact's own doc gives). The erasure emailed to the old
// address before the change carries a confirm link bound to the request
// and the processor, not to the address it was sent to: whoever now reads
// the old inbox confirms the erasure done, the request's page and the
// deadline board show it confirmed, and the processor's real privacy
// team, at the new address, is never asked (the email is not sent again
// there; overdue would have flagged it to the team, a confirmation closes
// it).
func TestAbuseReview9RetiredContactsLinkStillConfirms(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, moved := "privacy-"+u+"@pardot.example", "dpo-"+u+"@pardot-privacy.example"
	proc, _ := s.registerProcessor(t, "-name", "Pardot "+u, "-contact", old)
	addr := "erased-" + u + "@example.com"
	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify the erasure: %d %s", resp.StatusCode, out)
	}
	got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
		return e.To(old) && strings.Contains(e.Body.Text, addr)
	})
	if len(got) != 1 {
		t.Fatal("the erasure did not reach the registered contact")
	}
	link := processorLink.FindString(got[0].Body.Text)
	if link == "" {
		t.Fatalf("no confirm link:\n%s", got[0].Body.Text)
	}
	s.changeContact(t, proc, moved, "their old inbox changed hands "+u)
	// The old inbox's new holder clicks.
	resp, body := s.do(t, "POST", s.path(t, link), "", "", nil)
	confirmed := false
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "pk") == "R#"+id && strings.HasPrefix(str(it, "sk"), "RCPT#") && str(it, "state") == "completed" {
			confirmed = true
		}
	}
	if resp.StatusCode == 200 || confirmed {
		t.Errorf("the link emailed to the retired contact confirmed the erasure after the change (%d, delivery completed: %v): %s",
			resp.StatusCode, confirmed, body)
	}
}
