package dynamo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Every writer files what it writes in the retention index, never later
// than when the sweep has something to do with it (privacy.NextDue): an
// item filed too late, or not at all, would escape the sweep, which no
// longer scans.
func TestEveryWriteIsFiled(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	s := dynamo.New(db, dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"], Suppression: n["SuppressionTable"],
		Requests: n["RequestsTable"], Ops: n["OpsTable"], Records: n["RecordsTable"]})
	ctx := context.Background()
	now := time.Now().UTC()
	ev := func(sub privacy.SubjectID, name privacy.EventName) privacy.Event {
		return privacy.Event{Subject: sub, Name: name, At: now, Ref: string(name), PolicyVersion: "v1",
			Detail: map[string]string{"source_ip": "203.0.113.1", "user_agent": "UA"}}
	}
	a, b, c := privacy.SubjectID(strings.Repeat("a", 64)), privacy.SubjectID(strings.Repeat("b", 64)), privacy.SubjectID(strings.Repeat("c", 64))
	steps := []struct {
		name string
		do   func() error
	}{
		{"inquiry", func() error {
			return s.SaveInquiry(ctx, privacy.NewInquiry("i1", a, privacy.ContactForm{Name: "A", Email: "a@example.com", Topic: "demo",
				Message: "m"}, "v1", privacy.RequestMeta{SourceIP: "203.0.113.1", ReceivedAt: now}))
		}},
		{"signup", func() error {
			_, err := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: "b@example.com", Topics: []string{"newsletter"}},
				Subject: b, ID: "s1", Cooldown: time.Minute, Event: ev(b, "subscribe_requested")})
			return err
		}},
		{"unsubscribe", func() error {
			if _, err := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: "c@example.com", Topics: []string{"newsletter"}},
				Subject: c, ID: "s2", Cooldown: time.Minute, Event: ev(c, "subscribe_requested")}); err != nil {
				return err
			}
			if _, err := s.ConfirmSubscription(ctx, c, "s2", ev(c, "subscription_confirmed")); err != nil {
				return err
			}
			return s.Unsubscribe(ctx, c, ev(c, "unsubscribed"))
		}},
		{"client termination", func() error {
			_, err := s.MarkClientTerminated(ctx, a, ev(a, "client_termination_requested"))
			return err
		}},
		{"rights request and its completion", func() error {
			// (Verified: fulfilment starts from the team's statuses.)
			r := privacy.RightsRequest{ID: "r1", Subject: a, Email: "a@example.com", Type: "access", Status: privacy.RequestPending,
				ReceivedAt: now, DueAt: now.AddDate(0, 1, 0)}
			if err := s.CreateRequest(ctx, r, ev(a, "rights_request_received")); err != nil {
				return err
			}
			return s.SetOutcome(ctx, "r1", privacy.Outcome{Status: privacy.RequestCompleted}, ev(a, "rights_request_completed"))
		}},
		{"denied request", func() error {
			r := privacy.RightsRequest{ID: "r2", Subject: b, Email: "b@example.com", Type: "erasure", Status: privacy.RequestPending,
				ReceivedAt: now, DueAt: now.AddDate(0, 1, 0)}
			if err := s.CreateRequest(ctx, r, ev(b, "rights_request_received")); err != nil {
				return err
			}
			return s.Transition(ctx, "r2", privacy.Transition{Step: privacy.StepDeny, From: []privacy.Status{privacy.RequestPending}, Status: privacy.RequestDenied,
				Reason: "no"}, ev(b, "rights_request_denied"))
		}},
		{"counters", func() error {
			if _, err := s.Allow(ctx, "contact#x", 5, now); err != nil {
				return err
			}
			_, _, err := s.CountOnce(ctx, "soft#x", "m1", now, 24*time.Hour)
			return err
		}},
		{"mail marker", func() error { _, err := s.ClaimMail(ctx, "m1", now, time.Minute); return err }},
		{"campaign", func() error {
			_, err := s.StartCampaign(ctx, privacy.CampaignPlan{ID: "cmp1", Topic: "newsletter", Subject: "S", Body: "B", Created: now, Updated: now})
			return err
		}},
		{"callback", func() error { return s.EnqueueCallback(ctx, "acme", "r1", "https://c.example/cb", "completed", now) }},
		{"policy notice", func() error {
			_, _, err := s.PutNotice(ctx, privacy.Notice{Subject: b, Email: "b@example.com", Ref: "subscription",
				Version: privacy.PolicyVersion{Version: "v2", Effective: now}}, now)
			return err
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	classes := map[string]bool{}
	for role, id := range map[privacy.Table]string{privacy.TableSubjects: "SubjectsTable", privacy.TableLedger: "LedgerTable",
		privacy.TableRequests: "RequestsTable", privacy.TableOps: "OpsTable"} {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(n[id])})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			next, applies := privacy.NextDue(privacy.RetentionClasses(), role, dynamo.AsItem(it))
			if !applies {
				continue
			}
			for _, c := range privacy.RetentionClasses() {
				if _, ok := c.End(role, dynamo.AsItem(it)); ok {
					classes[c.Name] = true
				}
			}
			shard, want, filed, ok := dynamo.Filed(it)
			if !ok || filed.After(next) || shard != want {
				t.Errorf("%s %v: filed %v (%v) under %q (want %q), next due %v", role, it["sk"], filed, ok, shard, want, next)
			}
		}
	}
	// The steps reach most classes (the rest are reached by the sweep's
	// own strips and the recipients' deliveries, tested with them).
	if len(classes) < 12 {
		t.Errorf("only %d classes reached: %v", len(classes), classes)
	}
}
