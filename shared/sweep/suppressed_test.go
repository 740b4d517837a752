package sweep_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sweep"
)

// failOnce fails the first TransactWriteItems (a crash halfway through a
// run: nothing of that write is stored).
type failOnce struct {
	dynamo.SweepAPI
	failed atomic.Bool
}

func (f *failOnce) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (
	*dynamodb.TransactWriteItemsOutput, error) {
	if f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("the run was cut short")
	}
	return f.SweepAPI.TransactWriteItems(ctx, in, opts...)
}

// A bounce or a complaint ends the suppressed address's confirmed
// subscription once the grace has passed, as an unsubscribe ends it (no
// topics, off the subscribers' list, the consent's proof withdrawn, an
// entry in the ledger, no email due), and the unsubscribed class deletes
// it later; the suppression stays, checked. Nothing else ends one: a
// bounce inside the grace, a suppression lifted by the team, a legal
// hold; a bystander is untouched. A run cut short and run again ends each
// once.
func TestSuppressionEndsTheSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := dynamo.New(e.db, dynamo.Tables{Subjects: e.tables[privacy.TableSubjects], Ledger: e.tables[privacy.TableLedger],
		Suppression: e.tables[privacy.TableSuppression], Ops: e.tables[privacy.TableOps], Requests: e.tables[privacy.TableRequests]})
	grace := time.Duration(privacy.SuppressedSubscriptionGraceDays) * 24 * time.Hour
	past, inGrace := now.Add(-grace-time.Hour), now.Add(-grace+time.Hour)
	ev := func(sub privacy.SubjectID, name string, at time.Time) privacy.Event {
		return privacy.Event{Subject: sub, Name: privacy.EventName(name), At: at, Ref: name, Purpose: privacy.PurposeMarketing,
			LegalBasis: privacy.BasisConsent, PolicyVersion: "v1"}
	}
	subject := func(name string) privacy.SubjectID {
		return privacy.SubjectID(strings.Repeat(name, 64/len(name)))
	}
	confirmed := func(sub privacy.SubjectID) {
		t.Helper()
		at := time.Now().UTC().Add(-time.Minute)
		if _, err := st.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: string(sub[:4]) + "@example.com",
			Topics: []string{"newsletter"}}, Subject: sub, ID: "s-" + string(sub[:4]), Event: ev(sub, "subscribe_requested", at)}); err != nil {
			t.Fatal(err)
		}
		if ok, err := st.ConfirmSubscription(ctx, sub, "s-"+string(sub[:4]), ev(sub, "subscription_confirmed", at)); err != nil || !ok {
			t.Fatalf("confirm: %v %v", ok, err)
		}
	}
	// A suppression after the confirmation, which an earlier run stamped
	// (grace_from) at: the grace runs from the sweep's own stamp.
	suppress := func(sub privacy.SubjectID, reason string, at time.Time) {
		t.Helper()
		if err := st.Suppress(ctx, sub, reason, ev(sub, "suppressed_"+reason, time.Now().UTC())); err != nil {
			t.Fatal(err)
		}
		if reason != privacy.SuppressBounced && reason != privacy.SuppressComplained {
			return
		}
		key := map[string]types.AttributeValue{"pk": S("S#" + string(sub)), "sk": S(reason)}
		if _, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.tables[privacy.TableSuppression]), Key: key,
			UpdateExpression: aws.String("SET grace_from = :g, retention_at = :at"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":g": S(at.Format(time.RFC3339Nano)),
				":at": N(privacy.Retention().SuppressedSubscription.From(at).Unix())}}); err != nil {
			t.Fatal(err)
		}
	}
	bounced, complained, early, lifted, held, bystander, unsubscribed :=
		subject("b1"), subject("c1"), subject("e1"), subject("f1"), subject("h1"), subject("y1"), subject("u1")
	for _, s := range []privacy.SubjectID{bounced, complained, early, lifted, held, bystander, unsubscribed} {
		confirmed(s)
	}
	suppress(bounced, privacy.SuppressBounced, past)
	suppress(complained, privacy.SuppressComplained, past)
	suppress(early, privacy.SuppressBounced, inGrace)
	suppress(lifted, privacy.SuppressBounced, past)
	if err := st.TeamLift(ctx, lifted, []string{privacy.SuppressBounced}, nil, ev(lifted, "suppression_lifted", now)); err != nil {
		t.Fatal(err)
	}
	suppress(held, privacy.SuppressComplained, past)
	if err := st.PlaceHold(ctx, privacy.Hold{Subject: held, Reason: "court order", PlacedBy: "dpo", PlacedAt: now},
		ev(held, "legal_hold_placed", now)); err != nil {
		t.Fatal(err)
	}
	// Not a bounce or a complaint: the person's own unsubscribe, which
	// ends the subscription itself (with its receipt).
	suppress(unsubscribed, privacy.SuppressUnsubscribed, past)

	status := func(sub privacy.SubjectID) string {
		t.Helper()
		s, err := st.Subscription(ctx, sub)
		if errors.Is(err, privacy.ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Status)
	}
	item := func(table privacy.Table, pk, sk string) map[string]types.AttributeValue {
		t.Helper()
		out, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.tables[table]), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": S(pk), "sk": S(sk)}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	entries := func(sub privacy.SubjectID) int {
		t.Helper()
		n := 0
		for _, it := range e.all(t)[privacy.TableLedger] {
			if str(it["pk"]) == "S#"+string(sub) && str(it["event"]) == string(dynamo.EventSubscriptionEnded) {
				n++
			}
		}
		return n
	}
	class := privacy.Retention().SuppressedSubscription.Name

	// A dry run counts what the run will do, and changes nothing.
	dry, err := e.sweeper(e.db).Run(ctx, sweep.Options{DryRun: true, Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := dry.Counts[class]; got["ended"] != 2 || got["checked"] != 0 || got["protected"] != 1 {
		t.Fatalf("dry run: %v", dry.Counts)
	}
	if status(bounced) != privacy.StatusConfirmed {
		t.Fatal("the dry run ended a subscription")
	}
	// The run is cut short at its first write, then runs again.
	cutRep, err := e.sweeper(&failOnce{SweepAPI: e.db}).Run(ctx, sweep.Options{Budget: time.Minute})
	if err == nil {
		t.Fatal("the cut run reported no error")
	}
	rep, err := e.sweeper(e.db).Run(ctx, sweep.Options{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got, cut := rep.Counts[class], cutRep.Counts[class]; got["ended"]+cut["ended"] != 2 || got["protected"]+cut["protected"] != 1 {
		t.Fatalf("run: %v (cut run: %v)", rep.Counts, cutRep.Counts)
	}
	for _, s := range []privacy.SubjectID{bounced, complained} {
		sub := item(privacy.TableSubjects, "S#"+string(s), "SUB")
		switch {
		case str(sub["status"]) != privacy.StatusUnsubscribed:
			t.Errorf("%s: the suppressed subscription is %q", s[:2], str(sub["status"]))
		case sub["topics"] != nil || sub["list_pk"] != nil || sub[dynamo.AttrMailDue] != nil:
			t.Errorf("%s: ended, but topics, listed or an email due: %v", s[:2], sub)
		case str(sub["unsubscribed_reason"]) == "" || sub["retention_at"] == nil:
			t.Errorf("%s: ended with no reason or on no retention clock: %v", s[:2], sub)
		}
		if proof := item(privacy.TableSubjects, "S#"+string(s), "CONSENT#s-"+string(s[:4])); proof == nil || proof["withdrawn_at"] == nil {
			t.Errorf("%s: the consent's proof is not withdrawn: %v", s[:2], proof)
		}
		if n := entries(s); n != 1 {
			t.Errorf("%s: %d ledger entries of the end, want 1", s[:2], n)
		}
	}
	for _, s := range []privacy.SubjectID{early, lifted, held, bystander} {
		if got := status(s); got != privacy.StatusConfirmed {
			t.Errorf("%s: the subscription is %q, want confirmed", s[:2], got)
		}
		if n := entries(s); n != 0 {
			t.Errorf("%s: %d ledger entries of an end", s[:2], n)
		}
	}
	if got := status(unsubscribed); got != privacy.StatusConfirmed {
		t.Errorf("an unsubscribed suppression ended the subscription itself: %q", got)
	}
	// The suppressions stay, checked.
	for _, s := range []privacy.SubjectID{bounced, complained} {
		reasons, err := st.Suppressions(ctx, s)
		if err != nil || len(reasons) != 1 {
			t.Errorf("%s: suppressions after the end: %v %v", s[:2], reasons, err)
		}
	}
	// Again: nothing more.
	again, err := e.sweeper(e.db).Run(ctx, sweep.Options{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Counts[class]; got["ended"] != 0 || got["checked"] != 0 {
		t.Errorf("a second run: %v", again.Counts)
	}
	if entries(bounced) != 1 {
		t.Error("a second run recorded the end again")
	}
	// The unsubscribed class's days later, the ended subscriptions go.
	later := e.sweeper(e.db)
	later.Now = func() time.Time { return now.AddDate(0, 0, privacy.Retention().Unsubscribed.Days).Add(time.Hour) }
	if _, err := later.Run(ctx, sweep.Options{Budget: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []privacy.SubjectID{bounced, complained} {
		if sub := item(privacy.TableSubjects, "S#"+string(s), "SUB"); sub != nil {
			t.Errorf("%s: the ended subscription is kept past the unsubscribed class's days", s[:2])
		}
		if reasons, _ := st.Suppressions(ctx, s); len(reasons) != 1 {
			t.Errorf("%s: the suppression went with the subscription: %v", s[:2], reasons)
		}
	}
	if status(bystander) != privacy.StatusConfirmed {
		t.Error("the bystander's subscription went")
	}
}
