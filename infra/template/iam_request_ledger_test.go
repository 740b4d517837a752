package template_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Issue #36 item 1: the site's form stores a rights request alone (one
// conditional PutItem), and the mailer writes its request_received entry
// from the request's stream record (privacy.RequestReceived,
// dynamo.Store.RecordEntry). The requests each sends, as AWS evaluates
// them, against the role that sends them: the filing is allowed to the
// rights function without the ledger; the mailer's entry (with its
// detail, salt and digest) is allowed to the mailer, a first write and a
// retry that finds it there alike; what such an entry never carries (a
// redaction's or a move's mark, a retention filing, the filer's
// metadata is inside the detail and not an attribute) and every other
// action on the ledger are refused.
func TestRequestLedgerEntryIsTheMailers(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	hasher, err := privacy.NewHasher([]byte("pepper-0123456789-0123456789-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	req := privacy.RightsRequest{ID: "req-1", Subject: review7Subject, Email: "p@example.com", Type: privacy.RightPortability,
		RecipientEmail: "third@example.com", Regulation: privacy.RegulationGDPR, Status: privacy.RequestIdentityUnverified,
		ReceivedAt: at, DueAt: at.AddDate(0, 1, 0), VerifyNonce: "n1", VerifySentAt: at, ReceivedPolicyVersion: "v2",
		MailDue: privacy.Due(privacy.MailReceived, "n1")}
	entryThere := func(op, tn string, body []byte) (int, string) {
		if op == "PutItem" && tn == "LedgerTable" {
			return ccf8("")
		}
		return ok8(op, tn, body)
	}
	for _, c := range []struct {
		name   string
		who    string
		answer answer8
		want   []string
		calls  func(ctx context.Context, st *dynamo.Store) error
	}{
		{"the filing: the request alone", "RightsFunction", ok8, []string{"PutItem RequestsTable"},
			func(ctx context.Context, st *dynamo.Store) error { return st.CreateRequest(ctx, req, privacy.Event{}) }},
		{"the mailer writes the request's entry", "MailerFunction", ok8, []string{"PutItem LedgerTable"},
			func(ctx context.Context, st *dynamo.Store) error {
				return st.RecordEntry(ctx, privacy.RequestReceived(req, hasher), at)
			}},
		{"the mailer's retry finds it there", "MailerFunction", entryThere, []string{"PutItem LedgerTable"},
			func(ctx context.Context, st *dynamo.Store) error {
				return st.RecordEntry(ctx, privacy.RequestReceived(req, hasher), at.Add(25*time.Hour))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs, ops := record8(t, siteTables7, c.answer, c.calls)
			if !slices.Equal(ops, c.want) {
				t.Fatalf("calls %v, want %v", ops, c.want)
			}
			for _, r := range decide7(t, c.who, reqs) {
				t.Errorf("%s: %s", c.who, r)
			}
		})
	}
	ledger := table("LedgerTable")
	entry := []string{"at", "day", "detail", "detail_sha256", "event", "expires_at", "h", "legal_basis", "pk", "policy_version", "ref",
		"salt", "sk", "subject"}
	check(t, []ask{
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, entry...), true},
		// What a request's entry never carries.
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, append(entry, "redacted_by")...), false},
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, append(entry, "moved_from")...), false},
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, append(entry, "retention_pk", "retention_at")...), false},
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, append(entry, "source_ip")...), false},
		// A person's partition only.
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#team"}, entry...), false},
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"SYSTEM#retention-sweep"}, entry...), false},
		// Nothing else of the ledger.
		{"MailerFunction", "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, "pk", "sk", "detail"), false},
		{"MailerFunction", "dynamodb:BatchWriteItem", ledger, keys([]string{"S#a"}, entry...), false},
		// The filing writes no entry any more; its grant on the ledger
		// stays for the own opt-out of sale (written with its opt-out).
		{"RightsFunction", "dynamodb:PutItem", table("RequestsTable"), keys([]string{"R#req-1"}), true},
	})
}
