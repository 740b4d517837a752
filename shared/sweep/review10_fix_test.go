package sweep_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sweep"
)

// Review 10's fixes, at the sweep: the grace runs from the sweep's own
// stamp (a since set back and a filing due at once end nothing before a
// week from the sweep's first sight); a suppression keyed by no subject,
// or with a since in the future, is counted unreadable and stops nothing
// (the rest of the run is done); a subject with an address correction
// open is protected, and ended once it is closed.
func TestReview10SweepGraceKeyAndCorrection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	st := dynamo.New(e.db, dynamo.Tables{Subjects: e.tables[privacy.TableSubjects], Ledger: e.tables[privacy.TableLedger],
		Suppression: e.tables[privacy.TableSuppression], Ops: e.tables[privacy.TableOps], Requests: e.tables[privacy.TableRequests]})
	class := privacy.Retention().SuppressedSubscription.Name
	grace := time.Duration(privacy.SuppressedSubscriptionGraceDays) * 24 * time.Hour
	ev := func(sub privacy.SubjectID, name string, at time.Time) privacy.Event {
		return privacy.Event{Subject: sub, Name: privacy.EventName(name), At: at, Ref: name, Purpose: privacy.PurposeMarketing,
			LegalBasis: privacy.BasisConsent, PolicyVersion: "v1"}
	}
	confirmedAt := time.Now().UTC().Add(-90 * 24 * time.Hour)
	backdated, correcting, victim := privacy.SubjectID(strings.Repeat("a7", 32)), privacy.SubjectID(strings.Repeat("c7", 32)),
		privacy.SubjectID(strings.Repeat("d7", 32))
	for _, sub := range []privacy.SubjectID{backdated, correcting, victim} {
		if _, err := st.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: string(sub[:4]) + "@example.com",
			Topics: []string{"newsletter"}}, Subject: sub, ID: "s-" + string(sub[:4]), Event: ev(sub, "subscribe_requested", confirmedAt)}); err != nil {
			t.Fatal(err)
		}
		if ok, err := st.ConfirmSubscription(ctx, sub, "s-"+string(sub[:4]), ev(sub, "subscription_confirmed", confirmedAt)); err != nil || !ok {
			t.Fatalf("confirm: %v %v", ok, err)
		}
	}
	put := func(table privacy.Table, item map[string]types.AttributeValue) {
		t.Helper()
		if _, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.tables[table]), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	ts := func(at time.Time) types.AttributeValue { return S(at.Format(time.RFC3339Nano)) }
	// As FeedbackFunction's role may write them: a bounce with since a
	// month back (after the confirmation) and filed due long ago.
	put(privacy.TableSuppression, map[string]types.AttributeValue{"pk": S("S#" + string(backdated)), "sk": S(privacy.SuppressBounced),
		"since": ts(now.Add(-30 * 24 * time.Hour)), "subject": S(string(backdated)), "retention_pk": S(privacy.RetentionShardName(1)), "retention_at": N(1)})
	// Under a request's key naming the victim; one with no subject at
	// all; one with a since in the future under the victim's own key.
	put(privacy.TableSuppression, map[string]types.AttributeValue{"pk": S("R#forged"), "sk": S(privacy.SuppressBounced),
		"since": ts(now.Add(-30 * 24 * time.Hour)), "subject": S(string(victim)), "retention_pk": S(privacy.RetentionShardName(0)), "retention_at": N(1)})
	put(privacy.TableSuppression, map[string]types.AttributeValue{"pk": S("S#"), "sk": S(privacy.SuppressComplained),
		"since": ts(now.Add(-30 * 24 * time.Hour)), "retention_pk": S(privacy.RetentionShardName(0)), "retention_at": N(1)})
	put(privacy.TableSuppression, map[string]types.AttributeValue{"pk": S("S#" + string(victim)), "sk": S(privacy.SuppressComplained),
		"since": ts(now.Add(400 * 24 * time.Hour)), privacy.AttrGraceFrom: ts(now.Add(-30 * 24 * time.Hour)),
		"retention_pk": S(privacy.RetentionShardName(0)), "retention_at": N(1)})
	// A genuine bounce of a subject whose address correction awaits the
	// team's review.
	if err := st.Suppress(ctx, correcting, privacy.SuppressBounced, ev(correcting, "suppressed_bounced", time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	request := map[string]types.AttributeValue{"pk": S("R#fix-1"), "sk": S("REQUEST"), "id": S("fix-1"), "subject": S(string(correcting)),
		"received_at": ts(now.Add(-10 * 24 * time.Hour)), "type": S(string(privacy.RightRectification)),
		"correction_field": S(privacy.FieldEmail), "status": S(string(privacy.RequestAwaitingReview))}
	put(privacy.TableRequests, request)
	// Something else due, in another table: swept whatever the above.
	other := seedClass(privacy.Retention().Inquiry, "S#someone")[1]
	e.put(t, other)
	e.backfill(t)

	status := func(sub privacy.SubjectID) string {
		t.Helper()
		s, err := st.Subscription(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}
	run := func(at time.Time) map[string]int {
		t.Helper()
		s := e.sweeper(e.db)
		s.Now = func() time.Time { return at }
		rep, err := s.Run(ctx, sweep.Options{Budget: time.Minute})
		if err != nil || !rep.Complete {
			t.Fatalf("run at %v: %v (%v)", at, err, rep.Counts)
		}
		return rep.Counts[class]
	}
	first := run(now)
	if first["stamped"] != 2 || first["unreadable"] != 3 || first["ended"] != 0 {
		t.Errorf("the first run: %v, want 2 stamped, 3 unreadable, none ended", first)
	}
	if e.get(t, other) != nil {
		t.Error("the inquiry past its period is kept: the unreadable suppressions stopped the run")
	}
	// Inside the week from the sweep's stamp: nothing ends, however old
	// the since.
	if got := run(now.Add(grace - time.Hour)); got["ended"] != 0 || status(backdated) != privacy.StatusConfirmed {
		t.Errorf("inside the grace from the stamp: %v, %q", got, status(backdated))
	}
	// After it: the backdated one ends; the correcting subject is
	// protected; the victim's is never touched.
	after := run(now.Add(grace + time.Hour))
	if after["ended"] != 1 || after["protected"] != 1 {
		t.Errorf("after the grace: %v, want 1 ended and 1 protected", after)
	}
	if status(backdated) != privacy.StatusUnsubscribed || status(correcting) != privacy.StatusConfirmed || status(victim) != privacy.StatusConfirmed {
		t.Errorf("after the grace: backdated %q, correcting %q, victim %q", status(backdated), status(correcting), status(victim))
	}
	// The correction closes (denied): a day later the subscription ends.
	request["status"] = S(string(privacy.RequestDenied))
	put(privacy.TableRequests, request)
	if got := run(now.Add(grace + 26*time.Hour)); got["ended"] != 1 || status(correcting) != privacy.StatusUnsubscribed {
		t.Errorf("after the correction closed: %v, %q", got, status(correcting))
	}
	if status(victim) != privacy.StatusConfirmed {
		t.Errorf("the victim's subscription is %q", status(victim))
	}
}

// A checkpoint is resumed only within a day of the run that began it: a
// shard that fails every run cannot keep the tables its checkpoint marks
// done from being swept again.
func TestReview10StaleCheckpointStartsOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	other := seedClass(privacy.Retention().Inquiry, "S#someone")[1]
	e.put(t, other)
	e.backfill(t)
	done := func(began time.Time) []byte {
		segs := map[privacy.Table][]map[string]bool{}
		for _, table := range []privacy.Table{privacy.TableSubjects, privacy.TableLedger, privacy.TableRequests, privacy.TableOps,
			privacy.TablePlatformRequests} {
			for range privacy.RetentionShards {
				segs[table] = append(segs[table], map[string]bool{"done": true})
			}
		}
		b, _ := json.Marshal(map[string]any{"run_id": began.UTC().Format("20060102T150405.000000000Z"), "segments": segs})
		return b
	}
	sw := &dynamo.Sweep{DB: e.db, Tables: e.tables}
	// Begun an hour ago: resumed, the subjects table is not read again.
	if err := sw.SaveSweepCheckpoint(ctx, done(now.Add(-time.Hour)), now.Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	rep, err := e.sweeper(e.db).Run(ctx, sweep.Options{Budget: time.Minute})
	if err != nil || !rep.Resumed || e.get(t, other) == nil {
		t.Fatalf("a fresh checkpoint: resumed %v, err %v, the inquiry kept %v", rep.Resumed, err, e.get(t, other) != nil)
	}
	// Begun two days ago (saved again every hour since): started over.
	if err := sw.SaveSweepCheckpoint(ctx, done(now.Add(-48*time.Hour)), now.Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	rep, err = e.sweeper(e.db).Run(ctx, sweep.Options{Budget: time.Minute})
	if err != nil || rep.Resumed || e.get(t, other) != nil {
		t.Fatalf("a stale checkpoint: resumed %v, err %v, the inquiry kept %v", rep.Resumed, err, e.get(t, other) != nil)
	}
}
