package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

var (
	confirmLink = regexp.MustCompile(`http://[^\s"<>]+/v1/subscriptions/confirm\?token=[A-Za-z0-9_-]+`)
	prefsLink   = regexp.MustCompile(`http://[^\s"<>]+/v1/preferences\?token=[A-Za-z0-9_-]+`)
)

func (s *stack) subscription(t *testing.T, email string) map[string]types.AttributeValue {
	t.Helper()
	pk := "S#" + string(s.hasher.Subject(email))
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "pk") == pk && str(it, "sk") == "SUB" {
			return it
		}
	}
	return nil
}

func (s *stack) path(t *testing.T, link string) string {
	t.Helper()
	p, ok := strings.CutPrefix(link, s.URL)
	if !ok {
		t.Fatalf("link %q does not point at the stack %s", link, s.URL)
	}
	return p
}

// campaign plans a campaign and waits until its senders are done with
// it (the queue empty, every batch reported), then returns its counts.
func (s *stack) campaign(t *testing.T, id, topic string) map[string]int {
	t.Helper()
	body := fmt.Sprintf(`{"campaign_id":%q,"topic":%q,"subject":"News %s","body":"Hello <subscriber>, here is %s."}`, id, topic, id, id)
	st := s.campaignStatus(t, body)
	for deadline := time.Now().Add(60 * time.Second); st.State != campaign.StateDone; st = s.campaignStatus(t, fmt.Sprintf(`{"campaign_id":%q}`, id)) {
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s not done: %+v", id, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return map[string]int{"planned": st.Planned, "sent": st.Sent, "skipped_suppressed": st.Suppressed, "skipped_restricted": st.Restricted,
		"skipped_topic": st.NotOnTopic, "rejected": st.Rejected, "failed": st.Failed}
}

// campaignStatus invokes the campaign function with body (a campaign to
// plan, or only its id) and returns the status it answers.
// campaignClient waits for the campaign function's whole run.
var campaignClient = &http.Client{Timeout: 16 * time.Minute, Transport: client.Transport}

func (s *stack) campaignStatus(t *testing.T, body string) campaign.Status {
	t.Helper()
	// A campaign's planner runs as long as its function may (900 s): at
	// 100,000 subscribers on a busy machine more than the 30 s of the
	// other calls (the bench's campaign failed so on 2026-12-08).
	resp, out := s.doWith(t, campaignClient, "POST", "/_local/invoke/CampaignFunction", "application/json", body, nil)
	var st campaign.Status
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &st) != nil || st.ID == "" {
		t.Fatalf("campaign: %d %s", resp.StatusCode, out)
	}
	return st
}

