package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

var (
	ctlOnce sync.Once
	ctlPath string
	ctlErr  error
)

// privacyctl runs the operator command, built once, as the team would: a
// team action through the gateway's IAM-authorised operator route, signed
// as the local IAM user dpo (dpoARN is who the ledger names); a
// maintenance command as the engineer on call (the local user holding
// PrivacyMaintenancePolicy), against the stack's AWS front, which checks
// each of its calls against that policy.
func (s *stack) privacyctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return s.privacyctlAs(t, nil, args...)
}

// privacyctlAs runs privacyctl as privacyctl does, a team action signed
// as as (another member's development user) when not nil.
func (s *stack) privacyctlAs(t *testing.T, as *local.Identity, args ...string) (string, error) {
	t.Helper()
	ctlOnce.Do(func() {
		ctlPath = filepath.Join(localtest.Root(), ".local", "e2e-build", "privacyctl")
		build := exec.Command("go", "build", "-o", ctlPath, "./infra/privacyctl")
		build.Dir = localtest.Root()
		out, err := build.CombinedOutput()
		if err != nil {
			ctlErr = err
			t.Logf("%s", out)
		}
	})
	if ctlErr != nil {
		t.Fatalf("build privacyctl: %v", ctlErr)
	}
	var who local.Identity
	switch args[0] {
	case "reapply-erasures", "retention", "replay", "platform":
		args = append(args, "-requests-table", s.Tables["RequestsTable"], "-subjects-table", s.Tables["SubjectsTable"],
			"-ledger-table", s.Tables["LedgerTable"], "-ops-table", s.Tables["OpsTable"], "-records-table", s.Tables["RecordsTable"],
			"-suppression-table", s.Tables["SuppressionTable"], "-platform-requests-table", s.Tables["PlatformRequestsTable"])
		who = local.DevIdentities()[2]
	case "ledger":
		args = append(args, "-ledger-table", s.Tables["LedgerTable"], "-ops-table", s.Tables["OpsTable"],
			"-roots-table", s.Tables["LedgerRootsTable"])
		who = local.DevIdentities()[2]
	default:
		args = append(args, "-api", s.URL+"/v1/operator")
		who = local.DevIdentities()[1]
		if as != nil {
			who = *as
		}
	}
	cmd := exec.Command(ctlPath, args...)
	cmd.Dir = localtest.Root()
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+who.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+who.SecretAccessKey,
		"AWS_REGION=us-east-1", "AWS_SESSION_TOKEN=", "PRIVACYCTL_API=", "AWS_ENDPOINT_URL="+s.URL)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dpoARN is who the ledger names for a decision made with privacyctl.
var dpoARN = local.DevIdentities()[1].ARN

// fileAndOpen files a request and returns its id and the links of its
// acknowledgement.
func (s *stack) fileAndOpen(t *testing.T, addr, body string) (id, verify, status string) {
	t.Helper()
	code, f := s.file(t, body)
	if code != 202 || f.ID == "" {
		t.Fatalf("file %s: %d %+v", body, code, f)
	}
	acks := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && strings.Contains(e.Subject, f.ID) && strings.Contains(e.Subject, "confirm it is you")
	})
	if len(acks) != 1 {
		t.Fatalf("%d acknowledgements of %s", len(acks), f.ID)
	}
	return f.ID, verifyLink.FindString(acks[0].Body.Text), statusLink.FindString(acks[0].Body.Text)
}

func (s *stack) mailTo(t *testing.T, addr, subjectPart string) localtest.Email {
	t.Helper()
	got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && strings.Contains(e.Subject, subjectPart)
	})
	if len(got) != 1 {
		t.Fatalf("%d emails to %s about %q", len(got), addr, subjectPart)
	}
	return got[0]
}

