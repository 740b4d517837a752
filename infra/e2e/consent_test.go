package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// consentProof is the proof of email's consent kept in the subjects
// table (kind consent_proof), or nil.
func (s *stack) consentProof(t *testing.T, email string) map[string]types.AttributeValue {
	t.Helper()
	pk := "S#" + string(s.hasher.Subject(email))
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "pk") == pk && str(it, "kind") == privacy.KindConsentProof {
			return it
		}
	}
	return nil
}

// setClocks moves the clock of one stored item: it writes each named
// attribute (an RFC 3339 time, or epoch seconds for the retention index's
// due time) as a write at that time would have.
func (s *stack) setClocks(t *testing.T, table string, item map[string]types.AttributeValue, clocks map[string]time.Time) {
	t.Helper()
	var set []string
	vals := map[string]types.AttributeValue{}
	for name, at := range clocks {
		v := fmt.Sprintf(":v%d", len(set))
		set = append(set, name+" = "+v)
		vals[v] = &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)}
		if name == "retention_at" {
			vals[v] = &types.AttributeValueMemberN{Value: fmt.Sprint(at.Unix())}
		}
	}
	_, err := s.DB().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables[table]),
		Key: map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}, UpdateExpression: aws.String("SET " + strings.Join(set, ", ")),
		ExpressionAttributeValues: vals})
	if err != nil {
		t.Fatal(err)
	}
}

// shown is an item's string attributes, for a failure's message.
func shown(item map[string]types.AttributeValue) string {
	var out []string
	for k := range item {
		out = append(out, k+"="+str(item, k))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func detail(item map[string]types.AttributeValue, name string) string {
	d, _ := item["detail"].(*types.AttributeValueMemberM)
	if d == nil {
		return ""
	}
	return str(d.Value, name)
}

// Issue #33: the contact form's newsletter box and the signup form each
// record the sentence they showed (in the form's language), each
// confirmation, days later and from a page in another language, keeps the
// version its signup recorded, the proof says when the sentence was shown
// and when it was confirmed, and each receipt names its own sentence.
func TestConsentSentenceIsTheFormsOwn(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	de := map[string]string{"Accept-Language": "de-DE,de;q=0.9"}
	byForm := map[string]string{privacy.SourceContactForm: "box-" + u + "@example.com", privacy.SourceSignupForm: "form-" + u + "@example.com"}
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Cora","email":"`+byForm[privacy.SourceContactForm]+
		`","message":"Hallo","marketing_opt_in":true}`, de); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+byForm[privacy.SourceSignupForm]+
		`","consent":true}`, de); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	shownAt := time.Now().UTC().AddDate(0, 0, -5).Truncate(time.Second)
	versions := map[string]string{}
	for form, addr := range byForm {
		want, _ := privacy.Consent(form, "de")
		requested := s.ledgerEvent(t, addr, "subscribe_requested")
		if got := detail(requested, "consent_text_version"); got != want || detail(requested, "source") != form {
			t.Fatalf("%s: the signup recorded sentence %q from %q, want %q", form, got, detail(requested, "source"), want)
		}
		versions[form] = want
		// The confirmation comes days later: the signup was made 5 days
		// ago (its link lives 30).
		s.setClocks(t, "SubjectsTable", s.subscription(t, addr), map[string]time.Time{"signed_up_at": shownAt, "confirm_requested_at": shownAt})
	}
	if versions[privacy.SourceContactForm] == versions[privacy.SourceSignupForm] {
		t.Fatalf("both forms recorded the sentence %q", versions[privacy.SourceSignupForm])
	}
	for form, addr := range byForm {
		mails := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(addr) && confirmLink.MatchString(e.Body.Text)
		})
		if len(mails) != 1 {
			t.Fatalf("%s: %d confirmation emails", form, len(mails))
		}
		link := confirmLink.FindString(mails[0].Body.Text)
		// Confirmed from a page in English: the sentence agreed to is
		// still the German one the signup showed.
		if resp, out := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 {
			t.Fatalf("%s: confirm: %d %s", form, resp.StatusCode, out)
		}
		if got := detail(s.ledgerEvent(t, addr, "subscription_confirmed"), "consent_text_version"); got != versions[form] {
			t.Errorf("%s: the confirmation recorded sentence %q, the signup showed %q", form, got, versions[form])
		}
		proof := s.consentProof(t, addr)
		if proof == nil || str(proof, "consent_text_version") != versions[form] || str(proof, "source") != form ||
			str(proof, "signed_up_at") != shownAt.Format(time.RFC3339Nano) || str(proof, "confirmed_at") == "" ||
			str(proof, "confirmed_at") != str(s.subscription(t, addr), "confirmed_at") || str(proof, "email") != "" {
			t.Errorf("%s: proof of the consent %s", form, shown(proof))
		}
		// The receipt (in German, the signup's language) names the
		// sentence its form showed: version, words and hash, and the form.
		_, text := privacy.Consent(form, "de")
		got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(addr) && receiptJWS.MatchString(e.Body.Text)
		})
		if len(got) != 1 {
			t.Fatalf("%s: %d receipts", form, len(got))
		}
		claims := s.receipt(t, got[0])
		s.matchesLedger(t, claims, addr)
		ct, _ := claims["consentText"].(map[string]any)
		method, _ := claims["collectionMethod"].(string)
		if ct["version"] != versions[form] || ct["text"] != text || ct["sha256"] != fmt.Sprintf("%x", sha256.Sum256([]byte(text))) ||
			strings.Contains(method, "contact form") != (form == privacy.SourceContactForm) {
			t.Errorf("%s: the receipt names %v, collected by %q", form, ct, method)
		}
	}
}