func TestNewsletterJourney(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "reader-" + u + "@example.com"
	to := func(e localtest.Email) bool { return e.To(addr) }

	resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json",
		`{"email":"`+strings.ToUpper(addr)+`","name":"Reader","topics":["newsletter","events"],"consent":true}`, nil)
	if resp.StatusCode != 202 || !strings.Contains(out, `"pending_confirmation"`) {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	mails := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, to)
	if len(mails) != 1 || mails[0].Header("List-Unsubscribe") != "" {
		t.Fatalf("confirmation mails %+v", mails)
	}
	link := confirmLink.FindString(mails[0].Body.Text)
	if link == "" || !strings.Contains(mails[0].Body.Text, "Why you received this email") {
		t.Fatalf("no confirmation link or reason in %q", mails[0].Body.Text)
	}

	// GET shows a page and changes nothing: scanners follow links.
	resp, out = s.do(t, "GET", s.path(t, link), "", "", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(out, "<form method=\"post\"") {
		t.Fatalf("confirm page: %d %s", resp.StatusCode, out)
	}
	if st := str(s.subscription(t, addr), "status"); st != "pending" {
		t.Fatalf("status after GET: %q", st)
	}
	// POST confirms, and again is the same.
	for i := 0; i < 2; i++ {
		resp, out = s.do(t, "POST", s.path(t, link), "", "", nil)
		if resp.StatusCode != 200 || !strings.Contains(out, `"confirmed"`) {
			t.Fatalf("confirm #%d: %d %s", i+1, resp.StatusCode, out)
		}
	}
	sub := s.subscription(t, addr)
	if str(sub, "status") != "confirmed" {
		t.Fatalf("subscription %v", sub)
	}
	events := map[string]map[string]types.AttributeValue{}
	for _, it := range s.items(t, "LedgerTable") {
		events[str(it, "event")] = it
	}
	confirmed := events["subscription_confirmed"]
	detail, _ := confirmed["detail"].(*types.AttributeValueMemberM)
	if events["subscribe_requested"] == nil || detail == nil || str(detail.Value, "source_ip") != "127.0.0.77" ||
		str(confirmed, "legal_basis") != "legitimate_interest" || str(confirmed, "at") == "" {
		t.Fatalf("ledger: %v", events)
	}
	// The confirmation's receipt (#17): once, signed, and saying what the
	// ledger says, with the consent sentence's hash.
	isReceipt := func(subject string) func(localtest.Email) bool {
		return func(e localtest.Email) bool { return e.To(addr) && e.Subject == subject }
	}
	got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, isReceipt("Your subscription is confirmed"))
	if len(got) != 1 {
		t.Fatalf("%d confirmation receipts", len(got))
	}
	claims := s.receipt(t, got[0])
	s.matchesLedger(t, claims, addr)
	ct, _ := claims["consentText"].(map[string]any)
	if claims["event"] != "consent_given" || claims["piiPrincipalId"] != addr || ct["version"] != privacy.ConsentTextVersion ||
		ct["sha256"] != fmt.Sprintf("%x", sha256.Sum256([]byte(privacy.ConsentText))) || len(claims["services"].([]any)) != 2 {
		t.Fatalf("confirmation receipt %v", claims)
	}

	// A marketing email carries both RFC 8058 headers and the footer link.
	if res := s.campaign(t, "c1-"+u, "newsletter"); res["sent"] != 1 {
		t.Fatalf("campaign 1: %v", res)
	}
	var marketing localtest.Email
	for _, m := range localtest.WaitEmails(t, s.svc, 3, 20*time.Second, to) {
		if strings.HasPrefix(m.Subject, "News c1-") {
			marketing = m
		}
	}
	lu, lup := marketing.Header("List-Unsubscribe"), marketing.Header("List-Unsubscribe-Post")
	if !strings.HasPrefix(lu, "<http") || !strings.HasSuffix(lu, ">") || lup != "List-Unsubscribe=One-Click" {
		t.Fatalf("list headers %q %q in %+v", lu, lup, marketing.Headers)
	}
	if marketing.Headers[0].Name != "List-Unsubscribe" {
		t.Errorf("List-Unsubscribe should come before List-Unsubscribe-Post: %+v", marketing.Headers)
	}
	unsub, mailto := marketing.ListUnsubscribe()
	if !strings.HasPrefix(mailto, "mailto:") || !strings.HasSuffix(mailto, "@example.com") {
		t.Errorf("List-Unsubscribe %q has no mailto: alternative at the sender's domain", lu)
	}
	if !strings.Contains(marketing.Body.Text, unsub) || strings.Contains(marketing.Body.HTML, "<subscriber>") {
		t.Fatalf("footer link or escaping wrong: %s", marketing.Body.HTML)
	}

	// The unsubscribe page changes nothing; preferences show the topics.
	resp, out = s.do(t, "GET", s.path(t, unsub), "", "", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(out, "Unsubscribe from everything") || str(s.subscription(t, addr), "status") != "confirmed" {
		t.Fatalf("unsubscribe page: %d %s", resp.StatusCode, out)
	}
	prefs := prefsLink.FindString(marketing.Body.Text)
	resp, out = s.do(t, "GET", s.path(t, prefs), "", "", nil)
	var p struct {
		EmailMasked string          `json:"email_masked"`
		Topics      map[string]bool `json:"topics"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &p) != nil || p.EmailMasked != "r***@example.com" ||
		!p.Topics["newsletter"] || !p.Topics["events"] || p.Topics["product_updates"] {
		t.Fatalf("preferences: %d %s", resp.StatusCode, out)
	}
	resp, out = s.do(t, "POST", s.path(t, prefs), "application/json", `{}`, nil)
	if resp.StatusCode != 400 || !strings.Contains(out, `"topics"`) {
		t.Fatalf("preferences without topics: %d %s", resp.StatusCode, out)
	}
	resp, out = s.do(t, "POST", s.path(t, prefs), "application/json", `{"topics":["events"]}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(out, `"events":true`) || !strings.Contains(out, `"newsletter":false`) {
		t.Fatalf("set preferences: %d %s", resp.StatusCode, out)
	}
	if res := s.campaign(t, "c2-"+u, "newsletter"); res["sent"] != 0 || res["skipped_topic"] != 1 {
		t.Fatalf("campaign to a topic left: %v", res)
	}

	// One-click: POST with the RFC 8058 body; no redirect; idempotent.
	for i := 0; i < 2; i++ {
		resp, out = s.do(t, "POST", s.path(t, unsub), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Location") != "" || !strings.Contains(out, `"unsubscribed"`) {
			t.Fatalf("one-click #%d: %d %s", i+1, resp.StatusCode, out)
		}
	}
	if st := str(s.subscription(t, addr), "status"); st != "unsubscribed" {
		t.Fatalf("status %q", st)
	}
	// The withdrawal's receipt, once for the two clicks.
	got = localtest.WaitEmails(t, s.svc, 1, 20*time.Second, isReceipt("You are unsubscribed"))
	if len(got) != 1 || got[0].Header("List-Unsubscribe") != "" {
		t.Fatalf("%d withdrawal receipts: %+v", len(got), got)
	}
	claims = s.receipt(t, got[0])
	s.matchesLedger(t, claims, addr)
	if claims["event"] != "consent_withdrawn" || claims["piiPrincipalId"] != addr {
		t.Fatalf("withdrawal receipt %v", claims)
	}
	before := len(localtest.Emails(t, s.svc, to))
	if res := s.campaign(t, "c3-"+u, "events"); res["sent"] != 0 {
		t.Fatalf("campaign after unsubscribe: %v", res)
	}
	// A transactional email still reaches the address.
	resp, _ = s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Reader","email":"`+addr+`","message":"A question"}`, nil)
	if resp.StatusCode != 202 {
		t.Fatalf("contact: %d", resp.StatusCode)
	}
	after := localtest.WaitEmails(t, s.svc, before+1, 20*time.Second, to)
	if len(after) != before+1 || !strings.Contains(after[len(after)-1].Subject, "We received your message") {
		t.Fatalf("after unsubscribing: %d emails (was %d)", len(after), before)
	}
	logs := s.logs.String()
	for _, pii := range []string{addr, strings.ToUpper(addr), "127.0.0.77"} {
		if strings.Contains(logs, pii) {
			t.Errorf("a log line contains %q", pii)
		}
	}
}

func TestConcurrentSignupsOneConfirmation(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	addr := "race-" + localtest.Unique() + "@example.com"
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","consent":true}`, nil)
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 202 {
			t.Fatalf("a signup answered %d", c)
		}
	}
	time.Sleep(3 * time.Second)
	subs := 0
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "kind") == "subscription" {
			subs++
		}
	}
	n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(addr) }))
	if subs != 1 || n != 1 {
		t.Fatalf("%d subscriptions and %d confirmation emails, want 1 and 1", subs, n)
	}
}

