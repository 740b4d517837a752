package e2e

import (
	"context"
	"encoding/json"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Seventh hostile review (after 2ea1028: the tamper-evident ledger, the
// consent proof, the two-member suppression lift, the report and audit
// downloads, the forms/rights/preferences/session/feedback/pages split
// into services and HTTP adapters). Each test asserts what the project
// promises; a failure is the finding.

// R7-1. The receipt key signs the ledger's daily roots too, and
// docs/ledger.md says the JWS "typ" tells the two apart; but nothing
// reads typ: receipt.VerifyPayload checks alg, kid and signature only,
// and receipt.Verify unmarshals any payload into a Receipt (unknown
// fields ignored). So a stranger takes any root from the public
// GET /.well-known/ledger/roots, pastes it into the company's own
// receipt checker, and is told "This receipt is genuine": a signed
// document of the company's that is no receipt at all (no event, no
// person, no consent) is vouched for as one, to whoever the stranger
// shows it. The checker must refuse a JWS whose typ is not a receipt's.
func TestAbuseReview7LedgerRootPassesAsAGenuineReceipt(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	s.seedLedger(t, privacy.Event{Subject: privacy.SubjectID("r7-root-" + u), Name: "subscribe_requested", At: yesterday(),
		Ref: "sub-r7", Purpose: privacy.PurposeMarketing, LegalBasis: privacy.BasisConsent})
	s.seal(t)

	// The stranger: the public roots, no credentials.
	resp, body := s.do(t, "GET", "/.well-known/ledger/roots", "", "", nil)
	var page ledger.Page
	if err := json.Unmarshal([]byte(body), &page); resp.StatusCode != 200 || err != nil || len(page.Roots) == 0 {
		t.Fatalf("roots: %d %s", resp.StatusCode, body)
	}
	root := page.Roots[0].JWS

	resp, out := s.do(t, "POST", "/v1/receipts/verify", "application/json", `{"receipt":"`+root+`"}`, nil)
	var v struct {
		Valid bool `json:"valid"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("verify route: %d %s", resp.StatusCode, out)
	}
	if v.Valid {
		t.Errorf("the receipt checker calls the ledger root of %s a genuine receipt (typ %s, not a receipt's): %d %s",
			page.Roots[0].Day, ledger.JWSType, resp.StatusCode, out)
	}
	resp, out = s.do(t, "POST", "/v1/receipts/verify", "application/x-www-form-urlencoded", "receipt="+root,
		map[string]string{"Accept": "text/html"})
	if strings.Contains(out, "This receipt is genuine") {
		t.Errorf("the receipt checker's page says a ledger root is a genuine receipt: %d", resp.StatusCode)
	}
}

// R7-2. A stranger's opt-in makes the victim's consent proof name a
// sentence the victim never saw. The stranger ticks the contact form's
// newsletter box with the victim's address (the contact form's own
// sentence, source contact_form). Later the victim signs up on the signup
// form, which shows them the signup form's sentence. A pending signup is
// never replaced (so that a stranger cannot swap its terms), so the
// victim's signup writes nothing of its own (within the cooldown not even
// a ledger entry) and the only link the victim gets is the stranger's
// signup's. The victim confirms it, and the ledger's
// subscription_confirmed, the CONSENT# proof and the signed receipt all
// say the victim agreed to the contact form's sentence, on the contact
// form: evidence of words the victim was never shown, on a form they
// never used, while the words they did agree to are recorded nowhere.
// Neither the confirmation email nor the confirmation page shows the
// sentence being recorded, so the confirmation is no proof of it either.
// It is the abuse list's "capture" (the person's own later filing joins
// the stranger's), the other side of the fourth review's fix (a
// stranger's signup no longer replaces the person's pending one): the
// stranger's name, topics, language and form are what the person
// confirms. Issue #33 item 1: "every consent records the exact sentence
// shown".
// What would be true: the confirmation records what the confirming person
// was shown (the page of the link shows the sentence it records), or the
// person's own signup's sentence is the one confirmed.
func TestAbuseReview7StrangersOptInPutsUnseenSentenceInVictimsProof(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	victim := "r7-victim-" + localtest.Unique() + "@example.com"

	// The stranger, on the contact form, with the victim's address.
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Mallory","email":"`+victim+
		`","message":"hello","marketing_opt_in":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("stranger's contact: %d %s", resp.StatusCode, out)
	}
	// The victim, on the signup form, which shows the signup form's sentence.
	seenVersion, seenText := privacy.Consent(privacy.SourceSignupForm, "en")
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+victim+`","consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("victim's signup: %d %s", resp.StatusCode, out)
	}
	mails := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(victim) && confirmLink.MatchString(e.Body.Text)
	})
	if len(mails) == 0 {
		t.Fatal("no confirmation email")
	}
	link := s.path(t, confirmLink.FindString(mails[len(mails)-1].Body.Text))
	_, page := s.do(t, "GET", link, "", "", map[string]string{"Accept": "text/html"})
	if resp, out := s.do(t, "POST", link, "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("victim's confirmation: %d %s", resp.StatusCode, out)
	}

	confirmed := s.ledgerEvent(t, victim, "subscription_confirmed")
	recorded := detail(confirmed, "consent_text_version")
	proof := s.consentProof(t, victim)
	if recorded == seenVersion && str(proof, "consent_text_version") == seenVersion {
		return // the sentence the victim saw is the one recorded
	}
	recordedText := privacy.ConsentTexts()[recorded]
	if recordedText == "" || !strings.Contains(html.UnescapeString(page), recordedText) {
		t.Errorf("the victim signed up on the signup form, shown %q (%s); confirming the only link they got (%d emails) recorded %q (%q, source %s) in the ledger and %q in the consent proof: a sentence shown to the victim on no form, in no email and not on the confirmation page",
			seenText, seenVersion, len(mails), recorded, recordedText, detail(confirmed, "source"), str(proof, "consent_text_version"))
	}
}

