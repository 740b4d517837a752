package dynamo_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func ev(subject privacy.SubjectID, name privacy.EventName, at time.Time) privacy.Event {
	return privacy.Event{Subject: subject, Name: name, At: at, Ref: string(name), Purpose: privacy.PurposeMarketing,
		LegalBasis: privacy.BasisConsent, PolicyVersion: "v1"}
}

func TestSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	subj := privacy.SubjectID(strings.Repeat("1", 64))
	signup := privacy.Signup{Email: "r@example.com", Topics: []string{"events", "newsletter"}}
	// Now, not a fixed date: DynamoDB Local runs TTL, and a signup's
	// expires_at counted from a date long past would let it delete the item
	// mid-test.
	t0 := time.Now().UTC().Truncate(time.Second)
	cool := 10 * time.Minute

	due, err := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: signup, Subject: subj, ID: "s1", Cooldown: cool, Event: ev(subj, "subscribe_requested", t0)})
	if err != nil || !due {
		t.Fatalf("first signup: %v %v", due, err)
	}
	due, _ = s.RequestSubscription(ctx, privacy.PendingSignup{Sub: signup, Subject: subj, ID: "s2", Cooldown: cool, Event: ev(subj, "subscribe_requested", t0.Add(time.Minute))})
	if due {
		t.Fatal("a second signup inside the cooldown made another email due")
	}
	due, _ = s.RequestSubscription(ctx, privacy.PendingSignup{Sub: signup, Subject: subj, ID: "s3", Cooldown: cool, Event: ev(subj, "subscribe_requested", t0.Add(11*time.Minute))})
	if !due {
		t.Fatal("a signup after the cooldown sent nothing")
	}
	// The signup after the cooldown sent the waiting one again, as it was
	// asked: whoever typed the address again set none of its terms, and the
	// first link still confirms (fourth review: a stranger's signup cut the
	// person's link). A link of no signup of it does not.
	if sub, err := s.Subscription(ctx, subj); err != nil || sub.SignupID != "s3" || strings.Join(sub.Topics, ",") != "events,newsletter" {
		t.Fatalf("after the signup again: %+v %v", sub, err)
	}
	if _, err := s.ConfirmSubscription(ctx, subj, "s2", ev(subj, "subscription_confirmed", t0.Add(12*time.Minute))); !errors.Is(err, privacy.ErrStale) {
		t.Fatalf("a link of no signup confirmed: %v", err)
	}
	// Suppressed earlier: the opt-in lifts unsubscribed and complained, not bounced.
	for _, r := range []string{privacy.SuppressUnsubscribed, privacy.SuppressComplained, privacy.SuppressBounced} {
		if err := s.Suppress(ctx, subj, r, ev(subj, privacy.EventName("suppressed_"+r), t0)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ { // idempotent: only the first confirms (with the first link)
		if confirmed, err := s.ConfirmSubscription(ctx, subj, "s1", ev(subj, "subscription_confirmed", t0.Add(13*time.Minute))); err != nil || confirmed != (i == 0) {
			t.Fatalf("confirm #%d: confirmed %v, %v", i+1, confirmed, err)
		}
	}
	if reasons, _ := s.Suppressions(ctx, subj); len(reasons) != 1 || reasons[0] != privacy.SuppressBounced {
		t.Fatalf("suppressions after confirmation: %v", reasons)
	}
	sub, err := s.Subscription(ctx, subj)
	if err != nil || sub.Status != privacy.StatusConfirmed || strings.Join(sub.Topics, ",") != "events,newsletter" {
		t.Fatalf("subscription %+v %v", sub, err)
	}
	list, _, err := s.SubscribersPage(ctx, "", 100)
	if err != nil || len(list) != 1 || list[0].Subject != subj {
		t.Fatalf("subscribers %+v %v", list, err)
	}
	// A confirmed subscriber signing up again changes nothing.
	if due, _ := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: signup, Subject: subj, ID: "s4", Cooldown: cool, Event: ev(subj, "subscribe_requested", t0.Add(time.Hour))}); due {
		t.Fatal("a confirmed subscriber was sent another confirmation")
	}
	if sub, _ := s.SetTopics(ctx, subj, []string{"product_updates"}, ev(subj, "preferences_changed", t0.Add(2*time.Hour))); strings.Join(sub.Topics, ",") != "product_updates" {
		t.Fatalf("topics %v", sub.Topics)
	}
	// Unsubscribe: off the list, suppressed, a deletion date; twice is the same.
	for i := 0; i < 2; i++ {
		if err := s.Unsubscribe(ctx, subj, ev(subj, "unsubscribed", t0.Add(3*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	sub, _ = s.Subscription(ctx, subj)
	list, _, _ = s.SubscribersPage(ctx, "", 100)
	reasons, _ := s.Suppressions(ctx, subj)
	sort.Strings(reasons)
	if sub.Status != privacy.StatusUnsubscribed || len(sub.Topics) != 0 || len(list) != 0 || strings.Join(reasons, ",") != "bounced,unsubscribed" {
		t.Fatalf("after unsubscribe: %+v list=%d reasons=%v", sub, len(list), reasons)
	}
	if _, err := s.SetTopics(ctx, subj, []string{"events"}, ev(subj, "preferences_changed", t0.Add(4*time.Hour))); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("topics set on an unsubscribed record: %v", err)
	}
	// A new signup needs a fresh confirmation.
	if due, _ := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: signup, Subject: subj, ID: "s5", Cooldown: cool, Event: ev(subj, "subscribe_requested", t0.Add(5*time.Hour))}); !due {
		t.Fatal("re-signup after unsubscribing sent no confirmation")
	}
	if sub, _ := s.Subscription(ctx, subj); sub.Status != privacy.StatusPending {
		t.Fatalf("re-signup status %s", sub.Status)
	}
	// Unsubscribing an address with no subscription still suppresses it.
	other := privacy.SubjectID(strings.Repeat("2", 64))
	if err := s.Unsubscribe(ctx, other, ev(other, "unsubscribed", t0)); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Suppressions(ctx, other); len(r) != 1 {
		t.Fatalf("suppressions %v", r)
	}
	if _, err := s.Subscription(ctx, other); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("an unsubscribe created a subscription: %v", err)
	}
}

func TestAllow(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	now := time.Now()
	for i := 1; i <= 4; i++ {
		ok, err := s.Allow(ctx, "k", 3, now)
		if err != nil || ok != (i <= 3) {
			t.Fatalf("use %d: %v %v", i, ok, err)
		}
	}
}
