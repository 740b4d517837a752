package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// The eighth review, as a hostile stranger, a rogue controller or a
// processor's mailbox holder, of what was merged after 1c5f641: Platform
// regions, processor mailboxes and lifts told to processors (#35), the
// lifecycle's transition table and one Overdue (#32). Each test below is
// a hole found, and fails on the code it was found in.

// liftedToProcessor is what the email telling a processor of a lift says
// (notify's processor_lifted): that it may process the person again.
const liftedToProcessor = "may process what you hold of them for us again"

// R8-1. Lift (ABUSE-CASES: "ending one request ends only its own"). A
// person with two restrictions in force (two requests, each told to the
// processors by email) is restricted until both are lifted: the desk's
// Lift ends only its own request's restriction (dynamo.Store.Lift). But
// the lift of the first tells every processor told of it that it "may
// process what you hold of them for us again" (Store.TellLift, called
// unconditionally after the lift), while the second restriction still
// holds the person out of every processing path. The processor resumes
// processing a person who is restricted, on the company's word.
func TestAbuseReview8LiftOfOneRestrictionTellsProcessorsToResume(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	contact := "privacy-" + u + "@drift.example"
	s.addMailProcessor(t, "Drift "+u, contact)
	addr := "two-restrictions-" + u + "@example.com"

	// Two restrictions of the person's own, on two grounds; each verified
	// (completed at once) and told to the processor.
	var ids []string
	for _, details := range []string{"my address is disputed", "the processing is unlawful"} {
		id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction","details":"`+details+`"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("verify restriction %q: %d %s", details, resp.StatusCode, out)
		}
		ids = append(ids, id)
	}
	// The processor has been told of both (the second may come in its
	// mailbox's digest).
	told := func(id string) func(localtest.Email) bool {
		return func(e localtest.Email) bool { return e.To(contact) && strings.Contains(e.Body.Text, id) }
	}
	for _, id := range ids {
		if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, told(id)); len(got) != 1 {
			t.Fatalf("the processor was not told of restriction %s", id)
		}
	}

	// The team lifts the first; the second stays in force.
	if out, err := s.privacyctl(t, "lift", ids[0], "-reason", "The address is confirmed correct."); err != nil {
		t.Fatalf("lift %s: %v %s", ids[0], err, out)
	}
	s.mailTo(t, addr, "lifted")
	// The processor must not be told it may process the person again.
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(contact) && strings.Contains(e.Body.Text, liftedToProcessor)
	}); len(got) != 0 {
		t.Errorf("the processor was told it may process the person again while restriction %s is in force:\n%s\n%s",
			ids[1], got[0].Subject, got[0].Body.Text)
	}
	// The second restriction was indeed still in force: the team can lift it.
	if out, err := s.privacyctl(t, "lift", ids[1], "-reason", "The processing is lawful."); err != nil {
		t.Errorf("the second restriction was not in force after the first's lift: %v %s", err, out)
	}
}
