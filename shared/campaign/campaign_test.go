package campaign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/ses"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// refuse answers like SES for the addresses it names: rejected for good,
// or down; every other message goes to the SES emulator.
type refuse struct {
	next     mailer.Sender
	mu       sync.Mutex
	rejected map[string]bool
	down     map[string]bool
	tried    map[string]int
}

func (r *refuse) Send(ctx context.Context, m notify.Message) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tried[m.To[0]]++
	switch {
	case r.rejected[m.To[0]]:
		return "", fmt.Errorf("%w: MessageRejected", notify.ErrRejected)
	case r.down[m.To[0]]:
		return "", errors.New("dial tcp: connection refused")
	}
	return r.next.Send(ctx, m)
}

// memQueue keeps what the planner queues (the fast layer; the e2e test
// sends through the local SQS server).
type memQueue struct{ batches []privacy.CampaignBatch }

func (q *memQueue) Enqueue(_ context.Context, b []privacy.CampaignBatch) error {
	q.batches = append(q.batches, b...)
	return nil
}

// sqsEvent is the queued batches as Lambda delivers them, message ids by
// sequence.
func sqsEvent(t *testing.T, batches []privacy.CampaignBatch) events.SQSEvent {
	var ev events.SQSEvent
	for _, b := range batches {
		body, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: b.Seq, Body: string(body)})
	}
	return ev
}

