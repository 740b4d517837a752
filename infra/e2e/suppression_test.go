package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Suppressions people can see and lift: the preferences say why marketing
// is held back; a fresh confirmed double opt-in after an erasure, an
// objection or a hard bounce lifts it (the ledger keeps the proof), so the
// next campaign reaches them; an erasure's record outlives the lift, so a
// restore's re-applied erasure deletes what was erased and nothing given
// since; the team sees and lifts suppressions by command.
func TestResignupLiftsSuppressions(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	ctx := context.Background()
	store := dynamo.New(s.DB(), dynamo.Tables{Subjects: s.Tables["SubjectsTable"], Ledger: s.Tables["LedgerTable"],
		Suppression: s.Tables["SuppressionTable"], Requests: s.Tables["RequestsTable"]})
	erased, objected, bounced, fixed := "erased-"+u+"@example.com", "objected-"+u+"@example.com",
		"bounced-"+u+"@example.com", "fixed-"+u+"@example.com"

	// The erased person wrote once, then had everything erased.
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"E","email":"`+erased+`","message":"BEFORE-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, erased, "We received your message")
	_, verify, _ := s.fileAndOpen(t, erased, `{"email":"`+erased+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("erasure: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, erased, "Your erasure request")
	s.waitNoTrace(t, 20*time.Second, erased, "BEFORE-"+u)
	erasedAt := time.Now().UTC()
	// The objector objected to marketing; two addresses bounced hard.
	_, verify, _ = s.fileAndOpen(t, objected, `{"email":"`+objected+`","type":"objection"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("objection: %d %s", resp.StatusCode, out)
	}
	if err := store.Suppress(ctx, s.hasher.Subject(bounced), privacy.SuppressBounced, privacy.Event{Subject: s.hasher.Subject(bounced),
		Name: "hard_bounce", At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// The preferences say why, before anything is lifted.
	signer, _ := token.New(lambdaenv.DeriveSecrets(localSecret).TokenKey)
	signup := func(addr string) {
		t.Helper()
		if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
			t.Fatalf("signup: %d %s", resp.StatusCode, out)
		}
		link := confirmLink.FindString(s.mailTo(t, addr, "Please confirm your subscription").Body.Text)
		if resp, out := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"confirmed"`) {
			t.Fatalf("confirm: %d %s", resp.StatusCode, out)
		}
	}
	signup(fixed) // confirmed, but not mailed: the bounce holds it back until the team lifts it below
	if err := store.Suppress(ctx, s.hasher.Subject(fixed), privacy.SuppressBounced, privacy.Event{Subject: s.hasher.Subject(fixed),
		Name: "hard_bounce", At: time.Now()}); err != nil {
		t.Fatal(err) // bounced again after its confirmation
	}
	fixedPrefs, _ := signer.Sign(token.Claims{Purpose: token.Preferences, Subject: s.hasher.Subject(fixed), Expires: time.Now().Add(time.Hour)})
	resp, out := s.do(t, "GET", "/v1/preferences?token="+fixedPrefs, "", "", nil)
	var body struct {
		Suppressed []string `json:"suppressed_because"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &body) != nil || len(body.Suppressed) != 1 || body.Suppressed[0] != "bounced" {
		t.Fatalf("preferences: %d %s", resp.StatusCode, out)
	}
	resp, page := s.do(t, "GET", "/v1/preferences?token="+fixedPrefs, "", "", map[string]string{"accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(page, "could not be delivered") {
		t.Fatalf("preferences page: %d", resp.StatusCode)
	}

	// Each asks anew, and confirms: the next campaign reaches all three.
	for _, addr := range []string{erased, objected, bounced} {
		signup(addr)
	}
	res := s.campaign(t, "back-"+u, "newsletter")
	if res["sent"] != 3 || res["skipped_suppressed"] != 1 {
		t.Fatalf("campaign after the re-signups: %v (want 3 sent, the bounced-again address skipped)", res)
	}
	for _, addr := range []string{erased, objected, bounced} {
		s.mailTo(t, addr, "News back-"+u)
	}
	var proofs int
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == "suppression_lifted" {
			proofs++
		}
	}
	if proofs != 3 {
		t.Fatalf("%d suppression_lifted ledger entries, want 3", proofs)
	}

	// The team sees the erasure's record, lifted, and lifts the new bounce.
	if out, err := s.privacyctl(t, "suppression", "show", "-email", erased); err != nil || !strings.Contains(out, "erased") ||
		!strings.Contains(out, "false") {
		t.Fatalf("suppression show: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "suppression", "lift", "-email", fixed); err == nil {
		t.Fatalf("a lift without a reason: %s", out)
	}
	if out, err := s.privacyctl(t, "suppression", "lift", "-email", fixed, "-reason", "The mailbox works again."); err != nil ||
		!strings.Contains(out, "bounced") {
		t.Fatalf("suppression lift: %v %s", err, out)
	}
	if reasons, _ := store.Suppressions(ctx, s.hasher.Subject(fixed)); len(reasons) != 0 {
		t.Fatalf("still suppressed: %v", reasons)
	}

	// A restore brings back what was erased; the erasure re-applied
	// deletes it again, and keeps the subscription given since.
	old := privacy.NewInquiry("restored-"+u, s.hasher.Subject(erased), privacy.ContactForm{Name: "E", Email: erased,
		Message: "BEFORE-" + u}, "v", privacy.RequestMeta{ReceivedAt: erasedAt.Add(-time.Hour)})
	if err := store.SaveInquiry(ctx, old); err != nil {
		t.Fatal(err)
	}
	if out, err := s.privacyctl(t, "reapply-erasures"); err != nil {
		t.Fatalf("reapply-erasures: %v %s", err, out)
	}
	if found := s.traces(t, "BEFORE-"+u); len(found) != 0 {
		t.Fatalf("the restored pre-erasure inquiry survived: %v", found)
	}
	if st := str(s.subscription(t, erased), "status"); st != "confirmed" {
		t.Fatalf("the subscription given after the erasure: %q", st)
	}
	if res := s.campaign(t, "again-"+u, "newsletter"); res["sent"] != 4 {
		t.Fatalf("campaign after the re-applied erasure: %v", res)
	}
}