// operatorAs runs one privacyctl action as API Gateway hands it to
// OperatorFunction for an IAM caller whose ARN is arn (the event of
// POST /v1/operator behind its AWS_IAM authorizer), and returns the
// route's status and body.
func (s *stack) operatorAs(t *testing.T, arn, action string, args map[string]any) (int, string) {
	t.Helper()
	return s.operatorOn(t, arn, action, "", args)
}

// operatorOn is operatorAs of an action on id (a request, a processor, an
// ask).
func (s *stack) operatorOn(t *testing.T, arn, action, id string, args map[string]any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"action": action, "id": id, "args": args})
	ev, _ := json.Marshal(map[string]any{"version": "2.0", "routeKey": "POST /v1/operator", "rawPath": "/v1/operator",
		"headers": map[string]string{"content-type": "application/json"}, "body": string(body), "isBase64Encoded": false,
		"requestContext": map[string]any{"requestId": "r7-" + localtest.Unique(), "routeKey": "POST /v1/operator",
			"http":       map[string]string{"method": "POST", "path": "/v1/operator", "sourceIp": "192.0.2.7"},
			"authorizer": map[string]any{"iam": map[string]any{"userArn": arn, "accountId": "000000000000"}}}})
	resp, out := s.do(t, "POST", "/_local/invoke/OperatorFunction", "application/json", string(ev), nil)
	var r struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal([]byte(out), &r); resp.StatusCode != 200 || err != nil {
		t.Fatalf("invoke the operator: %d %s", resp.StatusCode, out)
	}
	return r.StatusCode, r.Body
}

// R7-3. In AWS the team acts through a role holding PrivacyTeamPolicy
// (docs/operations.md: "your own credentials (a role holding
// PrivacyTeamPolicy)"), and the operator takes API Gateway's userArn as
// the member: for an assumed role that is
// arn:aws:sts::<account>:assumed-role/<role>/<session name>, and the
// session name is whatever the caller passes to sts:AssumeRole
// (RoleSessionName; AWS STS AssumeRole reference: "The role session name
// is also used in the ARN of the assumed role principal", any of
// [\w+=,.@-], 2 to 64 characters, unless the role's trust policy pins it
// with the sts:RoleSessionName condition key, which nothing here sets or
// documents). So one person asks to lift a complaint as session
// "alice", assumes the same role again as "alice-2", and approves their
// own ask: the complaint is lifted by one member, which issue #33 item 3
// and privacy.SecondMemberLifts forbid. The local gateway's development
// users are IAM users, so the test hands OperatorFunction the event API
// Gateway hands it for such a caller (through the gateway's invoke route).
// The same holds across channels: the console names a member by the
// e-mail of their sign-in, privacyctl by their IAM ARN, so a member who
// holds both (a DPO with a console login and team credentials) asks in
// one and approves in the other.
func TestAbuseReview7OneRoleTwoSessionNamesLiftAComplaint(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	addr := "r7-complainer-" + localtest.Unique() + "@example.com"
	subject := s.hasher.Subject(addr)
	store := dynamo.New(s.DB(), dynamo.Tables{Ledger: s.Tables["LedgerTable"], Suppression: s.Tables["SuppressionTable"]})
	if err := store.Suppress(context.Background(), subject, privacy.SuppressComplained, privacy.Event{Subject: subject,
		Name: "complained", At: time.Now().UTC(), Ref: "ses-r7", Purpose: privacy.PurposeMarketing,
		LegalBasis: privacy.BasisLegitimateInterest}); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:sts::000000000000:assumed-role/PrivacyTeam/"
	args := map[string]any{"email": addr, "reason": "asked by phone"}
	if status, out := s.operatorAs(t, role+"alice", "suppression lift", args); status != 200 || !strings.Contains(out, "awaiting") {
		t.Fatalf("alice's ask: %d %s", status, out)
	}
	if status, out := s.operatorAs(t, role+"alice", "suppression lift", args); status == 200 {
		t.Fatalf("alice approved her own ask under the same session name: %s", out)
	}
	status, out := s.operatorAs(t, role+"alice-2", "suppression lift", args)
	if !slices.Contains(s.suppressed(t, addr), privacy.SuppressComplained) {
		t.Errorf("one person (role PrivacyTeam, session names alice and alice-2) lifted a complaint alone: %d %s; suppressions now %v",
			status, out, s.suppressed(t, addr))
	}
}