// A campaign goes once to each confirmed subscriber of its topic, with the
// one-click unsubscribe headers and working links; never to a suppressed
// or restricted one, nor to one who left the topic after it was planned.
// The planner pages (three subscribers at a time here) and queues subject
// ids; a second plan queues nothing, and the same id with other content is
// refused. A batch that comes back sends nothing twice, retries what
// failed, and never retries a message SES refused for good; a send another
// try holds is a failure to retry, not a send. The status adds it up.
func TestCampaign(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Subjects: tables["SubjectsTable"], Ledger: tables["LedgerTable"],
		Suppression: tables["SuppressionTable"], Ops: tables["OpsTable"]})
	ctx := context.Background()
	now := time.Now().UTC()
	u := localtest.Unique()
	h, _ := privacy.NewHasher([]byte("campaign-test-pepper-0123456789"))
	tokens, _ := token.New([]byte("campaign-test-token-key-0123456789"))
	addr := func(who string) string { return who + "-" + u + "@example.com" }
	subscribe := func(who string, topics ...string) privacy.SubjectID {
		t.Helper()
		email := addr(who)
		sub := h.Subject(email)
		e := privacy.Event{Subject: sub, Name: "subscribe_requested", At: now, Ref: who}
		if _, err := store.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: email, Topics: topics},
			Subject: sub, ID: "signup-" + who, Event: e}); err != nil {
			t.Fatal(err)
		}
		e.Name = "subscription_confirmed"
		if _, err := store.ConfirmSubscription(ctx, sub, "signup-"+who, e); err != nil {
			t.Fatal(err)
		}
		return sub
	}
	for _, who := range []string{"ann", "bob", "rejected", "down", "busy"} {
		subscribe(who, "newsletter")
	}
	subscribe("events-only", "events")
	supp := subscribe("suppressed", "newsletter")
	if err := store.Suppress(ctx, supp, privacy.SuppressComplained, privacy.Event{Subject: supp, Name: "complained", At: now}); err != nil {
		t.Fatal(err)
	}
	left := subscribe("left", "newsletter")
	restricted := subscribe("restricted", "newsletter")
	if err := store.Restrict(ctx, restricted, "req-1", privacy.Event{Subject: restricted, Name: "restriction_in_place", At: now}); err != nil {
		t.Fatal(err)
	}

	sender := &refuse{next: &ses.Sender{Client: localtest.SES(svc), From: "news@example.com"},
		rejected: map[string]bool{addr("rejected"): true}, down: map[string]bool{addr("down"): true}, tried: map[string]int{}}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	q := &memQueue{}
	p := &campaign.Planner{Store: store, Queue: q, Page: 3, Log: log, Now: func() time.Time { return now }}
	s := &campaign.Sender{Store: store, Mail: sender, Tokens: tokens, Log: log, Pace: campaign.NewPacer(1000, time.Now),
		Config: notify.Config{Company: "Example", BaseURL: "https://privacy.example.com", PolicyURL: "https://example.com/p",
			UnsubscribeMailDomain: "unsubscribe.example.com"},
		Policy: privacy.FixedPolicy("2027-02-01"), Now: func() time.Time { return now }}
	c := notify.Campaign{ID: "spring-" + u, Topic: "newsletter", Subject: "Spring news", Body: "What is new this spring."}
	deadline := now.Add(time.Hour)

	plan, err := p.Plan(ctx, c, deadline)
	if err != nil || plan.State != privacy.CampaignPlanned || plan.Planned != 8 || plan.NotOnTopic != 1 || plan.Pages < 3 {
		t.Fatalf("plan %+v (%v), want 8 planned, 1 not on the topic, in 3 pages or more", plan, err)
	}
	queued := 0
	for _, b := range q.batches {
		queued += len(b.Subjects)
		if strings.Contains(fmt.Sprint(b), "@") {
			t.Errorf("a queued batch carries an address: %v", b)
		}
	}
	if queued != 8 || len(q.batches) != plan.Batches {
		t.Fatalf("%d subjects in %d batches queued, plan says %d batches", queued, len(q.batches), plan.Batches)
	}
	if again, err := p.Plan(ctx, c, deadline); err != nil || again.Planned != 8 || len(q.batches) != plan.Batches {
		t.Fatalf("second plan %+v (%v): %d batches queued, want none more", again, err, len(q.batches))
	}
	other := c
	other.Body = "Another text."
	if _, err := p.Plan(ctx, other, deadline); !errors.Is(err, campaign.ErrInvalid) {
		t.Fatalf("same id, other content: %v, want ErrInvalid", err)
	}
	for _, bad := range []notify.Campaign{{ID: "x y", Topic: "newsletter", Subject: "s", Body: "b"},
		{ID: "ok", Topic: "nope", Subject: "s", Body: "b"}, {ID: "ok2", Topic: "newsletter"}} {
		if _, err := p.Plan(ctx, bad, deadline); !errors.Is(err, campaign.ErrInvalid) {
			t.Errorf("plan %+v: %v, want ErrInvalid", bad, err)
		}
	}

	// Left the topic after planning, before the send.
	if _, err := store.SetTopics(ctx, left, []string{"events"}, privacy.Event{Subject: left, Name: "topics_changed", At: now}); err != nil {
		t.Fatal(err)
	}
	// Another try holds busy's send right now.
	busyKey := campaign.SendKey(c.ID, h.Subject(addr("busy")))
	if claim, err := store.ClaimMail(ctx, busyKey, now, time.Hour); err != nil || claim != privacy.Claimed {
		t.Fatalf("claim: %v %v", claim, err)
	}

	resp, err := batch.Queue(s.Handle)(ctx, sqsEvent(t, q.batches))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var back []privacy.CampaignBatch
	for _, b := range q.batches {
		if failed[b.Seq] {
			back = append(back, b)
		} else if slices.Contains(b.Subjects, h.Subject(addr("down"))) || slices.Contains(b.Subjects, h.Subject(addr("busy"))) {
			t.Errorf("batch %s failed a send but was not reported", b.Seq)
		}
	}
	if len(back) == 0 || len(back) > 2 {
		t.Fatalf("%d batches reported failed, want those of down and busy", len(back))
	}
	st, found, err := campaign.ReadStatus(ctx, store, c.ID)
	want := privacy.CampaignTally{Sent: 2, Suppressed: 1, NotOnTopic: 2, Restricted: 1, Rejected: 1, Failed: 2}
	if err != nil || !found || st.CampaignTally != want || st.State != campaign.StateSending || st.Planned != 8 {
		t.Fatalf("status after the first try %+v (%v), want %+v, sending", st, err, want)
	}
	for _, who := range []string{"ann", "bob"} {
		got := localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(addr(who)) && e.Subject == "Spring news" })
		if len(got) != 1 {
			t.Fatalf("%s got %d campaign emails", who, len(got))
		}
		// The footer says when the policy in force was last updated.
		if !strings.Contains(got[0].Body.Text, "(last updated 2027-02-01)") {
			t.Errorf("%s: the footer has no last-updated day:\n%s", who, got[0].Body.Text)
		}
		// RFC 8058: one-click unsubscribe by POST, and the link works.
		if got[0].Header("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("%s: List-Unsubscribe-Post %q", who, got[0].Header("List-Unsubscribe-Post"))
		}
		// The https link, then the mailto: alternative (#34 item 7).
		link, mailto, ok := strings.Cut(got[0].Header("List-Unsubscribe"), ", ")
		link, mailto = strings.Trim(link, "<>"), strings.Trim(mailto, "<>")
		lu, err := url.Parse(link)
		if err != nil || !ok || !strings.HasPrefix(link, "https://privacy.example.com/v1/unsubscribe?token=") {
			t.Fatalf("%s: List-Unsubscribe %q", who, got[0].Header("List-Unsubscribe"))
		}
		claims, err := tokens.Check(lu.Query().Get("token"), token.Unsubscribe, now)
		if err != nil || claims.Subject != h.Subject(addr(who)) {
			t.Errorf("%s: the unsubscribe link names %v (%v)", who, claims.Subject, err)
		}
		local, ok := strings.CutSuffix(strings.TrimPrefix(mailto, "mailto:"), "@unsubscribe.example.com")
		if claims, err := tokens.CheckMailbox(local, token.Unsubscribe, now); !ok || err != nil || claims.Subject != h.Subject(addr(who)) {
			t.Errorf("%s: the mailto: alternative %q names %v (%v)", who, mailto, claims.Subject, err)
		}
	}
	for _, who := range []string{"events-only", "suppressed", "restricted", "busy", "left"} {
		if n := len(localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(addr(who)) })); n != 0 {
			t.Errorf("%s got %d emails", who, n)
		}
	}

	// The failed batches come back once the outage is over and the other
	// try let go: the ones sent are not sent again, the rejected one is
	// not retried, the two that failed go now.
	delete(sender.down, addr("down"))
	if err := store.ReleaseMail(ctx, busyKey); err != nil {
		t.Fatal(err)
	}
	if resp, err := batch.Queue(s.Handle)(ctx, sqsEvent(t, back)); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the retry: %+v (%v)", resp, err)
	}
	st, _, err = campaign.ReadStatus(ctx, store, c.ID)
	want = privacy.CampaignTally{Sent: 4, Suppressed: 1, NotOnTopic: 2, Restricted: 1, Rejected: 1}
	if err != nil || st.CampaignTally != want || st.State != campaign.StateDone || st.Reported != st.Batches {
		t.Fatalf("status after the retry %+v (%v), want %+v, done", st, err, want)
	}
	if sender.tried[addr("rejected")] != 1 || sender.tried[addr("ann")] != 1 {
		t.Errorf("tries: %v (a rejected or sent message was tried again)", sender.tried)
	}
	for _, who := range []string{"down", "busy"} {
		if n := len(localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(addr(who)) })); n != 1 {
			t.Errorf("%s got %d emails after the retry", who, n)
		}
	}
	// A message that is not a batch fails, and nothing is sent for it.
	if resp, _ := batch.Queue(s.Handle)(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "junk", Body: "{"}}}); len(resp.BatchItemFailures) != 1 {
		t.Errorf("a junk message: %+v, want it reported failed", resp)
	}
	for _, who := range []string{"ann", "bob", "rejected", "down", "busy", "suppressed", "restricted", "left"} {
		if strings.Contains(logs.String(), addr(who)) {
			t.Errorf("the campaign logged the address of %s", who)
		}
	}
}

