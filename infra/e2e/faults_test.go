package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

func contactBody(addr string) string {
	b, _ := json.Marshal(map[string]any{"name": "Fault", "email": addr, "message": "Hello"})
	return string(b)
}

// With the mail service down, submissions still succeed; the emails wait in
// the stream and all arrive, once each, when it is back.
func TestSESDownNothingLost(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ses := localtest.OwnSES(t)
	svc.SES = ses.URL
	s := startStackWith(t, svc)
	u := localtest.Unique()
	ses.Stop()
	for i := 0; i < 3; i++ {
		resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody(fmt.Sprintf("down%d-%s@example.com", i, u)), nil)
		if resp.StatusCode != 202 {
			t.Fatalf("submission %d with SES down: %d %s", i, resp.StatusCode, out)
		}
	}
	time.Sleep(3 * time.Second) // the mailer fails and the stream retries meanwhile
	ses.Start(t)
	mine := localtest.Mentions(u)
	if got := localtest.WaitEmails(t, svc, 6, 60*time.Second, mine); len(got) != 6 {
		t.Fatalf("%d emails after SES came back, want 6", len(got))
	}
	time.Sleep(2 * time.Second)
	if got := localtest.Emails(t, svc, mine); len(got) != 6 {
		t.Fatalf("%d emails, want each exactly once (6)", len(got))
	}
	if !strings.Contains(s.logs.String(), "send failed; the record will be retried") {
		t.Error("the outage left no trace in the mailer's log")
	}
}

// With DynamoDB down, a visitor is told to retry (503 with Retry-After) and
// nothing partial is stored; when it is back, everything works with no
// manual step, emails included.
func TestDynamoDBDownThenBack(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ddb := localtest.OwnDynamoDB(t, t.TempDir())
	svc.DynamoDB = ddb.URL
	s := startStackWith(t, svc)
	u := localtest.Unique()
	before := "before-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody(before), nil); resp.StatusCode != 202 {
		t.Fatalf("baseline: %d %s", resp.StatusCode, out)
	}
	ddb.Stop()
	resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody("during-"+u+"@example.com"), nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(out, `"unavailable"`) {
		t.Fatalf("during the outage: %d %v %s", resp.StatusCode, resp.Header, out)
	}
	if resp, _ := s.do(t, "GET", "/v1/health", "", "", nil); resp.StatusCode != 503 {
		t.Fatalf("health during the outage: %d", resp.StatusCode)
	}
	ddb.Start(t)
	after := "after-" + u + "@example.com"
	var code int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, _ := s.do(t, "POST", "/v1/contact", "application/json", contactBody(after), nil)
		if code = resp.StatusCode; code == 202 {
			break
		}
	}
	if code != 202 {
		t.Fatalf("after the restart: %d", code)
	}
	// Exactly the two accepted inquiries and their ledger entries: the one
	// answered 503 left nothing behind.
	if n, l := len(s.items(t, "SubjectsTable")), len(s.items(t, "LedgerTable")); n != 2 || l != 2 {
		t.Fatalf("%d inquiries and %d ledger entries, want 2 and 2", n, l)
	}
	for _, addr := range []string{before, after} {
		if got := localtest.WaitEmails(t, svc, 1, 60*time.Second, func(e localtest.Email) bool { return e.To(addr) }); len(got) != 1 {
			t.Errorf("%s: %d acknowledgements, want 1", addr, len(got))
		}
	}
	if got := localtest.Emails(t, svc, localtest.Mentions("during-"+u)); len(got) != 0 {
		t.Errorf("%d emails for the refused submission", len(got))
	}
}
