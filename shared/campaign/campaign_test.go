package campaign_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
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

// A campaign goes once to each confirmed subscriber of its topic, with the
// one-click unsubscribe headers and working links; never to a suppressed
// or restricted one. A rerun sends nothing twice, retries what failed,
// and never retries a message SES refused for good; a send another run
// holds is a failure to retry, not a send.
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
		if err := store.ConfirmSubscription(ctx, sub, "signup-"+who, e); err != nil {
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
	restricted := subscribe("restricted", "newsletter")
	if err := store.Restrict(ctx, restricted, "req-1", privacy.Event{Subject: restricted, Name: "restriction_in_place", At: now}); err != nil {
		t.Fatal(err)
	}

	sender := &refuse{next: &ses.Sender{Client: localtest.SES(svc), From: "news@example.com"},
		rejected: map[string]bool{addr("rejected"): true}, down: map[string]bool{addr("down"): true}, tried: map[string]int{}}
	var logs bytes.Buffer
	s := &campaign.Sender{Store: store, Mail: sender, Tokens: tokens, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Config: notify.Config{Company: "Example", BaseURL: "https://privacy.example.com", PolicyURL: "https://example.com/p"},
		Policy: privacy.FixedPolicy("2027-02-01"), Now: func() time.Time { return now }}
	c := notify.Campaign{ID: "spring-" + u, Topic: "newsletter", Subject: "Spring news", Body: "What is new this spring."}

	// Another run holds busy's send right now.
	busyKey := campaign.SendKey(c.ID, h.Subject(addr("busy")))
	if claim, err := store.ClaimMail(ctx, busyKey, now, time.Hour); err != nil || claim != privacy.Claimed {
		t.Fatalf("claim: %v %v", claim, err)
	}

	res, err := s.Send(ctx, c)
	want := campaign.Result{Sent: 2, SkippedSuppressed: 1, SkippedTopic: 1, SkippedRestricted: 1, Rejected: 1, Failed: 2}
	if res != want || err == nil {
		t.Fatalf("first run %+v (%v), want %+v and an error asking for a rerun", res, err, want)
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
		link := strings.Trim(got[0].Header("List-Unsubscribe"), "<>")
		lu, err := url.Parse(link)
		if err != nil || !strings.HasPrefix(link, "https://privacy.example.com/v1/unsubscribe?token=") {
			t.Fatalf("%s: List-Unsubscribe %q", who, link)
		}
		claims, err := tokens.Check(lu.Query().Get("token"), token.Unsubscribe, now)
		if err != nil || claims.Subject != h.Subject(addr(who)) {
			t.Errorf("%s: the unsubscribe link names %v (%v)", who, claims.Subject, err)
		}
	}
	for _, who := range []string{"events-only", "suppressed", "restricted", "busy"} {
		if n := len(localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(addr(who)) })); n != 0 {
			t.Errorf("%s got %d emails", who, n)
		}
	}

	// The rerun, once the outage is over and the other run let go: the
	// two sent are not sent again, the rejected one is not retried, the
	// two that failed go now.
	delete(sender.down, addr("down"))
	if err := store.ReleaseMail(ctx, busyKey); err != nil {
		t.Fatal(err)
	}
	res, err = s.Send(ctx, c)
	want = campaign.Result{Sent: 2, AlreadySent: 3, SkippedSuppressed: 1, SkippedTopic: 1, SkippedRestricted: 1}
	if res != want || err != nil {
		t.Fatalf("rerun %+v (%v), want %+v", res, err, want)
	}
	if sender.tried[addr("rejected")] != 1 || sender.tried[addr("ann")] != 1 {
		t.Errorf("tries: %v (a rejected or sent message was tried again)", sender.tried)
	}
	for _, who := range []string{"down", "busy"} {
		if n := len(localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(addr(who)) })); n != 1 {
			t.Errorf("%s got %d emails after the rerun", who, n)
		}
	}
	for _, who := range []string{"ann", "bob", "rejected", "down", "busy", "suppressed", "restricted"} {
		if strings.Contains(logs.String(), addr(who)) {
			t.Errorf("the campaign logged the address of %s", who)
		}
	}
}