// The pacer starts sends an interval apart; after a pause it makes up
// what was missed, up to a second's sends, at 1.1 times the rate, so the
// average is the rate and no moment is more than 10% above it.
func TestPacer(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	p := campaign.NewPacer(10, func() time.Time { return now })
	// At the start nothing is saved: 100 ms apart.
	for i, want := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond} {
		if got := p.Reserve(); got != want {
			t.Errorf("reserve %d: wait %v, want %v", i, got, want)
		}
	}
	// Sends at 100 a second for 10 s, with a 500 ms pause every 5 s: the
	// long-run rate stays 100, no 1-second window sees more than 110.
	now = time.Unix(2_000_000, 0)
	p = campaign.NewPacer(100, func() time.Time { return now })
	var starts []time.Time
	end := now.Add(10 * time.Second)
	pauseAt := now.Add(5 * time.Second)
	for now.Before(end) {
		if !now.Before(pauseAt) {
			now = now.Add(500 * time.Millisecond)
			pauseAt = pauseAt.Add(5 * time.Second)
		}
		now = now.Add(p.Reserve())
		starts = append(starts, now)
	}
	if n := len(starts); n < 990 || n > 1000 {
		t.Errorf("%d sends in 10 s with pauses, want the rate's 1,000 (within 1%%)", n)
	}
	for i := range starts {
		j := i
		for j < len(starts) && starts[j].Sub(starts[i]) < time.Second {
			j++
		}
		if j-i > 111 {
			t.Fatalf("%d sends in the second from %v, want at most 110", j-i, starts[i].Sub(starts[0]))
		}
	}
	for _, c := range []struct {
		total   float64
		senders int
		want    float64
	}{{14, 2, 7}, {100, 4, 25}} {
		if got, err := campaign.Share(c.total, c.senders); err != nil || got != c.want {
			t.Errorf("Share(%v, %d) = %v, %v", c.total, c.senders, got, err)
		}
	}
	if _, err := campaign.Share(0, 2); err == nil {
		t.Error("a rate of 0 was accepted")
	}
}

