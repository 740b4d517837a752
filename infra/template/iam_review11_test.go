package template_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Review 11 (role against code, #36 item 1 and the 2026-12-08 changes).

// The mailer's InquiryReceivedLedgerEntry bounds the attribute names of
// its PutItem but not dynamodb:ReturnValues: a PutItem naming only an
// inquiry entry's attributes with ReturnValues ALL_OLD is allowed, and
// returns the whole entry it replaces, detail, salt, detail_sha256 and
// redacted_by included: the attributes the grant's list leaves out, of
// any entry of a person's partition whose key the mailer can form (the
// subjects stream it reads gives it inquiry ids and times; it may then
// put the old item back unchanged, hash and day included). The code
// sends no ReturnValues (NONE). The grant's comment says the mailer
// "reads ... no entry"; FeedbackFunction's Suppress and
// UnsubscribeMailFunction's Subscriptions pin ReturnValues for the same
// reason (review 8). (A refused condition's
// ReturnValuesOnConditionCheckFailure ALL_OLD reads the entry too, with
// attribute_not_exists(pk) without writing at all: IAM has no condition
// key for it, docs/security.md "Left open".)
func TestReview11MailerLedgerPutReturnsNothing(t *testing.T) {
	ledger := table("LedgerTable")
	entry := []string{"at", "day", "event", "expires_at", "h", "legal_basis", "pk", "policy_version", "purpose", "ref", "sk", "subject"}
	put := func(returnValues string) map[string]any {
		ctx := keys([]string{"S#" + string(review7Subject)}, entry...)
		if returnValues != "" {
			ctx["dynamodb:ReturnValues"] = returnValues
		}
		return ctx
	}
	check(t, []ask{
		// What RecordInquiry sends (no ReturnValues: NONE).
		{"MailerFunction", "dynamodb:PutItem", ledger, put(""), true},
		{"MailerFunction", "dynamodb:PutItem", ledger, put("NONE"), true},
		// The replaced entry returned whole.
		{"MailerFunction", "dynamodb:PutItem", ledger, put("ALL_OLD"), false},
	})
}

// FormsFunction's ledger grant (Sid Ledger) is PutItem on the ledger with
// no condition: any attribute, any ReturnValues, in any person's
// partition. Its code's entries, now that the contact writes none (the
// newsletter box's signup entry, a signup and a repeated signup, the GPC
// signal, the held signup and held confirmation, the confirmation, the
// suppressions a confirmation lifts), are replayed here under the role:
// each is allowed. Then what the code never sends: redacted_by (an
// erasure's mark), and ReturnValues ALL_OLD (the replaced entry, detail
// and all, returned to a function the internet reaches). Both are
// allowed by the template; the mailer's new grant shows the bound this
// one lacks. (IAM cannot bound the event name: inquiry_received, which
// the form no longer writes, stays writable by it.)
func TestReview11FormsLedgerGrantIsWhatItsCodeSends(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	subject := review7Subject
	inq := privacy.NewInquiry("inq-1", subject, privacy.ContactForm{Name: "N", Email: "n@example.com", Message: "m", MarketingOptIn: true}, "v2",
		privacy.RequestMeta{SourceIP: "192.0.2.1", UserAgent: "ua", ReceivedAt: at})
	signup := privacy.PendingSignup{Sub: privacy.Signup{Email: "n@example.com", Topics: []string{"newsletter"}}, Subject: subject,
		ID: "s1", Cooldown: time.Minute, Event: review7Event("subscribe_requested")}
	pendingSub := func(op, tn string, body []byte) (int, string) {
		if op == "GetItem" && tn == "SubjectsTable" {
			return 200, `{"Item":` + review8Sub("pending") + `}`
		}
		return ok8(op, tn, body)
	}
	first := true
	repeated := func(op, tn string, body []byte) (int, string) {
		if op == "TransactWriteItems" && first {
			first = false
			return cancelled8(0, 2)
		}
		return ok8(op, tn, body)
	}
	attrs := map[string]bool{}
	for _, c := range []struct {
		name   string
		answer answer8
		calls  func(ctx context.Context, st *dynamo.Store) error
	}{
		{"the contact with the newsletter box", ok8, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.SaveInquiryWithSignup(ctx, inq, &signup)
			return err
		}},
		{"a signup", ok8, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.RequestSubscription(ctx, signup)
			return err
		}},
		{"a signup repeated", repeated, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.RequestSubscription(ctx, signup)
			return err
		}},
		{"the GPC signal", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.RecordSaleOptOut(ctx, subject, "gpc", review7Event("gpc_signal"))
		}},
		{"a signup held (restricted)", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.RecordEvent(ctx, review7Event("signup_held_restricted"))
		}},
		{"a confirmation held (restricted)", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.RecordEvent(ctx, review7Event("confirmation_held_restricted"))
		}},
		{"the confirmation", pendingSub, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.ConfirmSubscription(ctx, subject, "s1", review7Event("subscription_confirmed"))
			return err
		}},
		{"the suppressions a confirmation lifts", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.LiftSuppressions(ctx, subject, []string{privacy.SuppressBounced}, review7Event("suppression_lifted"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs, _ := record8(t, siteTables7, c.answer, c.calls)
			var ledgerPuts []iamsim.Request
			for _, r := range reqs {
				if r.Action == "dynamodb:PutItem" && strings.HasSuffix(r.Resource, ":table/LedgerTable") {
					ledgerPuts = append(ledgerPuts, r)
					for _, a := range r.Context["dynamodb:Attributes"].([]string) {
						attrs[a] = true
					}
				}
			}
			if len(ledgerPuts) == 0 {
				t.Fatalf("no ledger entry written")
			}
			for _, r := range decide7(t, "FormsFunction", reqs) {
				t.Errorf("FormsFunction: %s", r)
			}
		})
	}
	sent := slices.Sorted(maps.Keys(attrs))
	t.Logf("the attributes FormsFunction's ledger entries carry: %v", sent)
	if slices.Contains(sent, "redacted_by") {
		t.Fatalf("a form's entry carries redacted_by")
	}
	ledger := table("LedgerTable")
	withReturn := keys([]string{"S#" + string(subject)}, sent...)
	withReturn["dynamodb:ReturnValues"] = "ALL_OLD"
	check(t, []ask{
		{"FormsFunction", "dynamodb:PutItem", ledger, keys([]string{"S#" + string(subject)}, sent...), true},
		// An erasure's mark, which no form writes.
		{"FormsFunction", "dynamodb:PutItem", ledger, keys([]string{"S#" + string(subject)}, append(sent, "redacted_by")...), false},
		// The replaced entry returned whole.
		{"FormsFunction", "dynamodb:PutItem", ledger, withReturn, false},
	})
}

