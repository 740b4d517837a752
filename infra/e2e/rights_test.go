package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
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
	// What the subject gave us before, and a similar address that is not theirs.
	for _, c := range []struct{ email, msg string }{{addr, "MINE-" + u}, {"subject-" + u + "@example.co", "OTHER-" + u}} {
		if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Sam","email":"`+c.email+`","message":"`+c.msg+`","marketing_opt_in":true}`, nil); resp.StatusCode != 202 {
			t.Fatalf("seed: %d %s", resp.StatusCode, out)
		}
	}
	before := time.Now().UTC()
	code, f := s.file(t, `{"email":"`+addr+`","name":"Sam","type":"access","relationship":"subscriber"}`)
	if code != 202 || f.Status != "identity_unverified" || f.ID == "" {
		t.Fatalf("intake: %d %+v", code, f)
	}
	due, err := time.Parse(time.RFC3339, f.DueAt)
	if err != nil || due.Before(privacy.AddCalendarMonths(before, 1).Add(-time.Minute)) || due.After(privacy.AddCalendarMonths(time.Now().UTC(), 1).Add(time.Minute)) {
		t.Fatalf("due %q is not one calendar month after receipt", f.DueAt)
	}
	// Its request_received entry is the mailer's, written from the
	// request's stream record under the mailer's template role (the stack
	// fails the test on any call IAM refuses): waited for, then read. It
	// names the type, regulation and relationship, not the filer's IP or
	// browser (the request is stored alone; nothing of the entry is
	// stripped at 90 days, so it is not filed for the sweep), and its hash
	// verifies.
	entry := s.waitLedger(t, "S#"+string(s.hasher.Subject(addr)), "request_received", 30*time.Second)
	if str(entry, "ref") != f.ID || str(entry, "legal_basis") != "legal_obligation" || str(entry, "policy_version") == "" ||
		mapStr(entry, "detail", "type") != "access" || mapStr(entry, "detail", "regulation") != "gdpr" ||
		mapStr(entry, "detail", "relationship") != "subscriber" || mapStr(entry, "detail", "source_ip") != "" ||
		mapStr(entry, "detail", "user_agent") != "" || str(entry, "retention_pk") != "" {
		t.Fatalf("request_received %v", entry)
	}
	scan, err := dynamo.New(s.DB(), dynamo.Tables{Ledger: s.Tables["LedgerTable"]}).ScanLedger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range scan {
		if e.Attrs["ref"] == "S:"+f.ID && (e.Hash == "" || ledger.Check(e) != "") {
			t.Fatalf("the request's entry does not verify: %+v", e)
		}
	}
	// The same request again (the same form sent twice) joins the first,
	// silently: the answer is a fresh request's (no id, status or deadline
	// of the open one).
	if code, again := s.file(t, `{"email":"`+strings.ToUpper(addr)+`","name":"Sam","type":"access","relationship":"subscriber"}`); code != 202 || again.ID == f.ID ||
		again.Status != "identity_unverified" || again.ID == "" {
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
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("verify #%d: %d %s", i+1, resp.StatusCode, out)
		}
	}
	if st := statusOf(); st != "completed" {
		t.Fatalf("status after verification %s", st)
	}
	// Access is fulfilled at once: an email with the export link, built
	// when opened, with everything the subject has and nothing of another.
	ready := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && strings.HasPrefix(e.Subject, "Your data is ready")
	})
	if len(ready) != 1 {
		t.Fatalf("%d 'data ready' emails", len(ready))
	}
	// The acknowledgement and the answer name the right to complain to a
	// supervisory authority (GDPR Art. 77), with where to find one.
	for _, m := range []localtest.Email{ack, ready[0]} {
		if !strings.Contains(m.Body.Text, "lodge a complaint with a data protection supervisory authority") ||
			!strings.Contains(m.Body.HTML, `<a href="https://www.edpb.europa.eu/about-edpb/about-edpb/members_en">`) {
			t.Fatalf("%q does not name the right to complain:\n%s", m.Subject, m.Body.Text)
		}
	}
	exportLink := regexp.MustCompile(`http://[^\s"<>]+/export\?token=[A-Za-z0-9_-]+`).FindString(ready[0].Body.Text)
	resp, out := s.do(t, "GET", s.path(t, exportLink), "", "", nil)
	var ex struct {
		Records    []map[string]any `json:"records"`
		Consent    []map[string]any `json:"consent_and_processing_events"`
		Requests   []map[string]any `json:"rights_requests"`
		Processing []map[string]any `json:"how_we_process"`
		Recipients []string         `json:"recipients"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &ex) != nil {
		t.Fatalf("export: %d %.300s", resp.StatusCode, out)
	}
	kinds := map[string]bool{}
	for _, r := range ex.Records {
		kinds[fmt.Sprint(r["kind"])] = true
	}
	if !kinds["inquiry"] || !kinds["subscription"] || len(ex.Consent) < 2 || len(ex.Requests) != 1 ||
		len(ex.Processing) == 0 || len(ex.Recipients) == 0 || !strings.Contains(out, "MINE-"+u) {
		t.Fatalf("export lacks records: kinds %v, %d events, %d requests", kinds, len(ex.Consent), len(ex.Requests))
	}
	if strings.Contains(out, "OTHER-"+u) || strings.Contains(out, `"pk"`) || strings.Contains(out, "verify_nonce") {
		t.Fatal("the export holds another subject's data or storage internals")
	}
	if !strings.Contains(statusBodyOf(t, s, status), "results_url") {
		t.Error("the status of a completed access request has no results_url")
	}
	// After 7 days the link answers 410.
	signer, _ := token.New(lambdaenv.DeriveSecrets(localSecret).TokenKey)
	old, _ := signer.Sign(token.Claims{Purpose: token.Export, Subject: s.hasher.Subject(addr), Ref: f.ID, Expires: time.Now().Add(-time.Second)})
	if resp, out := s.do(t, "GET", "/v1/rights-requests/"+f.ID+"/export?token="+old, "", "", nil); resp.StatusCode != 410 {
		t.Errorf("expired export link: %d %s", resp.StatusCode, out)
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

func statusBodyOf(t *testing.T, s *stack, link string) string {
	t.Helper()
	_, out := s.do(t, "GET", s.path(t, link), "", "", nil)
	return out
}

// Erasure leaves no trace of the address in any table, the request record
// included once the completion email has gone, while the suppression hash
// still holds back marketing after a new signup.
func TestErasureLeavesNoTrace(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "erase-" + u + "@example.com"
	other := "erase-" + u + "@example.co"
	for _, a := range []string{addr, other} {
		if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Eve `+u+`","email":"`+a+`","message":"Note `+a+`","marketing_opt_in":true}`, nil); resp.StatusCode != 202 {
			t.Fatalf("seed: %d %s", resp.StatusCode, out)
		}
	}
	if code, _ := s.file(t, `{"email":"`+addr+`","type":"access"}`); code != 202 { // an earlier request, with the address
		t.Fatal("earlier request")
	}
	code, f := s.file(t, `{"email":"`+addr+`","type":"erasure"}`)
	if code != 202 {
		t.Fatalf("erasure request: %d", code)
	}
	mails := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && strings.Contains(e.Body.Text, f.ID) && verifyLink.MatchString(e.Body.Text)
	})
	if len(mails) != 1 {
		t.Fatal("no verification email")
	}
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(mails[0].Body.Text)), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, "completed") {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && strings.HasPrefix(e.Subject, "Your erasure request")
	})
	if len(got) != 1 || !strings.Contains(got[0].Body.Text, "erased everything") {
		t.Fatalf("completion emails: %+v", got)
	}
	// Its receipt (#17) says what the ledger's one remaining entry says.
	claims := s.receipt(t, got[0])
	s.matchesLedger(t, claims, addr)
	if er, _ := claims["erasure"].(map[string]any); claims["event"] != "erasure_completed" || er["requestId"] != f.ID ||
		len(er["kept"].([]any)) != 2 || claims["piiPrincipalId"] != addr {
		t.Fatalf("erasure receipt %v", claims)
	}
	// The mailer strips the request's address right after that email.
	subjectPK := "S#" + string(s.hasher.Subject(addr))
	s.waitNoTrace(t, 20*time.Second, addr)
	for _, it := range s.items(t, "SubjectsTable") { // the other address's inquiry has the same name
		if b, _ := json.Marshal(it); str(it, "pk") == subjectPK && strings.Contains(string(b), "Eve "+u) {
			t.Fatalf("the erased subject's name is still held: %s", b)
		}
	}
	// What stays: the suppression hash (reason erased), the erasure's
	// ledger entry, and the person's earlier entries redacted: no detail,
	// their hash kept for the ledger's seal (docs/ledger.md).
	var reasons, events []string
	for _, it := range s.items(t, "SuppressionTable") {
		if str(it, "pk") == subjectPK {
			reasons = append(reasons, str(it, "sk"))
		}
	}
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") != subjectPK {
			continue
		}
		if str(it, "event") == "erased" {
			events = append(events, "erased")
			continue
		}
		if _, ok := it["detail"]; ok || (str(it, "detail_sha256") != "" && str(it, "redacted_by") != f.ID) || str(it, "h") == "" {
			b, _ := json.Marshal(it)
			t.Fatalf("a ledger entry of the erased person is not redacted: %s", b)
		}
	}
	if strings.Join(reasons, ",") != "erased" || strings.Join(events, ",") != "erased" {
		t.Fatalf("kept: suppression %v, ledger %v", reasons, events)
	}
	// The similar address is untouched.
	n := 0
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "email") == other {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("the other subject has %d items, want its inquiry and subscription", n)
	}
	// A later signup needs confirming; once confirmed, the person has asked
	// anew: marketing goes again (#16: the erasure's record stays, lifted).
	isConfirm := func(e localtest.Email) bool { return e.To(addr) && confirmLink.MatchString(e.Body.Text) }
	earlier := len(localtest.Emails(t, s.svc, isConfirm)) // the opt-in from before the erasure
	if resp, _ := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatal("signup after erasure")
	}
	conf := localtest.WaitEmails(t, s.svc, earlier+1, 20*time.Second, isConfirm)
	if len(conf) != earlier+1 {
		t.Fatal("no confirmation email after erasure")
	}
	if resp, _ := s.do(t, "POST", s.path(t, confirmLink.FindString(conf[len(conf)-1].Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatal("confirm after erasure")
	}
	if res := s.campaign(t, "after-erasure-"+u, "newsletter"); res["sent"] != 1 || res["skipped_suppressed"] != 0 {
		t.Fatalf("campaign after erasure and a confirmed new signup: %v", res)
	}
	for _, it := range s.items(t, "SuppressionTable") {
		if str(it, "pk") == subjectPK && (str(it, "sk") != "erased" || str(it, "lifted_at") == "") {
			t.Fatalf("the erasure's record after the new signup: %v", it)
		}
	}
}

// Objection turns all marketing off and suppresses it; a rectification goes
// to the team with the requested correction.
func TestObjectionWithdrawalPortabilityRectification(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "objector-" + u + "@example.com"
	verifyFor := func(id string) {
		t.Helper()
		mails := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(addr) && strings.Contains(e.Body.Text, id) && verifyLink.MatchString(e.Body.Text)
		})
		if len(mails) != 1 {
			t.Fatalf("no verification email for %s", id)
		}
		if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(mails[0].Body.Text)), "", "", nil); resp.StatusCode != 200 {
			t.Fatalf("verify: %d %s", resp.StatusCode, out)
		}
	}
	if resp, _ := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatal("signup")
	}
	_, obj := s.file(t, `{"email":"`+addr+`","type":"objection"}`)
	verifyFor(obj.ID)
	if st := str(s.subscription(t, addr), "status"); st != "unsubscribed" {
		t.Fatalf("subscription after objection: %q", st)
	}
	var reasons []string
	for _, it := range s.items(t, "SuppressionTable") {
		reasons = append(reasons, str(it, "sk"))
	}
	if !strings.Contains(strings.Join(reasons, ","), "objected") {
		t.Fatalf("suppression %v", reasons)
	}
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && strings.Contains(e.Subject, obj.ID+" is done")
	}); len(got) != 1 {
		t.Fatal("no completion email for the objection")
	}
	_, rect := s.file(t, `{"email":"`+addr+`","type":"rectification","details":"My name is Zoë `+u+`, not Zoe."}`)
	verifyFor(rect.ID)
	review := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.HasPrefix(e.Subject, "Correction to review: request "+rect.ID)
	})
	if len(review) != 1 || !strings.Contains(review[0].Body.Text, "Zoë "+u) {
		t.Fatalf("review email: %+v", review)
	}
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "id") == rect.ID && str(it, "status") != "awaiting_review" {
			t.Fatalf("rectification status %s", str(it, "status"))
		}
	}

	// Withdrawal of consent: the same as an objection, with its own reason.
	addr = "withdrawer-" + u + "@example.com"
	if resp, _ := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatal("signup")
	}
	_, wd := s.file(t, `{"email":"`+addr+`","type":"withdraw_consent"}`)
	verifyFor(wd.ID)
	if st := str(s.subscription(t, addr), "status"); st != "unsubscribed" {
		t.Fatalf("subscription after withdrawal: %q", st)
	}
	pk := "S#" + string(s.hasher.Subject(addr))
	found := false
	for _, it := range s.items(t, "SuppressionTable") {
		found = found || (str(it, "pk") == pk && str(it, "sk") == "unsubscribed")
	}
	if !found {
		t.Fatal("withdrawal did not suppress marketing")
	}
	s.mailTo(t, addr, wd.ID+" is done")

	// Portability: the same machine-readable export as access.
	addr = "porter-" + u + "@example.com"
	if resp, _ := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"P","email":"`+addr+`","message":"PORT-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatal("contact")
	}
	_, port := s.file(t, `{"email":"`+addr+`","type":"portability"}`)
	verifyFor(port.ID)
	ready := s.mailTo(t, addr, "Your data is ready")
	exportLink := regexp.MustCompile(`http://[^\s"<>]+/export\?token=[A-Za-z0-9_-]+`).FindString(ready.Body.Text)
	resp, out := s.do(t, "GET", s.path(t, exportLink), "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(out, "PORT-"+u) || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		t.Fatalf("portability export: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
}