// A planner that reaches its deadline stops after a saved page and says
// so; the next run resumes there: every subscriber queued once, in as
// many batches as the plan says.
func TestPlannerPausesAndResumes(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Subjects: tables["SubjectsTable"], Ledger: tables["LedgerTable"],
		Suppression: tables["SuppressionTable"], Ops: tables["OpsTable"]})
	ctx := context.Background()
	h, _ := privacy.NewHasher([]byte("campaign-test-pepper-0123456789"))
	u := localtest.Unique()
	start := time.Now().UTC()
	for i := range 7 {
		email := fmt.Sprintf("p%d-%s@example.com", i, u)
		sub := h.Subject(email)
		e := privacy.Event{Subject: sub, Name: "subscribe_requested", At: start}
		if _, err := store.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: email, Topics: []string{"events"}},
			Subject: sub, ID: "s", Event: e}); err != nil {
			t.Fatal(err)
		}
		e.Name = "subscription_confirmed"
		if _, err := store.ConfirmSubscription(ctx, sub, "s", e); err != nil {
			t.Fatal(err)
		}
	}
	// Each reading of the clock is a minute later: the deadline, three
	// minutes on, comes after the first page or two.
	now := start
	clock := func() time.Time { now = now.Add(time.Minute); return now }
	q := &memQueue{}
	p := &campaign.Planner{Store: store, Queue: q, Page: 2, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: clock}
	c := notify.Campaign{ID: "paused-" + u, Topic: "events", Subject: "S", Body: "B"}
	plan, err := p.Plan(ctx, c, start.Add(3*time.Minute))
	if err == nil || plan.State != privacy.CampaignPlanning || plan.Pages == 0 || plan.Planned == 7 {
		t.Fatalf("first run %+v (%v), want it paused after a page", plan, err)
	}
	st, _, _ := campaign.ReadStatus(ctx, store, c.ID)
	if st.State != campaign.StatePlanning || st.Planned != plan.Planned {
		t.Fatalf("status while paused %+v", st)
	}
	plan, err = p.Plan(ctx, c, now.Add(time.Hour))
	if err != nil || plan.State != privacy.CampaignPlanned || plan.Planned != 7 {
		t.Fatalf("resumed run %+v (%v)", plan, err)
	}
	seen := map[privacy.SubjectID]int{}
	for _, b := range q.batches {
		for _, s := range b.Subjects {
			seen[s]++
		}
	}
	if len(seen) != 7 || len(q.batches) != plan.Batches {
		t.Fatalf("%d subjects in %d batches queued, plan says %d batches", len(seen), len(q.batches), plan.Batches)
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%s queued %d times", s, n)
		}
	}
}

// One sender's rate: the configured total split among the senders, or
// when none is configured 80% of the account's SES maximum; refused when
// it cannot be used or a claimed send could outwait its lease.
func TestSenderRate(t *testing.T) {
	account := func(max float64, err error) func(context.Context) (float64, error) {
		return func(context.Context) (float64, error) { return max, err }
	}
	tests := []struct {
		name    string
		total   float64
		senders int
		lease   time.Duration
		max     func(context.Context) (float64, error)
		want    float64
		wantErr bool
	}{
		{"configured", 100, 2, 2 * time.Minute, account(0, errors.New("not asked")), 50, false},
		{"the account's", 0, 2, 2 * time.Minute, account(14, nil), 14 * 0.8 / 2, false},
		{"the account unreadable", 0, 2, 2 * time.Minute, account(0, errors.New("ses account: denied")), 0, true},
		{"an account of no rate", 0, 2, 2 * time.Minute, account(0, nil), 0, true},
		{"below 0", -1, 2, 2 * time.Minute, account(14, nil), 0, true},
		{"no sender", 100, 0, 2 * time.Minute, account(14, nil), 0, true},
		{"a lease too short for the rate", 1, 2, 3 * time.Second, account(14, nil), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := campaign.SenderRate(context.Background(), tt.total, tt.senders, tt.lease, tt.max)
			if (err != nil) != tt.wantErr || math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("%v, %v; want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
