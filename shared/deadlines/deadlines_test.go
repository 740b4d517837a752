package deadlines_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/deadlines"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/ses"
)

func TestOneDigestPerRun(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	team := "privacy-team-" + localtest.Unique() + "@example.com"
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	w := &deadlines.Watch{Store: dynamo.New(db, dynamo.Tables{Requests: n["RequestsTable"], Subjects: n["SubjectsTable"]}),
		Mail:   &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"},
		Config: notify.Config{TeamInbox: team}, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := context.Background()
	toTeam := func(e localtest.Email) bool { return e.To(team) }

	// Nothing to report: no email.
	if res, err := w.Run(ctx); err != nil || res.Sent {
		t.Fatalf("empty: %+v %v", res, err)
	}
	put := func(id, typ, status string, due time.Time) {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(n["RequestsTable"]), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "R#" + id}, "sk": &types.AttributeValueMemberS{Value: "REQUEST"},
			"id": &types.AttributeValueMemberS{Value: id}, "type": &types.AttributeValueMemberS{Value: typ},
			"status": &types.AttributeValueMemberS{Value: status}, "due_at": &types.AttributeValueMemberS{Value: due.Format(time.RFC3339)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("overdue-1", "access", "pending", now.Add(-24*time.Hour))
	put("soon-1", "erasure", "in_progress", now.Add(3*24*time.Hour))
	put("review-1", "rectification", "awaiting_review", now.Add(6*24*time.Hour))
	put("later-1", "access", "pending", now.Add(20*24*time.Hour))
	put("waiting-1", "objection", "identity_unverified", now.Add(25*24*time.Hour))
	// Asked for more: waiting on the requester, and overdue once its
	// deadline passed (the clock does not stop).
	put("asked-1", "rectification", "waiting_for_information", now.Add(10*24*time.Hour))
	put("asked-late", "access", "waiting_for_information", now.Add(-2*24*time.Hour))
	put("done-1", "access", "completed", now.Add(-40*24*time.Hour))
	// A legal hold in force is listed; one that ended and a restriction are not.
	store := dynamo.New(db, dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"]})
	for _, h := range []privacy.Hold{{Subject: "aaaaaaaaaaaaheld", Reason: "LITIGATION-7", PlacedBy: "dpo", PlacedAt: now.AddDate(0, -1, 0)},
		{Subject: "bbbbbbbbbbbbended", Reason: "ENDED-HOLD", PlacedBy: "dpo", PlacedAt: now.AddDate(0, -2, 0), Until: now.Add(-time.Hour)}} {
		if err := store.PlaceHold(ctx, h, privacy.Event{Subject: h.Subject, Name: "legal_hold_placed", At: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Restrict(ctx, "cccccccccccrestricted", "req-r", privacy.Event{Subject: "cccccccccccrestricted", Name: "restricted", At: now}); err != nil {
		t.Fatal(err)
	}
	res, err := w.Run(ctx)
	if err != nil || !res.Sent || res.Overdue != 2 || res.DueSoon != 2 || res.Waiting != 2 || res.Holds != 1 {
		t.Fatalf("digest: %+v %v", res, err)
	}
	mails := localtest.WaitEmails(t, svc, 1, 10*time.Second, toTeam)
	if len(mails) != 1 {
		t.Fatalf("%d digests, want 1", len(mails))
	}
	body := mails[0].Body.Text
	for _, want := range []string{"overdue-1", "soon-1", "review-1", "waiting-1", "asked-1", "asked-late", "aaaaaaaaaaaa", "LITIGATION-7"} {
		if !strings.Contains(body, want) {
			t.Errorf("digest lacks %s:\n%s", want, body)
		}
	}
	for _, not := range []string{"later-1", "done-1", "ENDED-HOLD", "cccccccccccr"} {
		if strings.Contains(body, not) {
			t.Errorf("digest lists %s", not)
		}
	}
	overdue, waiting, _ := strings.Cut(body, "Waiting on the requester")
	if !strings.Contains(overdue, "asked-late") || !strings.Contains(waiting, "asked-1") || strings.Contains(waiting, "asked-late") {
		t.Errorf("an overdue request waiting for an answer is overdue, one still in time waits on the requester:\n%s", body)
	}
	if !strings.Contains(mails[0].Subject, "2 overdue") {
		t.Errorf("subject %q", mails[0].Subject)
	}
}

// requests is a table of requests in memory, answering as the
// by-status-due index does.
type requests []privacy.RightsRequest

func (rs requests) DueRequests(_ context.Context, status privacy.Status, until time.Time) ([]privacy.RightsRequest, error) {
	var out []privacy.RightsRequest
	for _, r := range rs {
		if r.Status == status && !r.DueAt.After(until) {
			out = append(out, privacy.RightsRequest{ID: r.ID, Type: r.Type, Status: r.Status, DueAt: r.DueAt, Controller: r.Controller})
		}
	}
	return out, nil
}

// site is the site's requests, with no delivery and no hold.
type site struct{ requests }

func (site) DeliverySummaries(context.Context, string) ([]privacy.Delivery, error) { return nil, nil }
func (site) Holds(context.Context) ([]privacy.Hold, error)                         { return nil, nil }

// outbox keeps what it is given to send.
type outbox []notify.Message

func (o *outbox) Send(_ context.Context, m notify.Message) (string, error) {
	*o = append(*o, m)
	return "id", nil
}

// #35: the controllers' OpenDSR requests moved to a table of their own
// (PlatformRequestsTable), and the digest read only the site's: an
// overdue Platform request was in no digest. Each of the Platform's open
// requests is listed where its deadline puts it, marked as the
// Platform's with its controller, beside the site's.
func TestPlatformRequestsInTheDigest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		site     requests
		platform requests
		res      deadlines.Result
		// want are lines of the digest's text; not, what it must not hold.
		want, not []string
	}{
		{name: "a Platform request overdue, alone",
			platform: requests{{ID: "plat-late", Type: privacy.RightErasure, Status: privacy.RequestPending, DueAt: now.Add(-48 * time.Hour),
				Controller: "us-acme"}},
			res:  deadlines.Result{Overdue: 1, Sent: true},
			want: []string{"  plat-late  erasure  pending  was due 2026-12-05  Platform, controller us-acme\n"}},
		{name: "beside the site's, each where its deadline puts it",
			site: requests{{ID: "site-late", Type: privacy.RightAccess, Status: privacy.RequestPending, DueAt: now.Add(-24 * time.Hour)}},
			platform: requests{
				{ID: "plat-soon", Type: privacy.RightAccess, Status: privacy.RequestInProgress, DueAt: now.Add(72 * time.Hour), Controller: "eu-other"},
				{ID: "plat-later", Type: privacy.RightAccess, Status: privacy.RequestPending, DueAt: now.Add(20 * 24 * time.Hour), Controller: "eu-other"},
				{ID: "plat-done", Type: privacy.RightErasure, Status: privacy.RequestCompleted, DueAt: now.Add(-24 * time.Hour), Controller: "us-acme"}},
			res: deadlines.Result{Overdue: 1, DueSoon: 1, Sent: true},
			want: []string{"  site-late  access  pending  was due 2026-12-06\n",
				"  plat-soon  access  in_progress  due 2026-12-10  Platform, controller eu-other\n"},
			not: []string{"plat-later", "plat-done"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sent outbox
			w := &deadlines.Watch{Store: site{tc.site}, Platform: tc.platform, Mail: &sent,
				Config: notify.Config{TeamInbox: "team@example.com"}, Now: func() time.Time { return now },
				Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			res, err := w.Run(context.Background())
			if err != nil || res != tc.res {
				t.Fatalf("run: %+v %v, want %+v", res, err, tc.res)
			}
			if len(sent) != 1 {
				t.Fatalf("%d digests, want 1", len(sent))
			}
			for _, want := range tc.want {
				if !strings.Contains(sent[0].Text, want) {
					t.Errorf("digest lacks %q:\n%s", want, sent[0].Text)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(sent[0].Text, not) {
					t.Errorf("digest lists %s:\n%s", not, sent[0].Text)
				}
			}
		})
	}
}
