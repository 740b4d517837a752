package template_test

import "testing"

// Review 11 (hostile, role). MailerFunction's InquiryReceivedLedgerEntry
// grant is, in the template's words, one that "reads, updates and deletes
// no entry". It leaves dynamodb:ReturnValues open, as FeedbackFunction's
// suppression grant did until 1167b66: a PutItem naming only the entry's
// attributes with ReturnValues ALL_OLD hands back the whole entry it
// replaces (its detail, salt, redacted_by: what the grant may not write),
// so the mailer's credentials read any entry in a person's partition they
// can key (the keys are in the subjects stream they read), at the cost of
// replacing it. The code asks for NONE. (A refused condition's
// ReturnValuesOnConditionCheckFailure ALL_OLD has no condition key: that
// read stays, as docs/security.md says of review 8; this closes the one
// IAM can close.)
func TestHostileReview11MailerLedgerPutReturnsNothing(t *testing.T) {
	ledger := table("LedgerTable")
	entry := []string{"at", "day", "event", "expires_at", "h", "legal_basis", "pk", "policy_version", "purpose", "ref", "sk", "subject"}
	put := func(returnValues string) map[string]any {
		ctx := keys([]string{"S#a"}, entry...)
		if returnValues != "" {
			ctx["dynamodb:ReturnValues"] = returnValues
		}
		return ctx
	}
	check(t, []ask{
		{"MailerFunction", "dynamodb:PutItem", ledger, put(""), true},
		{"MailerFunction", "dynamodb:PutItem", ledger, put("NONE"), true},
		{"MailerFunction", "dynamodb:PutItem", ledger, put("ALL_OLD"), false},
	})
}
