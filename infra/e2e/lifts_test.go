package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Issue #35, gap A: overlapping restrictions. A person's first
// restriction is told to P1; P2 is registered; the second restriction is
// told to P1 and P2; P3 is registered after both. The team lifts the
// second (the first still in force: nobody is told), then the first, the
// last in force. Every processor told of either restriction is told once
// that it may process the person again: P2, told only of the second, too
// (before, the last lift told only the first's processors, and P2 kept the
// person restricted for ever); P1, told of both, once. Abuse: P3, never
// told of the person, is told nothing of them.
func TestLastLiftTellsEveryRestrictionsProcessors(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	p1, p2, p3 := "privacy-"+u+"@first.example", "privacy-"+u+"@second.example", "privacy-"+u+"@later.example"
	addr := "overlapping-" + u + "@example.com"
	restrict := func(details string, to ...string) string {
		t.Helper()
		id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction","details":"`+details+`"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("verify restriction %q: %d %s", details, resp.StatusCode, out)
		}
		for _, c := range to {
			// The second may come in the processor's mailbox's digest.
			if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
				return e.To(c) && strings.Contains(e.Body.Text, id)
			}); len(got) != 1 {
				t.Fatalf("%s was not told of restriction %s", c, id)
			}
		}
		return id
	}
	s.addMailProcessor(t, "First "+u, p1)
	first := restrict("my address is disputed", p1)
	s.addMailProcessor(t, "Second "+u, p2)
	second := restrict("the processing is unlawful", p1, p2)
	s.addMailProcessor(t, "Later "+u, p3)

	lifted := func(c string) func(localtest.Email) bool {
		return func(e localtest.Email) bool { return e.To(c) && strings.Contains(e.Body.Text, liftedToProcessor) }
	}
	// The second lifted while the first is in force: nobody is told.
	if out, err := s.privacyctl(t, "lift", second, "-reason", "The processing is lawful."); err != nil {
		t.Fatalf("lift %s: %v %s", second, err, out)
	}
	s.mailTo(t, addr, "lifted")
	// The first, the last in force.
	if out, err := s.privacyctl(t, "lift", first, "-reason", "The address is confirmed correct."); err != nil {
		t.Fatalf("lift %s: %v %s", first, err, out)
	}
	for _, c := range []string{p1, p2} {
		got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, lifted(c))
		if len(got) != 1 {
			t.Errorf("%s, told of a restriction of the person, was not told of the last lift", c)
			continue
		}
		if !strings.Contains(got[0].Body.Text, addr) {
			t.Errorf("the lift to %s does not name the person it holds:\n%s", c, got[0].Body.Text)
		}
	}
	// Each once, and nothing to the processor never told of the person
	// (the digests of the mailboxes have had time to go: 2 s periods).
	time.Sleep(8 * time.Second)
	for c, want := range map[string]int{p1: 1, p2: 1, p3: 0} {
		if got := localtest.WaitEmails(t, s.svc, 2, 2*time.Second, lifted(c)); len(got) != want {
			t.Errorf("%s was told of the lift %d times, want %d", c, len(got), want)
		}
	}
	if got := localtest.WaitEmails(t, s.svc, 1, time.Second, func(e localtest.Email) bool {
		return e.To(p3) && strings.Contains(e.Body.Text, addr)
	}); len(got) != 0 {
		t.Errorf("a processor never told of the person was mailed their address:\n%s", got[0].Body.Text)
	}
}
