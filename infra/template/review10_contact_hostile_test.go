package template_test

import (
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
)

// Review 10 (hostile insider holding one IAM identity: the engineer on
// call, PrivacyMaintenancePolicy). The former contact's notice of a
// processor contact change is an item in the requests table (pk
// PROCNOTICE#<processor>, sk the ask), the mailer's outbox, whose
// processor name is stored as "name" and whose email is made due by
// "mail_due". ReapplyErasuresStripEarlierRequests lets the policy's holder
// UpdateItem any item of the requests table on exactly those attributes
// (its template comment: IAM cannot tell a REMOVE from a SET), with no
// key condition. So the engineer on call, alone, rewrites a notice's
// name to any text ("Pardot. Our records show your mailbox must be
// re-confirmed at https://...") and sets a new mail_due: the mailer sends
// it again, from the company's sender, subject "Your privacy contact
// address with <company> was changed", replies to the team inbox, to the
// processor's former privacy contact (mailer.makesDue: a new mail_due).
// The strip needs only the requests' own items (R#<id>). Fails now: the
// policy allows both updates.
func TestReview10MaintenanceRewritesTheFormerContactsNotice(t *testing.T) {
	notice := []string{dynamo.ContactNoticePrefix + "p-1"}
	// What the strip writes stays allowed (reapply-erasures' own requests,
	// replayed in TestIAMReview6ChangedPathsAsAWSSeesThem: StripRequestAddress on the request,
	// stripDeliveries' REMOVE identity_value on its deliveries, both under
	// R#<id>).
	request := []string{"R#r1"}
	check(t, []ask{
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("RequestsTable"), keys(request, "answer", "email", "mail_due", "name", "pk", "question", "sk"), true},
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("RequestsTable"), keys(request, "identity_value", "pk", "sk"), true},
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("RequestsTable"), keys(notice, "pk", "sk", "name", dynamo.AttrMailDue), false},
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("RequestsTable"), keys(notice, "pk", "sk", dynamo.AttrMailDue), false},
	})
}

// Review 10 (defence in depth for the federated finding): a federated
// user's name is chosen by the IAM user who mints it
// (sts:GetFederationToken), so one person holding PrivacyTeamPolicy could
// sign as any number of members. The operator refuses their approvals
// (operator.secondMember); PrivacyTeamPolicy also denies them the
// operator's route, whatever else the minting user's session policy
// passes.
func TestReview10TeamPolicyDeniesFederatedUsers(t *testing.T) {
	route := "arn:aws:execute-api:" + region + ":" + account + ":HttpApi/$default/POST/v1/operator"
	check(t, []ask{
		{"PrivacyTeamPolicy", "execute-api:Invoke", route, map[string]any{"aws:PrincipalType": "User"}, true},
		{"PrivacyTeamPolicy", "execute-api:Invoke", route, map[string]any{"aws:PrincipalType": "AssumedRole"}, true},
		{"PrivacyTeamPolicy", "execute-api:Invoke", route, map[string]any{"aws:PrincipalType": "FederatedUser"}, false},
	})
}
