package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
)

// addOpenDSRProcessor registers recv as an OpenDSR processor named name,
// with a privacy contact address when contact is not empty, and returns
// privacyctl's answer.
func (s *stack) addOpenDSRProcessor(t *testing.T, name string, recv *opendsrtest.Processor, contact string) string {
	t.Helper()
	cert := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(cert, recv.Certificate, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"processor", "add", "-name", name, "-url", recv.URL, "-credentials", "site:pw", "-certificate", cert,
		"-reason", "Art. 28 contract signed"}
	if contact != "" {
		args = append(args, "-contact", contact)
	}
	_, out := s.registerProcessor(t, args[2:]...)
	return out
}

// itemText is a stored item's values as text, nested maps included.
func itemText(t *testing.T, it map[string]types.AttributeValue) string {
	t.Helper()
	var m map[string]any
	if err := attributevalue.UnmarshalMap(it, &m); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(m)
}

// Art. 19 for processors that speak OpenDSR (#35 item 4): OpenDSR has no
// request type for a rectification or a restriction. One registered with
// a privacy contact address is emailed them (and a restriction's lift) at
// that address, through its mailbox, while its erasures still go by
// OpenDSR; one without is not silently skipped: the deadline board and
// the team's digest say it was not informed of that request. On the code
// before, neither heard of either request and nobody was told.
func TestOpenDSRProcessorsToldOfRectificationAndRestriction(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	drift, piwik := opendsrtest.New(t), opendsrtest.New(t)
	contact := "dpo-" + u + "@drift.example"
	if out := s.addOpenDSRProcessor(t, "Drift "+u, drift, contact); !strings.Contains(out, "emailed every rectification and restriction") {
		t.Fatalf("processor add with a contact: %s", out)
	}
	if out := s.addOpenDSRProcessor(t, "Piwik "+u, piwik, ""); !strings.Contains(out, "not told of rectifications or restrictions") {
		t.Fatalf("processor add without a contact: %s", out)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, drift.URL+" mailto:"+contact) {
		t.Fatalf("processor list: %s", out)
	}
	// The ledger names the contact's domain, never its address.
	found := false
	for _, it := range s.items(t, "LedgerTable") {
		if text := itemText(t, it); strings.Contains(text, "processor_added") && strings.Contains(text, "drift.example") {
			found = true
			if strings.Contains(text, contact) {
				t.Error("the ledger keeps a processor's contact address")
			}
		}
	}
	if !found {
		t.Error("no ledger entry names the contact's domain")
	}

	// A restriction, verified: emailed to Drift's contact, posted to no one.
	rst := "restrict-" + u + "@example.com"
	rid, verify, _ := s.fileAndOpen(t, rst, `{"email":"`+rst+`","type":"restriction"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify restriction: %d %s", resp.StatusCode, out)
	}
	m := s.mailTo(t, contact, "restriction")
	if l := processorLink.FindStringSubmatch(m.Body.Text); l == nil || l[1] != rid || !strings.Contains(m.Body.Text, rst) {
		t.Fatalf("the restriction's email to Drift:\n%s\n%s", m.Subject, m.Body.Text)
	}
	// A rectification the team applies: the same.
	pat := "pat-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Pat","email":"`+pat+`","phone":"+44 20 7946 0000","message":"hello"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	cid, verify, _ := s.fileAndOpen(t, pat, `{"email":"`+pat+`","type":"rectification","field":"phone","value":"+44 20 7000 0000"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify rectification: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", cid); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	ms := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(contact) && strings.Contains(e.Body.Text, pat)
	})
	if len(ms) != 1 || !strings.Contains(ms[0].Subject, "rectification") || processorLink.FindString(ms[0].Body.Text) == "" ||
		strings.Contains(ms[0].Body.Text, "7000 0000") {
		t.Fatalf("the rectification's email to Drift: %d %+v", len(ms), ms)
	}
	if resp, out := s.do(t, "POST", "/_local/invoke/RecipientsFunction", "application/json", "{}", nil); resp.StatusCode != 200 {
		t.Fatalf("recipients: %d %s", resp.StatusCode, out)
	}
	if n, m := len(drift.Accepted()), len(piwik.Accepted()); n+m != 0 {
		t.Fatalf("OpenDSR requests posted: Drift %d, Piwik %d (there is no such request type)", n, m)
	}

	// Piwik, with no contact, is the team's: the board and the digest.
	out, err := s.privacyctl(t, "processor", "overdue")
	for _, c := range []struct{ id, typ string }{{rid, "restriction"}, {cid, "rectification"}} {
		if err != nil || !strings.Contains(out, c.id) || !strings.Contains(out, "not informed of the "+c.typ) {
			t.Fatalf("processor overdue lacks Piwik's %s %s: %v %s", c.typ, c.id, err, out)
		}
	}
	if strings.Contains(out, rst) || strings.Contains(out, pat) {
		t.Errorf("the board names a person: %s", out)
	}
	if resp, out := s.do(t, "POST", "/_local/invoke/DeadlineWatchFunction", "application/json", "{}", nil); resp.StatusCode != 200 {
		t.Fatalf("digest: %d %s", resp.StatusCode, out)
	}
	digest := s.mailTo(t, s.team, "Rights requests")
	if !strings.Contains(digest.Body.Text, rid+"  Piwik "+u+"  failed (not informed of the restriction") ||
		!strings.Contains(digest.Body.Text, cid+"  Piwik "+u+"  failed (not informed of the rectification") ||
		strings.Contains(digest.Body.Text, rst) || strings.Contains(digest.Body.Text, contact) {
		t.Fatalf("digest:\n%s", digest.Body.Text)
	}

	// The restriction's lift reaches Drift's contact too.
	if out, err := s.privacyctl(t, "lift", rid, "-reason", "The data is confirmed correct."); err != nil {
		t.Fatalf("lift: %v %s", err, out)
	}
	if m := s.mailTo(t, contact, "restriction lifted"); !strings.Contains(m.Body.Text, rst) || processorLink.MatchString(m.Body.Text) {
		t.Errorf("the lift's email to Drift:\n%s\n%s", m.Subject, m.Body.Text)
	}

	// Erasures still go by OpenDSR, and are emailed to no one.
	gone := "gone-" + u + "@example.com"
	_, verify, _ = s.fileAndOpen(t, gone, `{"email":"`+gone+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify erasure: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", "/_local/invoke/RecipientsFunction", "application/json", "{}", nil); resp.StatusCode != 200 {
		t.Fatalf("recipients: %d %s", resp.StatusCode, out)
	}
	if n, m := len(drift.Accepted()), len(piwik.Accepted()); n != 1 || m != 1 {
		t.Fatalf("erasures posted: Drift %d, Piwik %d, want 1 each", n, m)
	}
	s.idle(t) // an email of the erasure would show by now
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(contact) && strings.Contains(e.Subject, "erasure") })); n != 0 {
		t.Errorf("%d emails of the erasure to Drift's contact, which is told by OpenDSR", n)
	}
}

