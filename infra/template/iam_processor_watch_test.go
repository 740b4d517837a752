package template_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Review 10, closed: no change of the processors' registry is quiet. The
// mailer reads the ops table's stream (its PROC# items) and, for each
// change, writes processor_change_observed in SYSTEM#processors and keeps
// a removed processor's contact under PROC#SEEN (dynamo.Store's calls,
// replayed): each is allowed to MailerFunction, and the grants hold it to
// those items and attributes. Nothing that would let OperatorFunction's
// role (which writes PROC# items without an attribute bound) make a
// change quiet is within its reach, nor the team's or the engineer on
// call's: the stream's event source mapping, the table's stream setting,
// the mailer's configuration (its team inbox), its sent-markers, its
// PROC#SEEN, its ledger partition. Fails on the template before the fix:
// the mailer may read no stream of the ops table (there was none) nor
// write its partition, and the operator may put any SYSTEM# entry.
func TestProcessorWatchGrants(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	change := privacy.ProcessorChange{ID: pmProcessor, At: at,
		Before: &privacy.ProcessorImage{Name: "Drift", Contact: "privacy@old.example", Sums: map[string]string{"types": "a"}},
		After:  &privacy.ProcessorImage{Name: "Drift", Contact: "privacy@new.example", Sums: map[string]string{"types": "a"}}}
	entryThere := func(op, tn string, body []byte) (int, string) {
		if op == "PutItem" && tn == "LedgerTable" {
			return ccf8("")
		}
		return ok8(op, tn, body)
	}
	var sent []iamsim.Request
	for _, c := range []struct {
		name   string
		answer answer8
		want   []string
		calls  func(ctx context.Context, st *dynamo.Store) error
	}{
		{"the observed change's entry", ok8, []string{"PutItem LedgerTable"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.RecordProcessorChange(ctx, change, "000000000000000000042", at)
		}},
		{"a record delivered again finds it there", entryThere, []string{"PutItem LedgerTable"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.RecordProcessorChange(ctx, change, "000000000000000000042", at.Add(25*time.Hour))
		}},
		{"a removal's contact kept", ok8, []string{"PutItem OpsTable"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.RememberContact(ctx, pmProcessor, "privacy@old.example", at)
		}},
		{"a registration reads it", ok8, []string{"GetItem OpsTable"}, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.LastContact(ctx, pmProcessor)
			return err
		}},
	} {
		reqs, ops := record8(t, siteTables7, c.answer, c.calls)
		if !slices.Equal(ops, c.want) {
			t.Fatalf("%s: calls %v, want %v", c.name, ops, c.want)
		}
		for _, r := range decide7(t, "MailerFunction", reqs) {
			t.Errorf("%s: MailerFunction: %s", c.name, r)
		}
		// Not the operator's: none of them.
		if refused := decide7(t, "OperatorFunction", reqs); len(refused) != len(reqs) {
			t.Errorf("%s: OperatorFunction may make %d of its %d calls", c.name, len(reqs)-len(refused), len(reqs))
		}
		sent = append(sent, reqs...)
	}
	var entry []string
	for _, r := range sent {
		if r.Resource == table("LedgerTable") {
			entry, _ = r.Context["dynamodb:Attributes"].([]string)
		}
	}
	t.Logf("the observed change's entry: %s", strings.Join(entry, ","))

	// Who else may write what the telling relies on: PROC#SEEN, the
	// mailer alone. The observed entries: the mailer puts them; the
	// sweep and the engineer on call (PrivacyMaintenancePolicy: its
	// reapply-erasures' ledger put and redaction are not bounded by
	// partition) may write any ledger partition, and the rights function
	// may redact any entry, as before this change; none of them may write
	// a PROC# item, so none can make a registry change, only alter its
	// evidence after the emails have gone (docs/security.md). The
	// operator may do neither.
	seen, system := []string{dynamo.ProcessorSeenPK}, []string{dynamo.LedgerProcessorsPK}
	anyPartition := map[string]bool{"SweepFunction": true, "PrivacyMaintenancePolicy": true}
	redacts := map[string]bool{"SweepFunction": true, "PrivacyMaintenancePolicy": true, "RightsFunction": true}
	for who := range policies(t) {
		mailer := who == "MailerFunction"
		check(t, []ask{
			{who, "dynamodb:PutItem", table("OpsTable"), keys(seen, "contact_email", "pk", "seen_at", "sk"), mailer},
			{who, "dynamodb:UpdateItem", table("OpsTable"), keys(seen, "contact_email", "pk", "sk"), false},
			{who, "dynamodb:DeleteItem", table("OpsTable"), keys(seen, "pk", "sk"), false},
			{who, "dynamodb:PutItem", table("LedgerTable"), keys(system, entry...), mailer || anyPartition[who]},
			{who, "dynamodb:UpdateItem", table("LedgerTable"), keys(system, "detail", "pk", "redacted_by", "salt", "sk"), redacts[who]},
		})
	}

	stream := table("OpsTable") + "/stream/2026-12-08T00:00:00.000"
	mapping := "arn:aws:lambda:" + region + ":" + account + ":event-source-mapping:00000000-0000-0000-0000-000000000000"
	markers := []string{dynamo.MailMarkerPrefix + "abc"}
	var asks []ask
	for _, who := range []string{"OperatorFunction", "PrivacyTeamPolicy", "PrivacyMaintenancePolicy", "PrivacyReplayPolicy",
		"PrivacyUpgradePolicy", "PrivacyBackfillPolicy", "PrivacyLedgerVerifyPolicy"} {
		asks = append(asks,
			ask{who, "lambda:UpdateEventSourceMapping", mapping, nil, false},
			ask{who, "lambda:DeleteEventSourceMapping", mapping, nil, false},
			ask{who, "lambda:CreateEventSourceMapping", "*", nil, false},
			ask{who, "lambda:UpdateFunctionConfiguration", function("MailerFunction"), nil, false},
			ask{who, "lambda:UpdateFunctionCode", function("MailerFunction"), nil, false},
			ask{who, "lambda:PutFunctionConcurrency", function("MailerFunction"), nil, false},
			ask{who, "dynamodb:UpdateTable", table("OpsTable"), nil, false},
			ask{who, "dynamodb:PutItem", table("OpsTable"), keys(markers, "pk", "sk", "sent_at"), false},
			ask{who, "dynamodb:UpdateItem", table("OpsTable"), keys(markers, "pk", "sk", "sent_at"), false},
			ask{who, "sqs:PurgeQueue", queue("FailureQueue"), nil, false},
		)
	}
	check(t, append(asks,
		// The mailer reads the ops table's stream; the operator does not.
		ask{"MailerFunction", "dynamodb:GetRecords", stream, nil, true},
		ask{"MailerFunction", "dynamodb:GetShardIterator", stream, nil, true},
		ask{"OperatorFunction", "dynamodb:GetRecords", stream, nil, false},
		// The mailer writes no registry item, no other system partition.
		ask{"MailerFunction", "dynamodb:PutItem", table("OpsTable"), keys([]string{dynamo.ProcessorPrefix}, "contact_email", "pk", "sk"), false},
		ask{"MailerFunction", "dynamodb:PutItem", table("LedgerTable"), keys([]string{"SYSTEM#retention-sweep"}, entry...), false},
		ask{"MailerFunction", "dynamodb:PutItem", table("LedgerTable"), keys([]string{"S#team"}, entry...), false},
		ask{"MailerFunction", "dynamodb:PutItem", table("LedgerTable"), keys(system, append(slices.Clone(entry), "redacted_by")...), false},
		ask{"MailerFunction", "dynamodb:PutItem", table("OpsTable"), keys(seen, "contact_email", "pk", "seen_at", "sk", "x"), false},
		// The operator keeps its own ledger partitions.
		ask{"OperatorFunction", "dynamodb:PutItem", table("LedgerTable"), keys([]string{"S#team"}, entry...), true},
		// A replay marks a registry item, nothing else of it.
		ask{"PrivacyReplayPolicy", "dynamodb:UpdateItem", table("OpsTable"), keys([]string{dynamo.ProcessorPrefix}, "pk", "replayed_at", "sk"), true},
		ask{"PrivacyReplayPolicy", "dynamodb:UpdateItem", table("OpsTable"), keys([]string{dynamo.ProcessorPrefix}, "contact_email", "pk", "sk"), false},
		ask{"PrivacyReplayPolicy", "dynamodb:UpdateItem", table("OpsTable"), keys(markers, "pk", "replayed_at", "sk"), false},
		ask{"PrivacyReplayPolicy", "dynamodb:GetRecords", stream, nil, true},
	))
}