// A finished request keeps no address: once an access request's last
// email (the export link) has gone, no table or index holds the address
// or the name given, though the record of the request stays.
func TestFinishedRequestKeepsNoAddress(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr, name := "finished-"+u+"@example.com", "Fin "+u
	code, f := s.file(t, `{"email":"`+addr+`","name":"`+name+`","type":"access","details":"details-`+u+`"}`)
	if code != 202 {
		t.Fatalf("intake: %d", code)
	}
	ack := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(addr) })
	if len(ack) != 1 {
		t.Fatalf("%d acknowledgements", len(ack))
	}
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(ack[0].Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	ready := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && strings.HasPrefix(e.Subject, "Your data is ready")
	})
	if len(ready) != 1 {
		t.Fatalf("%d 'data ready' emails", len(ready))
	}
	s.waitNoTrace(t, 20*time.Second, addr, name, "details-"+u)
	// The request is still on record, and its status and export still answer.
	var kept bool
	for _, it := range s.items(t, "RequestsTable") {
		kept = kept || str(it, "pk") == "R#"+f.ID && str(it, "status") == "completed"
	}
	if !kept {
		t.Fatal("the completed request's record is gone")
	}
	exportLink := regexp.MustCompile(`http://[^\s"<>]+/export\?token=[A-Za-z0-9_-]+`).FindString(ready[0].Body.Text)
	if resp, out := s.do(t, "GET", s.path(t, exportLink), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("export after the strip: %d %.200s", resp.StatusCode, out)
	}
}
