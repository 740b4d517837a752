package sweep_test

import (
	"context"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sweep"
)

// Review 10 (hostile, a dependency failing): the sweep ends whatever
// confirmed subscription it finds under a due bounce's key, even one the
// person confirmed AFTER the bounce. The design's own rule is that a fresh
// double opt-in proves the address takes mail and lifts a bounce
// (privacy.LiftedByConfirmation), but ConfirmSignup lifts it in a second
// write after the confirmation: when that write fails (a throttle, a
// Lambda timeout), the person's retry of the link lifts nothing (the
// confirmation "happened before") and the bounce stays in force; the same
// state follows when the bounce is filed between ConfirmSignup's read of
// the suppressions and its confirmation. Seven days after the OLD bounce
// the sweep withdraws the consent the person gave after it (proof
// withdrawn, subscription deleted 30 days later). privacy.EndingOf must
// not end a subscription confirmed after the suppression's since (the
// sweep could lift, or leave it to the team, instead).
func TestReview10SweepEndsAConsentGivenAfterTheBounce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := dynamo.New(e.db, dynamo.Tables{Subjects: e.tables[privacy.TableSubjects], Ledger: e.tables[privacy.TableLedger],
		Suppression: e.tables[privacy.TableSuppression], Ops: e.tables[privacy.TableOps], Requests: e.tables[privacy.TableRequests]})
	grace := time.Duration(privacy.SuppressedSubscriptionGraceDays) * 24 * time.Hour
	bouncedAt := now.Add(-grace - time.Hour)
	confirmedAt := now.Add(-24 * time.Hour) // six days after the bounce
	sub := privacy.SubjectID("r10r10r10r10r10r10r10r10r10r10r10r10r10r10r10r10r10r10r10r10r10r")
	ev := func(name string, at time.Time) privacy.Event {
		return privacy.Event{Subject: sub, Name: privacy.EventName(name), At: at, Ref: name, Purpose: privacy.PurposeMarketing,
			LegalBasis: privacy.BasisConsent, PolicyVersion: "v1"}
	}
	// The old address's mailbox bounced hard (no subscription then, or an
	// unsubscribed one).
	if err := st.Suppress(ctx, sub, privacy.SuppressBounced, ev("suppressed_bounced", bouncedAt)); err != nil {
		t.Fatal(err)
	}
	// Six days later the person signs up and confirms (the confirmation
	// proves the mailbox works); the bounce's lift, a separate write,
	// failed.
	if _, err := st.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: "r10@example.com",
		Topics: []string{"newsletter"}}, Subject: sub, ID: "s-r10", Event: ev("subscribe_requested", confirmedAt.Add(-time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.ConfirmSubscription(ctx, sub, "s-r10", ev("subscription_confirmed", confirmedAt)); err != nil || !ok {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	rep, err := e.sweeper(e.db).Run(ctx, sweep.Options{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// (Adjusted with the fix: the grace runs from the sweep's own first
	// sight of the suppression, not its since, so the first run only
	// stamps it; the run after the grace is the one that decides.)
	later := e.sweeper(e.db)
	later.Now = func() time.Time { return now.Add(grace + 2*time.Hour) }
	if rep, err = later.Run(ctx, sweep.Options{Budget: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got := rep.Counts[privacy.Retention().SuppressedSubscription.Name]; got["kept"] != 1 {
		t.Errorf("the run after the grace: %v, want the subscription kept", rep.Counts)
	}
	s, err := st.Subscription(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != privacy.StatusConfirmed {
		t.Errorf("the sweep ended (status %q, counts %v) a subscription confirmed %s AFTER the bounce it acted on: the consent given "+
			"after the bounce (which proves the address takes mail) was withdrawn", s.Status,
			rep.Counts[privacy.Retention().SuppressedSubscription.Name], confirmedAt.Sub(bouncedAt))
	}
}
