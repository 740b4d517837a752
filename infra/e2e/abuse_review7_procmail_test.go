package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Seventh hostile review, second part: processors without an API (issue
// #35 item 4, merged at 1d402d5). A processor registered by its privacy
// contact address is emailed each erasure, restriction and rectification
// with the person's address and a signed confirm link. Each test asserts
// what the project promises; a failure is the finding.

// addMailProcessor registers a processor told by email and returns its
// contact address.
func (s *stack) addMailProcessor(t *testing.T, name, contact string) {
	t.Helper()
	s.registerProcessor(t, "-name", name, "-contact", contact)
}

// R7P-1. An erasure leaves no trace (docs/testing.md: "erasure leaving no
// trace"; dynamo.Erase strips the person's addresses from their other
// requests). With a processor told by email, the person's raw address
// stays in the requests table after the erasure is reported done and its
// completion email has gone: in the erasure's own delivery item
// (RCPT#<processor>.identity_value, needed only to render an email that
// was sent at once) and in the delivery of the person's earlier
// restriction, which Erase does not strip. It stays until the processor
// clicks its link, or 30 days until the deliverer finds it overdue. The
// request record itself is stripped, so a look at it says "gone" while
// the address sits one item over.
func TestAbuseReview7ProcErasedAddressStaysInDeliveries(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	contact := "privacy-" + u + "@pardot.example"
	s.addMailProcessor(t, "Pardot "+u, contact)
	addr := "gone-" + u + "@example.com"

	// The person restricts first (the processor is emailed), then erases.
	_, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify restriction: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, contact, "restriction")
	_, verify, _ = s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify erasure: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, contact, "erasure")
	s.mailTo(t, addr, "Your erasure request")
	// Done and told: nothing of the address may remain anywhere. (Where
	// it is, when it is: the items of the requests table that hold it.)
	if found := s.traces(t, addr); len(found) > 0 {
		for _, it := range s.items(t, "RequestsTable") {
			if b, _ := json.Marshal(it); strings.Contains(string(b), addr) {
				t.Logf("%s %s holds the address (identity_value %q)", str(it, "pk"), str(it, "sk"), str(it, "identity_value"))
			}
		}
	}
	s.waitNoTrace(t, 20*time.Second, addr)
}

// R7P-2. A stranger files, as "parent or guardian", an erasure naming a
// victim's address and confirms their own address: the request awaits the
// team's weighing of the proof (nothing may change for the victim before
// it is accepted). privacyctl complete ("close a rectification the team
// has carried out") takes any request awaiting review, whatever its type
// or relationship, and since 1d402d5 it also tells every processor: the
// victim's address is emailed to the processor as an erasure to carry out,
// although no proof was accepted and nothing was erased. One wrong
// command (complete instead of deny) on a stranger's filing, which the
// desk should refuse as not a rectification, puts the victim's address
// in a third party's mailbox.
func TestAbuseReview7ProcParentsFilingCompletedMailsVictimToProcessor(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	contact := "dpo-" + u + "@drift.example"
	s.addMailProcessor(t, "Drift "+u, contact)
	victim, stranger := "victim-"+u+"@example.com", "stranger-"+u+"@example.com"

	code, f := s.file(t, `{"email":"`+victim+`","type":"erasure","relationship":"parent_or_guardian","parent_email":"`+stranger+`"}`)
	if code != 202 || f.ID == "" {
		t.Fatalf("file: %d %+v", code, f)
	}
	ack := s.mailTo(t, stranger, "Your request "+f.ID+" for your child's data")
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(ack.Body.Text)), "", "", nil); resp.StatusCode != 200 ||
		!strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("the stranger confirms their own address: %d %s", resp.StatusCode, out)
	}
	out, err := s.privacyctl(t, "complete", f.ID, "-note", "done")
	t.Logf("privacyctl complete on a parent's erasure awaiting proof: err=%v out=%s", err, strings.TrimSpace(out))

	// Its email would be due at once: wait as long as any other test
	// waits for one.
	if ms := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(contact) }); len(ms) != 0 {
		t.Fatalf("the processor was emailed %d time(s) about a stranger's unproven filing (the victim's address in it: %v); it reads:\n%s",
			len(ms), strings.Contains(ms[0].Body.Text, victim), ms[0].Body.Text)
	}
}