func TestTokenAttacks(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	addr := "victim-" + localtest.Unique() + "@example.com"
	subject := s.hasher.Subject(addr)
	signer, _ := token.New(lambdaenv.DeriveSecrets(localSecret).TokenKey)
	forger, _ := token.New([]byte("an attacker's key of 32 bytes!!!"))
	mint := func(sg *token.Signer, p token.Purpose, exp time.Time) string {
		tok, err := sg.Sign(token.Claims{Purpose: p, Subject: subject, Expires: exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	good := mint(signer, token.Unsubscribe, future)
	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 1
	cases := map[string]string{
		"flipped bit":   string(flipped),
		"truncated":     good[:len(good)-5],
		"expired":       mint(signer, token.Unsubscribe, past),
		"other purpose": mint(signer, token.Preferences, future),
		"other key":     mint(forger, token.Unsubscribe, future),
		"missing":       "",
	}
	for name, tok := range cases {
		for _, m := range []string{"GET", "POST"} {
			resp, out := s.do(t, m, "/v1/unsubscribe?token="+tok, "", "", nil)
			if resp.StatusCode != 400 || !strings.Contains(out, `"invalid_token"`) {
				t.Errorf("%s %s: %d %s", name, m, resp.StatusCode, out)
			}
		}
	}
	// A confirm link for a signup that does not exist is refused too.
	confirm, _ := signer.Sign(token.Claims{Purpose: token.ConfirmSubscription, Subject: subject, Ref: "no-such-signup", Expires: future})
	if resp, out := s.do(t, "POST", "/v1/subscriptions/confirm?token="+confirm, "", "", nil); resp.StatusCode != 400 || !strings.Contains(out, "invalid_token") {
		t.Errorf("stale confirm: %d %s", resp.StatusCode, out)
	}
	if resp, _ := s.do(t, "POST", "/v1/unsubscribe?token="+good, "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the genuine token was refused: %d", resp.StatusCode)
	}
	// Only the genuine token changed anything: one suppression, one ledger entry.
	if n := len(s.items(t, "SuppressionTable")); n != 1 {
		t.Errorf("%d suppression items", n)
	}
	if n := len(s.items(t, "LedgerTable")); n != 1 {
		t.Errorf("%d ledger entries", n)
	}
}

// The signup form cannot be used to bomb inboxes: past the per-IP limit the
// answer stays 202 and nothing more is sent.
func TestSignupLimitPerIP(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	for i := 0; i < 25; i++ {
		resp, _ := s.do(t, "POST", "/v1/subscriptions", "application/json",
			fmt.Sprintf(`{"email":"flood%d-%s@example.com","consent":true}`, i, u), nil)
		if resp.StatusCode != 202 {
			t.Fatalf("signup %d: %d", i, resp.StatusCode)
		}
	}
	time.Sleep(3 * time.Second)
	n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return len(e.Destination.To) == 1 && strings.HasSuffix(e.Destination.To[0], "-"+u+"@example.com")
	}))
	if n != 20 {
		t.Fatalf("%d confirmation emails from one IP in an hour, want the limit of 20", n)
	}
}