func TestRestrictionHoldsBackMarketingAndSalesUntilLifted(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "restricted-" + u + "@example.com"
	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction","details":"my address is disputed"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, addr, "Your data is restricted")

	// While restricted: a contact form with a newsletter opt-in. The sender
	// is acknowledged; the team gets a notice without the message (no sales
	// follow-up); no newsletter confirmation goes out.
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"R","email":"`+addr+
		`","message":"SECRET-`+u+`","marketing_opt_in":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, addr, "We received your message")
	notice := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(s.team) && strings.Contains(e.Subject, "Inquiry held") })
	if len(notice) != 1 || !strings.Contains(notice[0].Body.Text, id) || strings.Contains(notice[0].Body.Text, "SECRET-"+u) ||
		strings.Contains(notice[0].Body.Text, addr) {
		t.Fatalf("team notice: %+v", notice)
	}
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(s.team) && strings.Contains(e.Body.Text, "SECRET-"+u) })); n != 0 {
		t.Fatal("the inquiry itself reached the team while processing is restricted")
	}
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return e.To(addr) && strings.Contains(e.Subject, "confirm your subscription")
	})); n != 0 {
		t.Fatal("a newsletter confirmation went to a restricted subject")
	}

	// The team lifts it with a reason; the requester is told; a new signup
	// is confirmed as usual again.
	if out, err := s.privacyctl(t, "lift", id); err == nil || !strings.Contains(out, "reason is required") {
		t.Fatalf("lift without a reason: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "lift", id, "-reason", "The address is confirmed correct."); err != nil {
		t.Fatalf("lift: %v %s", err, out)
	}
	lifted := s.mailTo(t, addr, "restriction of your data is lifted")
	if !strings.Contains(lifted.Body.Text, "The address is confirmed correct.") {
		t.Fatalf("lift email: %s", lifted.Body.Text)
	}
	if resp, _ := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatal("signup")
	}
	s.mailTo(t, addr, "confirm your subscription")
}

func TestTeamDecisionsThroughTheOperatorCommand(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	deny, ext, fix := "deny-"+u+"@example.com", "extend-"+u+"@example.com", "fix-"+u+"@example.com"
	// The team decides on verified requests only (an unverified one's
	// address is nobody's proven: TestAbuseTeamStepsOnAStrangersFilingMailNobody).
	denyID, denyVerify, denyStatus := s.fileAndOpen(t, deny, `{"email":"`+deny+`","type":"rectification","details":"Surname is Smyth"}`)
	extID, extVerify, extStatus := s.fileAndOpen(t, ext, `{"email":"`+ext+`","type":"rectification","regulation":"ccpa","details":"Surname is Lee"}`)
	for _, v := range []string{denyVerify, extVerify} {
		if resp, out := s.do(t, "POST", s.path(t, v), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
			t.Fatalf("verify: %d %s", resp.StatusCode, out)
		}
	}
	fixID, fixVerify, _ := s.fileAndOpen(t, fix, `{"email":"`+fix+`","type":"rectification","details":"Surname is Muller-Lee"}`)
	if resp, out := s.do(t, "POST", s.path(t, fixVerify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("verify rectification: %d %s", resp.StatusCode, out)
	}

	// list: the open requests, earliest due first, without personal data.
	out, err := s.privacyctl(t, "list")
	if err != nil || !strings.Contains(out, denyID) || !strings.Contains(out, extID) || !strings.Contains(out, fixID) ||
		strings.Contains(out, deny) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := s.privacyctl(t, "list", "-status", "awaiting_review"); err != nil || !strings.Contains(out, fixID) || !strings.Contains(out, denyID) {
		t.Fatalf("list by status: %v\n%s", err, out)
	}
	if out, err := s.privacyctl(t, "list", "-status", "identity_unverified"); err != nil || strings.Contains(out, fixID) || strings.Contains(out, denyID) {
		t.Fatalf("list by another status: %v\n%s", err, out)
	}
	if out, err := s.privacyctl(t, "list", "-overdue"); err != nil || strings.Contains(out, denyID) {
		t.Fatalf("nothing is overdue yet: %v\n%s", err, out)
	}

	// deny: reason required, stored, emailed, shown in the status.
	if out, err := s.privacyctl(t, "deny", denyID, "-reason", "We could not match this address to any record."); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	denied := s.mailTo(t, deny, "We cannot carry out your request")
	if !strings.Contains(denied.Body.Text, "We could not match this address") || !strings.Contains(denied.Body.Text, "supervisory authority") {
		t.Fatalf("denial email: %s", denied.Body.Text)
	}
	if st := statusBodyOf(t, s, denyStatus); !strings.Contains(st, `"status":"denied"`) || !strings.Contains(st, "could not match") {
		t.Fatalf("status of a denied request: %s", st)
	}

	// extend: CCPA, 45 more days; the requester gets the date and reason.
	out, err = s.privacyctl(t, "extend", extID, "-reason", "Many requests this month.")
	if err != nil {
		t.Fatalf("extend: %v %s", err, out)
	}
	if m := s.mailTo(t, ext, "We need more time"); !strings.Contains(m.Body.Text, "Our reason: Many requests this month.") {
		t.Fatalf("extension email without its reason: %s", m.Body.Text)
	}
	var st struct {
		DueAt         string `json:"due_at"`
		ExtendedUntil string `json:"extended_until"`
	}
	if err := json.Unmarshal([]byte(statusBodyOf(t, s, extStatus)), &st); err != nil {
		t.Fatal(err)
	}
	due, _ := time.Parse(time.RFC3339, st.DueAt)
	until, _ := time.Parse(time.RFC3339, st.ExtendedUntil)
	if !until.Equal(due.AddDate(0, 0, 45)) {
		t.Fatalf("extended until %s, first due %s", st.ExtendedUntil, st.DueAt)
	}
	if out, err := s.privacyctl(t, "extend", extID, "-reason", "more"); err == nil {
		t.Fatalf("a second extension beyond the limit was accepted: %s", out)
	}

	// complete a rectification; show has the whole story in the ledger.
	if out, err := s.privacyctl(t, "complete", denyID); err == nil {
		t.Fatalf("completing a denied request: %s", out)
	}
	if out, err := s.privacyctl(t, "complete", fixID, "-note", "Surname corrected."); err != nil {
		t.Fatalf("complete: %v %s", err, out)
	}
	if done := s.mailTo(t, fix, "Your data is corrected"); !strings.Contains(done.Body.Text, "Surname corrected.") {
		t.Fatalf("rectification email: %s", done.Body.Text)
	}
	out, err = s.privacyctl(t, "show", fixID)
	var shown struct {
		Request struct{ Status, DecidedBy string }
		Ledger  []map[string]any
	}
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil {
		t.Fatalf("show: %v %s", err, out)
	}
	var events []string
	for _, e := range shown.Ledger {
		events = append(events, e["event"].(string))
	}
	if shown.Request.Status != "completed" || !strings.Contains(strings.Join(events, ","), "review_requested") ||
		!strings.Contains(strings.Join(events, ","), "rectification_done") {
		t.Fatalf("show: %s", out)
	}
	// The ledger names the IAM identity that decided (the operator route's
	// caller, not a name the command was given), and that saw the request.
	by := func(ledger []map[string]any, event string) []string {
		var who []string
		for _, e := range ledger {
			if d, _ := e["detail"].(map[string]any); e["event"] == event {
				who = append(who, fmt.Sprint(d["by"]))
			}
		}
		return who
	}
	if got := by(shown.Ledger, "rectification_done"); len(got) != 1 || got[0] != dpoARN {
		t.Fatalf("rectification_done by %v, want %s", got, dpoARN)
	}
	out, err = s.privacyctl(t, "show", fixID)
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil {
		t.Fatalf("show: %v %s", err, out)
	}
	if got := by(shown.Ledger, "request_viewed"); len(got) != 1 || got[0] != dpoARN {
		t.Fatalf("request_viewed by %v after one show, want [%s]", got, dpoARN)
	}
	if out, err := s.privacyctl(t, "show", "00000000-0000-4000-8000-000000000000"); err == nil {
		t.Fatalf("show of an unknown request: %s", out)
	}
}

// Legal holds by command: a held person's verified erasure is withheld
// (the requester told only that a legal obligation keeps the data), the
// team sees the hold and its reason with the request; once lifted, a new
// erasure erases.
func TestLegalHoldByCommand(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "held-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"H","email":"`+addr+`","message":"KEEP-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "hold", "add", "-email", addr, "-reason", "litigation LIT-"+u, "-until", "2099-01-01"); err != nil ||
		!strings.Contains(out, "legal hold placed") {
		t.Fatalf("hold add: %v %s", err, out)
	}
	if out, _ := s.privacyctl(t, "hold", "list"); !strings.Contains(out, "LIT-"+u) || !strings.Contains(out, "2099-01-01") || strings.Contains(out, addr) {
		t.Fatalf("hold list: %s", out)
	}
	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	mail := s.mailTo(t, addr, "Your erasure request")
	if !strings.Contains(mail.Body.Text, "legal hold") || strings.Contains(mail.Body.Text, "LIT-"+u) {
		t.Fatalf("the requester's email:\n%s", mail.Body.Text)
	}
	if out, err := s.privacyctl(t, "show", id); err != nil || !strings.Contains(out, `"legal_hold"`) || !strings.Contains(out, "LIT-"+u) {
		t.Fatalf("show: %v %s", err, out)
	}
	kept := false
	for _, it := range s.items(t, "SubjectsTable") {
		kept = kept || str(it, "message") == "KEEP-"+u
	}
	if !kept {
		t.Fatal("the held inquiry was erased")
	}
	if out, err := s.privacyctl(t, "hold", "lift", "-email", addr, "-reason", "settled"); err != nil || !strings.Contains(out, "lifted") {
		t.Fatalf("hold lift: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "hold", "lift", "-email", addr, "-reason", "settled"); err == nil {
		t.Fatalf("a second lift succeeded: %s", out)
	}
}

// After a point-in-time restore brings an erased person back, privacyctl
// reapply-erasures erases them again from the (kept) suppression list; a
// second run deletes nothing more.
func TestErasureReappliedAfterARestore(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "restored-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"R","email":"`+addr+`","message":"BACK-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	_, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, addr, "Your erasure request")
	back := func() bool {
		for _, it := range s.items(t, "SubjectsTable") {
			if str(it, "message") == "BACK-"+u {
				return true
			}
		}
		return false
	}
	if back() {
		t.Fatal("not erased in the first place")
	}
	// The restore: the inquiry is back, as in a table restored to before
	// the erasure (the suppression table is kept, as the runbook says).
	store := dynamo.New(s.DB(), dynamo.Tables{Subjects: s.Tables["SubjectsTable"], Ledger: s.Tables["LedgerTable"]})
	inq := privacy.NewInquiry("inq-"+u, s.hasher.Subject(addr), privacy.ContactForm{Name: "R", Email: addr, Topic: "demo",
		Message: "BACK-" + u}, "v", privacy.RequestMeta{ReceivedAt: time.Now().Add(-time.Hour)})
	if err := store.SaveInquiry(context.Background(), inq); err != nil || !back() {
		t.Fatalf("restore stand-in: %v", err)
	}
	// The stand-in's write is an INSERT on the stream (a restore's is
	// not): the mailer writes the inquiry's ledger entry from it, which
	// the first run below then redacts. Waited for (the stack idle: the
	// stream read to its end), so that the second run finds nothing new.
	s.idle(t)
	out, err := s.privacyctl(t, "reapply-erasures")
	if err != nil || !strings.Contains(out, `"erased_subjects":1`) || strings.Contains(out, `"items_deleted_again":0`) {
		t.Fatalf("reapply: %v %s", err, out)
	}
	if back() {
		t.Fatal("the restored inquiry is still there")
	}
	if out, err := s.privacyctl(t, "reapply-erasures"); err != nil || !strings.Contains(out, `"items_deleted_again":0`) {
		t.Fatalf("second run: %v %s", err, out)
	}
}

// The operator route runs only for a caller the IAM authorizer admits: an
// unsigned request, or one signed with keys IAM does not know, is refused
// by the gateway (403) before the function runs, and changes nothing.
func TestOperatorRouteOnlyForIAMCallers(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	hold := `{"action":"hold add","args":{"email":"mallory-target@example.com","reason":"forged"}}`
	if resp, body := s.do(t, "POST", "/v1/operator", "application/json", hold, nil); resp.StatusCode != 403 {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, body)
	}
	// Signed, but with the DynamoDB Local keys: not an IAM user here.
	ctl := func(key, secret string, args ...string) (string, error) {
		cmd := exec.Command(ctlPath, append(args, "-api", s.URL+"/v1/operator")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION=us-east-1", "AWS_SESSION_TOKEN=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, _ := s.privacyctl(t, "hold", "list"); strings.Contains(out, "forged") { // builds privacyctl too
		t.Fatalf("the unsigned hold was placed: %s", out)
	}
	if out, err := ctl("local", "local", "hold", "add", "-email", "mallory-target@example.com", "-reason", "forged"); err == nil ||
		!strings.Contains(out, "403") {
		t.Fatalf("signed with unknown keys: %v %s", err, out)
	}
	dpo := local.DevIdentities()[1]
	if out, err := ctl(dpo.AccessKeyID, "not-"+dpo.SecretAccessKey, "hold", "list"); err == nil || !strings.Contains(out, "403") {
		t.Fatalf("signed with a wrong secret: %v %s", err, out)
	}
	// A known IAM user whose policy does not allow execute-api:Invoke on
	// the route (the engineer on call holds PrivacyMaintenancePolicy) is
	// refused before the function runs, and the gateway says why.
	s.expectRefusals = true
	m := local.DevIdentities()[2]
	if out, err := ctl(m.AccessKeyID, m.SecretAccessKey, "hold", "add", "-email", "mallory-target@example.com", "-reason", "forged"); err == nil ||
		!strings.Contains(out, "403") {
		t.Fatalf("signed by a user without PrivacyTeamPolicy: %v %s", err, out)
	}
	if !strings.Contains(s.logs.String(), "IAM refused "+m.ARN) || !strings.Contains(s.logs.String(), "execute-api:Invoke on arn:aws:execute-api:") {
		t.Fatalf("the refusal is not logged:\n%s", s.logs.String())
	}
	if out, err := s.privacyctl(t, "hold", "list"); err != nil || strings.Contains(out, "forged") {
		t.Fatalf("hold list: %v %s", err, out)
	}
	if n := len(s.items(t, "SubjectsTable")); n != 0 {
		t.Fatalf("%d subject items after refused calls", n)
	}
	// Bad input from an admitted caller is a 400 with the reason, and
	// changes nothing.
	if out, err := s.privacyctl(t, "hold", "add", "-email", "not-an-address", "-reason", "x"); err == nil ||
		!strings.Contains(out, "valid address") || !strings.Contains(out, "(400)") {
		t.Fatalf("hold add with a bad address: %v %s", err, out)
	}
	if n := len(s.items(t, "LedgerTable")); n != 0 {
		t.Fatalf("%d ledger entries after refused calls", n)
	}
}
