package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/ropa"
)

// The legal basis is the published policy version's (#34 item 6): the
// pages, the records and the receipts say what the version in force says
// (legitimate interest for marketing email, policy section 4, until a
// version says otherwise); a version that changes a basis must be a
// material change; one that does changes what is told from its day, and
// leaves what was recorded before as it was.
func TestLegalBasisIsThePolicys(t *testing.T) {
	t.Parallel()
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"POLICY_CACHE_SECONDS": "1"}, nil)
	u := localtest.Unique()
	before, after := "before-"+u+"@example.com", "after-"+u+"@example.com"

	center := func() string {
		t.Helper()
		resp, page := s.do(t, "GET", "/privacy", "", "", map[string]string{"Accept": "text/html"})
		if resp.StatusCode != 200 {
			t.Fatalf("privacy center: %d", resp.StatusCode)
		}
		return page
	}
	confirmed := func(addr string) map[string]any {
		t.Helper()
		if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
			t.Fatalf("signup: %d %s", resp.StatusCode, out)
		}
		conf := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(addr) && confirmLink.MatchString(e.Body.Text) })
		if resp, out := s.do(t, "POST", s.path(t, confirmLink.FindString(conf[0].Body.Text)), "", "", nil); resp.StatusCode != 200 {
			t.Fatalf("confirm: %d %s", resp.StatusCode, out)
		}
		got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(addr) && e.Subject == "Your subscription is confirmed"
		})
		claims := s.receipt(t, got[0])
		s.matchesLedger(t, claims, addr) // the receipt's basis is the ledger's
		return claims
	}
	receiptBasis := func(claims map[string]any) string {
		services, _ := claims["services"].([]any)
		sv, _ := services[0].(map[string]any)
		purposes, _ := sv["purposes"].([]any)
		p, _ := purposes[0].(map[string]any)
		return asString(p["legalBasis"])
	}

	// What the policy says today: legitimate interest, for both purposes.
	page := center()
	if !strings.Contains(page, "(legal basis: our legitimate interest)") ||
		!strings.Contains(page, "The legal basis of these emails, as our privacy policy states it: our legitimate interest.") {
		t.Fatalf("the center does not state the policy's bases:\n%s", page)
	}
	if got := receiptBasis(confirmed(before)); got != "legitimate_interest" {
		t.Fatalf("receipt's basis %q, want legitimate_interest", got)
	}
	if got := str(s.ledgerEvent(t, before, "subscription_confirmed"), "legal_basis"); got != "legitimate_interest" {
		t.Fatalf("ledger's basis %q", got)
	}

	// A basis changed quietly, or one the law does not know, is refused,
	// and nothing is published.
	today := time.Now().UTC().Format(time.DateOnly)
	version := "bases-" + u
	for _, bad := range [][]string{
		{"-basis", "marketing_email=consent"},
		{"-basis", "marketing_email=whim", "-material", "-summary", "S"},
		{"-basis", "profiling=consent", "-material", "-summary", "S"},
	} {
		args := append([]string{"policy", "publish", "-version", version, "-effective", today}, bad...)
		if out, err := s.privacyctl(t, args...); err == nil {
			t.Fatalf("published with %v: %s", bad, out)
		}
	}
	if out, _ := s.privacyctl(t, "policy", "list"); strings.Contains(out, version) {
		t.Fatalf("a refused version is listed:\n%s", out)
	}

	// Told as a material change, it is what people read and what new
	// records say from its day.
	if out, err := s.privacyctl(t, "policy", "publish", "-version", version, "-effective", today, "-material",
		"-summary", "We now send our newsletter on your consent.", "-basis", "marketing_email=consent"); err != nil {
		t.Fatalf("publish: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "policy", "list"); err != nil || !strings.Contains(out, "marketing_email=consent") {
		t.Fatalf("policy list: %v %s", err, out)
	}
	time.Sleep(1100 * time.Millisecond) // the functions' cache of the versions (POLICY_CACHE_SECONDS=1)
	page = center()
	if !strings.Contains(page, "as our privacy policy states it: your consent, which you can withdraw at any time.") ||
		!strings.Contains(page, "(legal basis: our legitimate interest)") {
		t.Fatalf("the center after the change:\n%s", page)
	}
	if got := receiptBasis(confirmed(after)); got != "consent" {
		t.Fatalf("receipt's basis after the change %q, want consent", got)
	}
	if got := str(s.subscription(t, after), "legal_basis"); got != "consent" {
		t.Fatalf("the new subscription's basis %q", got)
	}
	// The record of processing (Art. 30) says it too.
	out, err := s.privacyctl(t, "ropa", "-json")
	var rec ropa.Record
	if err != nil || json.Unmarshal([]byte(out), &rec) != nil {
		t.Fatalf("ropa: %v %s", err, out)
	}
	bases := map[string]string{}
	for _, a := range rec.Activities {
		bases[a.Purpose] = a.LegalBasis
	}
	if bases["marketing_email"] != "consent" || bases["respond_to_inquiry"] != "legitimate_interest" || rec.PolicyVersion != version {
		t.Fatalf("the record of processing under %s: %v (policy %s)", version, bases, rec.PolicyVersion)
	}
	// What was recorded before stays what it was.
	if got := str(s.subscription(t, before), "legal_basis"); got != "legitimate_interest" {
		t.Fatalf("the earlier subscription's basis became %q", got)
	}
}