// The other functions that put ledger entries (a preference change, a
// bounce's suppression, an unsubscription by email, a rights request's
// steps) are held as
// FormsFunction's grant is since review 11: an entry's attributes, never
// an erasure's mark, and nothing returned. Their code's puts run under
// these roles in the e2e tests (the preferences, feedback,
// unsubscribe-by-email and rights journeys), which fail on a refusal.
func TestReview11LedgerPutsAreBoundEverywhere(t *testing.T) {
	ledger := table("LedgerTable")
	person := []string{"S#" + string(review7Subject)}
	entry := []string{"pk", "sk", "subject", "event", "at", "ref", "purpose", "legal_basis", "policy_version", "expires_at",
		"day", "h", "detail", "salt", "detail_sha256", "retention_pk", "retention_at"}
	var asks []ask
	for _, fn := range []string{"FormsFunction", "PreferencesFunction", "FeedbackFunction", "UnsubscribeMailFunction", "RightsFunction"} {
		back := keys(person, entry...)
		back["dynamodb:ReturnValues"] = "ALL_OLD"
		asks = append(asks,
			ask{fn, "dynamodb:PutItem", ledger, keys(person, entry...), true},
			ask{fn, "dynamodb:PutItem", ledger, keys(person, append(slices.Clone(entry), "redacted_by")...), false},
			ask{fn, "dynamodb:PutItem", ledger, back, false})
	}
	check(t, asks)
}
