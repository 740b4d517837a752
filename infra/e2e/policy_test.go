package e2e

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

var addTopicLink = regexp.MustCompile(`http://[^\s"<>]+/v1/preferences/add-topic\?token=[A-Za-z0-9_-]+`)

// A policy version published with privacyctl is in force without a
// deploy (pages show it and its day, new records carry it); a material one
// reaches the confirmed subscriber and the person with an open request
// once each, through the notices function and the mailer, and the new
// topic it adds is only the subscriber's once they confirm it.
func TestPolicyChangeIsToldOnce(t *testing.T) {
	t.Parallel()
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"POLICY_CACHE_SECONDS": "1"}, nil)
	u := localtest.Unique()
	reader, asker := "reader-"+u+"@example.com", "asker-"+u+"@example.com"

	// A confirmed subscriber, and a verified request waiting on the team.
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+reader+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	conf := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(reader) && confirmLink.MatchString(e.Body.Text) })
	if len(conf) != 1 {
		t.Fatal("no confirmation")
	}
	if resp, _ := s.do(t, "POST", s.path(t, confirmLink.FindString(conf[0].Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatal("confirm")
	}
	_, verify, _ := s.fileAndOpen(t, asker, `{"email":"`+asker+`","type":"rectification","details":"My name is wrong","field":"name","value":"Ada"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, "awaiting_review") {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}

	today := time.Now().UTC().Format(time.DateOnly)
	version := "2026-12-" + u
	out, err := s.privacyctl(t, "policy", "publish", "-version", version, "-effective", today, "-material",
		"-summary", "We now keep support chats for 12 months.", "-new-purpose", "product_updates")
	if err != nil || !strings.Contains(out, "notices: pending") {
		t.Fatalf("publish: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "policy", "publish", "-version", version, "-effective", today); err == nil {
		t.Fatalf("a version published twice: %s", out)
	}
	// Twice: the second run finds nothing left to do.
	for i := 0; i < 2; i++ {
		if resp, out := s.do(t, "POST", "/_local/invoke/NoticesFunction", "application/json", `{}`, nil); resp.StatusCode != 200 {
			t.Fatalf("notices run %d: %d %s", i, resp.StatusCode, out)
		}
	}
	notice := func(addr string) localtest.Email {
		t.Helper()
		got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(addr) && e.Subject == "We have updated our privacy policy"
		})
		s.idle(t) // a second one would be sent by now
		if again := localtest.Emails(t, s.svc, func(e localtest.Email) bool {
			return e.To(addr) && e.Subject == "We have updated our privacy policy"
		}); len(got) != 1 || len(again) != 1 {
			t.Fatalf("%s got %d notices", addr, len(again))
		}
		if !strings.Contains(got[0].Body.Text, "We now keep support chats for 12 months.") || !strings.Contains(got[0].Body.Text, "applies from "+today) {
			t.Fatalf("notice: %s", got[0].Body.Text)
		}
		return got[0]
	}
	sub, req := notice(reader), notice(asker)
	if addTopicLink.MatchString(req.Body.Text) {
		t.Fatal("a requester was offered a topic")
	}
	if out, err := s.privacyctl(t, "policy", "list"); err != nil || !strings.Contains(out, version+" (in force)") {
		t.Fatalf("policy list: %v %s", err, out)
	}

	// The new topic: not the subscriber's until they confirm it.
	topics := func() string { return strings.Join(ss(s.subscription(t, reader), "topics"), ",") }
	if got := topics(); got != "newsletter" {
		t.Fatalf("topics before the offer is taken: %s", got)
	}
	offer := addTopicLink.FindString(sub.Body.Text)
	if resp, out := s.do(t, "GET", s.path(t, offer), "", "", map[string]string{"Accept": "text/html"}); resp.StatusCode != 200 ||
		!strings.Contains(out, "<form method=\"post\"") || topics() != "newsletter" {
		t.Fatalf("offer page: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, offer), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"added"`) {
		t.Fatalf("take the offer: %d %s", resp.StatusCode, out)
	}
	if got := topics(); got != "newsletter,product_updates" {
		t.Fatalf("topics after confirming: %s", got)
	}
	added := s.ledgerEvent(t, reader, "topic_added")
	if str(added, "legal_basis") != "legitimate_interest" || str(added, "policy_version") != version {
		t.Fatalf("ledger: %v", added)
	}

	// In force without a deploy: the page says so, a new record carries it.
	time.Sleep(1100 * time.Millisecond) // the functions' cache of the versions (POLICY_CACHE_SECONDS=1)
	resp, page := s.do(t, "GET", "/privacy", "", "", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(page, "("+version+"), last updated "+today) {
		t.Fatalf("the privacy center's footer: %d", resp.StatusCode)
	}
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Ada","email":"`+asker+`","message":"Hello"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	var inquiry string
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "kind") == "inquiry" && str(it, "email") == asker {
			inquiry = str(it, "policy_version")
		}
	}
	if inquiry != version {
		t.Fatalf("a record made after the publish carries %q", inquiry)
	}
}

// ss is a string-set attribute.
func ss(item map[string]types.AttributeValue, name string) []string {
	v, _ := item[name].(*types.AttributeValueMemberSS)
	if v == nil {
		return nil
	}
	out := append([]string(nil), v.Value...)
	sort.Strings(out)
	return out
}

// ledgerEvent returns the person's latest ledger entry of event.
func (s *stack) ledgerEvent(t *testing.T, email, event string) map[string]types.AttributeValue {
	t.Helper()
	pk := "S#" + string(s.hasher.Subject(email))
	var found map[string]types.AttributeValue
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") == pk && str(it, "event") == event && (found == nil || str(it, "at") > str(found, "at")) {
			found = it
		}
	}
	if found == nil {
		t.Fatalf("no ledger entry %s", event)
	}
	return found
}
