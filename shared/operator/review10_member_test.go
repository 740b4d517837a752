package operator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/operator"
)

// Review 10 (the two-person rule on processors): operator.Member counts an
// assumed role's sessions as one member because whoever assumes the role
// picks the session name. A federated user's name is picked the same way:
// an IAM user who may call sts:GetFederationToken (common for
// administrators; the call needs only the user's long-term keys) gets
// credentials for arn:aws:sts::<account>:federated-user/<any name>, with
// the user's own permissions (PrivacyTeamPolicy's execute-api:Invoke)
// intersected with the session policy it passes. API Gateway hands the
// operator that ARN. One IAM user, two federated names: two "members",
// and the user asks and approves a processor's contact change alone.
// Nothing in the ARN says which IAM user minted it, so the operator cannot
// tell two people apart from one: it must refuse a federated user's
// approval (or decisions).
//
// Fails on the code under review: the second federated name approves the
// first's ask and the contact changes.
func TestReview10FederatedNamesOfOneUserApproveTheirOwnAsk(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	const federated = "arn:aws:sts::000000000000:federated-user/"
	ann := operator.Caller{By: federated + "ann", MayDecide: true}
	ann2 := operator.Caller{By: federated + "ann-approver", MayDecide: true}
	ben := operator.Caller{By: "arn:aws:iam::000000000000:user/ben", MayDecide: true}

	p := register(t, op, ben, operator.Caller{By: "arn:aws:iam::000000000000:user/carol", MayDecide: true},
		operator.NewProcessor{Name: "Drift", Contact: "privacy@drift.example", Reason: "contract signed"})
	ask, err := op.ChangeProcessorContact(ctx, ann, p.ID, "inbox@attacker.example", "their DPO moved")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.ApproveProcessorAsk(ctx, ann2, ask.ID, "checked"); !errors.Is(err, operator.ErrForbidden) {
		t.Errorf("a second federated name (%s) approved %s's ask: %v", ann2.By, ann.By, err)
	}
	if got, _ := store.ProcessorContact(ctx, p.ID); got != "privacy@drift.example" {
		t.Errorf("one IAM user's two federated names changed the processor's contact to %q", got)
	}
}
