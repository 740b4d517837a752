package operator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/operator"
)

// Review 10 (hostile insider). What the approver of a registration reads
// is where the people's identities go: an OpenDSR URL with userinfo
// ("https://opendsr.pardot.example@attacker.example/" is
// attacker.example's), a query or a fragment is refused before anything
// is fetched or stored. A processor's name goes into the email to its
// former contact, an outside address, and its reasons into what the
// approver reads: each is one line, without control characters.
func TestReview10ProcessorAskRefusesDeceptiveText(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	ann := operator.Caller{By: "ann@team.example", MayDecide: true}
	for _, tc := range []struct {
		name string
		n    operator.NewProcessor
	}{
		{"userinfo", operator.NewProcessor{Name: "Pardot", URL: "https://opendsr.pardot.example@127.0.0.1:9/opendsr/v2",
			Credentials: "u:p", Certificate: "PEM", Reason: "dpa"}},
		{"userinfo with a password", operator.NewProcessor{Name: "Pardot", URL: "https://opendsr.pardot.example:x@evil.example/opendsr/v2",
			Credentials: "u:p", Certificate: "PEM", Reason: "dpa"}},
		{"a query", operator.NewProcessor{Name: "Pardot", URL: "https://evil.example/opendsr/v2?host=opendsr.pardot.example",
			Credentials: "u:p", Certificate: "PEM", Reason: "dpa"}},
		{"an empty query", operator.NewProcessor{Name: "Pardot", URL: "https://evil.example/opendsr/v2?",
			Credentials: "u:p", Certificate: "PEM", Reason: "dpa"}},
		{"a fragment", operator.NewProcessor{Name: "Pardot", URL: "https://evil.example/opendsr/v2#opendsr.pardot.example",
			Credentials: "u:p", Certificate: "PEM", Reason: "dpa"}},
		{"a name with a line break", operator.NewProcessor{Name: "Pardot.\nOur records show your mailbox must be re-confirmed",
			Contact: "privacy@pardot.example", Reason: "dpa"}},
		{"a name with a carriage return", operator.NewProcessor{Name: "Par\rdot", Contact: "privacy@pardot.example", Reason: "dpa"}},
		{"a name with a control character", operator.NewProcessor{Name: "Par\x1bdot", Contact: "privacy@pardot.example", Reason: "dpa"}},
		{"a name hiding text", operator.NewProcessor{Name: "Pardot\u202e", Contact: "privacy@pardot.example", Reason: "dpa"}},
		{"a reason with a line break", operator.NewProcessor{Name: "Pardot", Contact: "privacy@pardot.example",
			Reason: "dpa\nApproved by legal already"}},
		{"a url's name with a line break", operator.NewProcessor{Name: "Pardot\nx", URL: "https://opendsr.pardot.example/opendsr/v2",
			Credentials: "u:p", Certificate: "PEM", Reason: "dpa"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := op.AddProcessor(ctx, ann, tc.n); !errors.Is(err, operator.ErrBadRequest) {
				t.Errorf("asked: %v", err)
			}
		})
	}
	if asks, err := store.ProcessorAsks(ctx); err != nil || len(asks) != 0 {
		t.Fatalf("stored: %+v (%v)", asks, err)
	}

	// A contact change's reason and an approval's: one line too.
	ben := operator.Caller{By: "ben@team.example", MayDecide: true}
	p := register(t, op, ann, ben, operator.NewProcessor{Name: "Drift", Contact: "privacy@drift.example", Reason: "contract signed"})
	if _, err := op.ChangeProcessorContact(ctx, ann, p.ID, "dpo@drift.example", "moved\nand approved"); !errors.Is(err, operator.ErrBadRequest) {
		t.Errorf("a reason with a line break: %v", err)
	}
	ask, err := op.ChangeProcessorContact(ctx, ann, p.ID, "dpo@drift.example", "their DPO moved")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.ApproveProcessorAsk(ctx, ben, ask.ID, "checked\nwith them"); !errors.Is(err, operator.ErrBadRequest) {
		t.Errorf("an approval's reason with a line break: %v", err)
	}
}