// Issue #33: the proof of a consent is kept while the consent is relied
// on, past the ledger's 3 years, and for the stated period after its
// withdrawal; the retention sweep deletes it then, not before.
func TestConsentProofKeptWhileReliedOn(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	addr := "kept-" + localtest.Unique() + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	mails := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(addr) })
	if resp, out := s.do(t, "POST", s.path(t, confirmLink.FindString(mails[0].Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm: %d %s", resp.StatusCode, out)
	}
	sweep := func() map[string]map[string]int {
		t.Helper()
		resp, out := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", "{}", nil)
		var rep struct {
			Complete bool                      `json:"complete"`
			Counts   map[string]map[string]int `json:"counts"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Complete {
			t.Fatalf("sweep: %d %s", resp.StatusCode, out)
		}
		return rep.Counts
	}

	// The consent was given 3 years and a month ago and is still relied on.
	given := time.Now().UTC().AddDate(-3, -1, 0)
	proof := s.consentProof(t, addr)
	if proof == nil {
		t.Fatal("no proof of the consent kept")
	}
	s.setClocks(t, "SubjectsTable", proof, map[string]time.Time{"signed_up_at": given, "confirmed_at": given.Add(time.Hour)})
	s.setClocks(t, "SubjectsTable", s.subscription(t, addr), map[string]time.Time{"confirm_requested_at": given, "confirmed_at": given.Add(time.Hour)})
	sweep()
	if p := s.consentProof(t, addr); p == nil || str(p, "consent_text_version") != privacy.ConsentTextVersion ||
		str(p, "confirmed_at") != given.Add(time.Hour).Format(time.RFC3339Nano) {
		t.Fatalf("past 3 years, the proof of a consent still relied on is %s", shown(p))
	}

	// Withdrawn: the proof's period starts.
	got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && unsubLink.MatchString(e.Body.Text)
	})
	if len(got) != 1 {
		t.Fatalf("%d emails with an unsubscribe link", len(got))
	}
	unsub := unsubLink.FindString(got[0].Body.Text)
	if resp, out := s.do(t, "POST", s.path(t, unsub), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", nil); resp.StatusCode != 200 {
		t.Fatalf("unsubscribe %q: %d %s", unsub, resp.StatusCode, out)
	}
	proof = s.consentProof(t, addr)
	withdrawn, err := time.Parse(time.RFC3339Nano, str(proof, "withdrawn_at"))
	if err != nil || time.Since(withdrawn) > time.Minute {
		t.Fatalf("the withdrawal is not on the proof: %s", shown(proof))
	}
	period := privacy.Retention().ConsentProof
	for _, c := range []struct {
		days int // since the withdrawal
		kept bool
	}{
		{period.Days - 1, true},
		{period.Days + 1, false},
	} {
		at := time.Now().UTC().AddDate(0, 0, -c.days)
		s.setClocks(t, "SubjectsTable", proof, map[string]time.Time{"withdrawn_at": at, "retention_at": period.From(at)})
		counts := sweep()
		if kept := s.consentProof(t, addr) != nil; kept != c.kept || (!c.kept && counts[period.Name]["deleted"] != 1) {
			t.Fatalf("withdrawn %d days ago: proof kept %v, sweep %v; want kept %v", c.days, kept, counts, c.kept)
		}
	}
}