// Abuse cases of the new emails (ABUSE-CASES.md): acting for, mail bomb,
// leak. A stranger files a restriction and a rectification naming a
// victim: until the victim verifies, no processor hears of them (no
// email to a contact, no OpenDSR request, nothing on the team's board).
// Restrictions filed by people for their own addresses, as many as the
// per-source limits let through, reach an OpenDSR processor's contact
// through its mailbox: one email, the rest held for its digest. The
// requester's page names a processor not informed, never its contact
// address or why. On the code before, the contact got nothing at all.
func TestAbuseOpenDSRProcessorContactEmails(t *testing.T) {
	t.Parallel()
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"PROCESSOR_MAIL_EVERY": "1h"}, nil)
	u := localtest.Unique()
	drift, piwik := opendsrtest.New(t), opendsrtest.New(t)
	contact := "dpo-" + u + "@drift.example"
	s.addOpenDSRProcessor(t, "Drift "+u, drift, contact)
	s.addOpenDSRProcessor(t, "Piwik "+u, piwik, "")

	// The stranger's filings, never verified.
	victim := "victim-" + u + "@example.com"
	for _, body := range []string{`{"email":"` + victim + `","type":"restriction","details":"STRANGER-` + u + `"}`,
		`{"email":"` + victim + `","type":"rectification","field":"name","value":"STRANGER-` + u + `"}`} {
		if resp, out := s.do(t, "POST", "/v1/rights-requests", "application/json", body, nil); resp.StatusCode != 202 {
			t.Fatalf("file: %d %s", resp.StatusCode, out)
		}
	}
	for _, fn := range []string{"RecipientsFunction", "DeadlineWatchFunction"} {
		if resp, out := s.do(t, "POST", "/_local/invoke/"+fn, "application/json", "{}", nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", fn, resp.StatusCode, out)
		}
	}
	s.idle(t) // an email to the contact would show by now
	if got := s.mailsTo(t, contact); len(got) != 0 {
		t.Fatalf("%d emails to the processor's contact of filings nobody verified", len(got))
	}
	for _, it := range s.items(t, "RequestsTable") {
		if strings.HasPrefix(str(it, "sk"), "RCPT#") {
			t.Fatalf("a delivery of an unverified filing: %v", it)
		}
	}
	if out, _ := s.privacyctl(t, "processor", "overdue"); strings.Contains(out, "not informed") {
		t.Fatalf("the board lists an unverified filing: %s", out)
	}
	if n, m := len(drift.Accepted()), len(piwik.Accepted()); n+m != 0 {
		t.Fatalf("OpenDSR requests posted: %d, %d", n, m)
	}

	// Three people's own restrictions, verified: one email to the
	// contact, the other two held in its mailbox (ids only).
	var ids []string
	var status string
	for i := range 3 {
		addr := fmt.Sprintf("own-%s-%d@example.com", u, i)
		id, verify, st := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
			t.Fatalf("verify %s: %d %s", addr, resp.StatusCode, out)
		}
		ids, status = append(ids, id), st
	}
	localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(contact) })
	s.idle(t) // a second email would show by now
	if got := s.mailsTo(t, contact); len(got) != 1 {
		t.Fatalf("%d emails to the contact for 3 restrictions within its period, want 1", len(got))
	}
	held := 0
	for _, it := range s.items(t, "OpsTable") {
		if strings.HasPrefix(str(it, "pk"), "PMBOX#") {
			text := itemText(t, it)
			if strings.Contains(text, "@") {
				t.Errorf("a mailbox item holds an address: %v", text)
			}
			for _, id := range ids {
				if strings.Contains(text, id) {
					held++
				}
			}
		}
	}
	if held != 2 {
		t.Errorf("%d restrictions held for the mailbox's digest, want 2", held)
	}

	// The requester reads that Piwik could not be asked; not its
	// contact, not why.
	resp, out := s.do(t, "GET", s.path(t, status), "", "", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != 200 || !strings.Contains(out, "Piwik "+u) || !strings.Contains(out, "could not be asked") ||
		strings.Contains(out, contact) || strings.Contains(out, "not informed") {
		t.Fatalf("status page: %d %s", resp.StatusCode, out)
	}
}
