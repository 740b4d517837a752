package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

var (
	verifyLink = regexp.MustCompile(`http://[^\s"<>]+/v1/rights-requests/[0-9a-f-]+/verify\?token=[A-Za-z0-9_-]+`)
	statusLink = regexp.MustCompile(`http://[^\s"<>]+/v1/rights-requests/[0-9a-f-]+\?token=[A-Za-z0-9_-]+`)
)

type filedBody struct {
	ID, Status string
	DueAt      string `json:"due_at"`
}

func (s *stack) file(t *testing.T, body string) (int, filedBody) {
	t.Helper()
	resp, out := s.do(t, "POST", "/v1/rights-requests", "application/json", body, nil)
	var f filedBody
	_ = json.Unmarshal([]byte(out), &f)
	return resp.StatusCode, f
}

func TestRightsRequestIntakeAndVerification(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "subject-" + u + "@example.com"
	before := time.Now().UTC()
	code, f := s.file(t, `{"email":"`+addr+`","name":"Sam","type":"access","relationship":"subscriber"}`)
	if code != 202 || f.Status != "identity_unverified" || f.ID == "" {
		t.Fatalf("intake: %d %+v", code, f)
	}
	due, err := time.Parse(time.RFC3339, f.DueAt)
	if err != nil || due.Before(privacy.AddCalendarMonths(before, 1).Add(-time.Minute)) || due.After(privacy.AddCalendarMonths(time.Now().UTC(), 1).Add(time.Minute)) {
		t.Fatalf("due %q is not one calendar month after receipt", f.DueAt)
	}
	// The same request again joins the first: same id, same clock.
	if code, again := s.file(t, `{"email":"`+strings.ToUpper(addr)+`","type":"access"}`); code != 202 || again.ID != f.ID || again.DueAt != f.DueAt {
		t.Fatalf("duplicate: %d %+v", code, again)
	}
	mails := localtest.WaitEmails(t, s.svc, 2, 20*time.Second, localtest.Mentions(f.ID))
	var ack localtest.Email
	for _, m := range mails {
		if m.To(addr) {
			ack = m
		}
	}
	if len(mails) != 2 || !strings.Contains(ack.Body.Text, f.ID) {
		t.Fatalf("%d emails (acknowledgement and team notice expected): %+v", len(mails), mails)
	}
	verify, status := verifyLink.FindString(ack.Body.Text), statusLink.FindString(ack.Body.Text)
	if verify == "" || status == "" {
		t.Fatalf("links missing in %q", ack.Body.Text)
	}
	statusOf := func() string {
		resp, out := s.do(t, "GET", s.path(t, status), "", "", nil)
		var b struct{ Status, Type string }
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &b) != nil || b.Type != "access" {
			t.Fatalf("status: %d %s", resp.StatusCode, out)
		}
		return b.Status
	}
	if st := statusOf(); st != "identity_unverified" {
		t.Fatalf("status %s", st)
	}
	if resp, _ := s.do(t, "GET", s.path(t, verify), "", "", map[string]string{"Accept": "text/html"}); resp.StatusCode != 200 || statusOf() != "identity_unverified" {
		t.Fatal("the verification page changed the request")
	}
	for i := 0; i < 2; i++ {
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"pending"`) {
			t.Fatalf("verify #%d: %d %s", i+1, resp.StatusCode, out)
		}
	}
	if st := statusOf(); st != "pending" {
		t.Fatalf("status after verification %s", st)
	}

	// Bad input and attacks.
	if code, _ := s.file(t, `{"email":"`+addr+`","type":"rectification"}`); code != 400 {
		t.Errorf("rectification without details: %d", code)
	}
	if code, _ := s.file(t, `{"email":"`+addr+`","type":"forget_me"}`); code != 400 {
		t.Errorf("unknown type: %d", code)
	}
	code, other := s.file(t, `{"email":"other-`+u+`@example.com","type":"erasure","regulation":"ccpa"}`)
	if code != 202 {
		t.Fatalf("second request: %d", code)
	}
	stolen := strings.Replace(s.path(t, status), f.ID, other.ID, 1)
	if resp, out := s.do(t, "GET", stolen, "", "", nil); resp.StatusCode != 400 || !strings.Contains(out, "invalid_token") {
		t.Errorf("a status token of another request: %d %s", resp.StatusCode, out)
	}
	forged := strings.Replace(s.path(t, verify), f.ID, other.ID, 1)
	if resp, _ := s.do(t, "POST", forged, "", "", nil); resp.StatusCode != 400 {
		t.Errorf("a verification token of another request: %d", resp.StatusCode)
	}
	// Platform end users are redirected to the client; nothing is stored.
	n := len(s.items(t, "RequestsTable"))
	code, red := s.file(t, `{"email":"enduser-`+u+`@example.com","type":"access","relationship":"platform_end_user"}`)
	if code != 202 || red.Status != "redirected" || len(s.items(t, "RequestsTable")) != n {
		t.Errorf("platform end user: %d %+v", code, red)
	}
	for _, pii := range []string{addr, "127.0.0.77"} {
		if strings.Contains(s.logs.String(), pii) {
			t.Errorf("a log line contains %q", pii)
		}
	}
}
