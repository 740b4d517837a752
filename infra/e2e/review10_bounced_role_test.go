package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Tenth (role-versus-code) review of the change that has the sweep end a
// bounced or complained subscriber's subscription. docs/security.md
// (review 9's row) bounds what FeedbackFunction, which a stranger
// reaches, can newly cause: "a suppression it writes ... also ends that
// address's subscription a week later unless the team lifts it", and
// docs/data-model.md gives the week its purpose (the team lifts a
// suppression made in error; an ended subscription only a new signup
// brings back). The week is measured from the suppression's "since"
// (privacy.Retention().SuppressedSubscription, Clock "since"), an
// attribute the function's own grant lets it write with any value
// (Sid Suppress: pk, sk, since, subject, retention_pk, retention_at), and
// the new grant lets it file the item in the sweep's index. Run as the
// function's role through the local stack's AWS front, a compromised
// FeedbackFunction files a bounce dated 30 days back for a subscriber it
// can hash: the next hourly sweep ends the subscription at once
// (unsubscribed, the consent's proof withdrawn, no way back but a new
// signup), with no week for anyone to notice and lift it.
//
// Fails on the code under review (the subscription is ended by the first
// sweep after the filing); passes once the grace runs from a time only
// the sweep writes (say, the sweep's own first sight of the suppression,
// stamped in an attribute FeedbackFunction's grant does not name).
func TestReview10FeedbackRoleEndsASubscriptionWithNoGrace(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim := "r10-victim-" + u + "@example.com"
	s.subscribed(t, victim)
	s.idle(t)
	if st := str(s.subscription(t, victim), "status"); st != privacy.StatusConfirmed {
		t.Fatalf("the subscription is %q", st)
	}

	cfg, ok := s.AWSAs("FeedbackFunction")
	if !ok {
		t.Fatal("no FeedbackFunction")
	}
	db := dynamodb.NewFromConfig(cfg)
	now := time.Now().UTC()
	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	subject := string(s.hasher.Subject(victim))
	// Store.Suppress's own update (the attributes it names), with since a
	// month back and the filing due now.
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables["SuppressionTable"]),
		Key:              map[string]types.AttributeValue{"pk": sv("S#" + subject), "sk": sv(privacy.SuppressBounced)},
		UpdateExpression: aws.String("SET since = :since, subject = :subject, retention_pk = :p, retention_at = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":since": sv(now.AddDate(0, 0, -30).Format("2006-01-02T15:04:05.000000000Z")), ":subject": sv(subject),
			":p": sv(privacy.RetentionShardName(0)), ":at": &types.AttributeValueMemberN{Value: "1"}}})
	if err != nil {
		t.Fatalf("FeedbackFunction's role refused its own suppression's attributes: %v", err)
	}

	// The next hourly sweep, minutes later.
	resp, out := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", "{}", nil)
	var rep struct {
		Counts map[string]map[string]int `json:"counts"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("sweep: %d %s", resp.StatusCode, out)
	}
	sub := s.subscription(t, victim)
	if st := str(sub, "status"); st != privacy.StatusConfirmed {
		t.Errorf("a suppression FeedbackFunction's role filed minutes ago (its since set 30 days back, within its grant) ended "+
			"the subscription at the first sweep: status %q, reason %q, sweep counts %v; docs/security.md promises a week "+
			"for the team to lift it, and once ended only a new signup brings it back", st, str(sub, "unsubscribed_reason"),
			rep.Counts[privacy.Retention().SuppressedSubscription.Name])
		if p := s.consentProof(t, victim); p != nil && str(p, "withdrawn_at") != "" {
			t.Errorf("... and the consent's proof is marked withdrawn")
		}
	}
	if strings.Contains(s.logs.String(), victim) {
		t.Errorf("a log line names the address")
	}
}

// The same review: docs/security.md says the sweep ends "only the
// subscription under the suppression's own key (never a forward)", and
// the week's grace is for the team to lift a suppression (`privacyctl
// suppression show|lift -email`, which read the person's own partition,
// S#<subject>). dynamo.Sweep.EndSubscription takes the subject from
// sweepItem.Subject, which, for a key not S#-prefixed but R#-prefixed,
// falls back to the item's "subject" attribute (meant for a rights
// request in the requests table) — and "subject" is one of the
// attributes FeedbackFunction's grant lets it write. Run as the function's
// role, a compromised FeedbackFunction files a bounce under the key
// R#<anything> naming a subscriber's subject, with an honest since: the
// team's `suppression show` of the person finds nothing to lift during
// the week, the person is still mailed (no suppression under their key),
// and after the week the sweep ends their subscription.
//
// Fails on the code under review (the subscription is ended); passes once
// the sweep ends only for a suppression keyed S#<subject> (the key's
// subject, never an attribute), or the class selects only such keys.
func TestReview10FeedbackRoleEndsASubscriptionTheTeamCannotSee(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim := "r10-unseen-" + u + "@example.com"
	s.subscribed(t, victim)
	s.idle(t)

	cfg, ok := s.AWSAs("FeedbackFunction")
	if !ok {
		t.Fatal("no FeedbackFunction")
	}
	db := dynamodb.NewFromConfig(cfg)
	now := time.Now().UTC()
	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	subject := string(s.hasher.Subject(victim))
	key := map[string]types.AttributeValue{"pk": sv("R#r10-" + u), "sk": sv(privacy.SuppressBounced)}
	// Store.Suppress's update, honest clocks, under another key.
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables["SuppressionTable"]),
		Key:              key,
		UpdateExpression: aws.String("SET since = if_not_exists(since, :since), subject = :subject, retention_pk = :p, retention_at = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":since": sv(now.Format("2006-01-02T15:04:05.000000000Z")), ":subject": sv(subject),
			":p":  sv(privacy.RetentionShardName(0)),
			":at": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.AddDate(0, 0, privacy.SuppressedSubscriptionGraceDays).Unix(), 10)}}})
	if err != nil {
		t.Fatalf("FeedbackFunction's role refused its own suppression's attributes: %v", err)
	}
	// During the week the team looks the person up: nothing to lift.
	out, err := s.privacyctl(t, "suppression", "show", "-email", victim)
	if err != nil {
		t.Fatalf("suppression show: %v %s", err, out)
	}
	seen := strings.Contains(out, privacy.SuppressBounced)

	// The week passes (the clocks set back, as TestSuppressedSubscriptionEndedBySweep does).
	grace := time.Duration(privacy.SuppressedSubscriptionGraceDays) * 24 * time.Hour
	since := now.Add(-grace - time.Hour)
	s.setClocks(t, "SuppressionTable", key, map[string]time.Time{"since": since, "retention_at": since.Add(grace)})
	resp, body := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", "{}", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sweep: %d %s", resp.StatusCode, body)
	}
	if st := str(s.subscription(t, victim), "status"); st != privacy.StatusConfirmed {
		t.Errorf("a bounce FeedbackFunction's role filed under the key R#r10-… (not the person's S# key; its \"subject\" attribute, "+
			"which the role writes, named them) ended the person's subscription: status %q; `privacyctl suppression show -email` "+
			"listed it during the week: %v (%q)", st, seen, strings.TrimSpace(out))
	}
}

// The same review: the suppression table is now swept, and FeedbackFunction
// (which a stranger reaches) may write what is filed in its retention
// index (retention_pk, retention_at) under any key. dynamo.Sweep.EndSubscription
// returns an error, not a skip, for a due item whose key names no subject
// (neither S#<subject> nor R#… with a "subject"); the sweeper's apply
// passes it up, the shard stops on it, the run fails. The run's
// checkpoint keeps every other table's shards done (the suppression table
// sorts last) and is saved again each hour with a fresh week, so every
// later run resumes, retries the same item, fails again, and never sweeps
// the other tables again: retention (§7: deletes and strips on time)
// stops for the whole system until someone finds the item by hand. Run as
// the function's role, one UpdateItem within its grant does it.
//
// Fails on the code under review (the second run does not delete an
// unconfirmed signup past its 30 days); passes once an item the class
// cannot act on is counted and set aside (refiled or unfiled, as an
// unreadable clock is), not an error that stops the shard.
func TestReview10FeedbackRoleStallsTheRetentionSweep(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	pending := "r10-pending-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+pending+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	s.idle(t)
	if st := str(s.subscription(t, pending), "status"); st != privacy.StatusPending {
		t.Fatalf("the signup is %q", st)
	}

	cfg, ok := s.AWSAs("FeedbackFunction")
	if !ok {
		t.Fatal("no FeedbackFunction")
	}
	db := dynamodb.NewFromConfig(cfg)
	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	// Store.Suppress's attributes, under a key that names no subject.
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables["SuppressionTable"]),
		Key:              map[string]types.AttributeValue{"pk": sv("R#r10-" + u), "sk": sv(privacy.SuppressBounced)},
		UpdateExpression: aws.String("SET since = :since, retention_pk = :p, retention_at = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":since": sv(time.Now().UTC().AddDate(0, 0, -30).Format("2006-01-02T15:04:05.000000000Z")),
			":p":     sv(privacy.RetentionShardName(0)), ":at": &types.AttributeValueMemberN{Value: "1"}}})
	if err != nil {
		t.Fatalf("FeedbackFunction's role refused its own suppression's attributes: %v", err)
	}

	sweep := func() string {
		t.Helper()
		resp, out := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", "{}", nil)
		return fmt.Sprintf("%d %s", resp.StatusCode, out)
	}
	first := sweep()
	// The unconfirmed signup's 30 days pass.
	ago := time.Now().AddDate(0, 0, -privacy.Retention().PendingSignup.Days).Add(-time.Hour)
	s.setClocks(t, "SubjectsTable", s.subscription(t, pending), map[string]time.Time{"confirm_requested_at": ago,
		"retention_at": privacy.Retention().PendingSignup.From(ago)})
	second := sweep()
	if sub := s.subscription(t, pending); sub != nil {
		t.Errorf("an unconfirmed signup past its 30 days is kept by the next hourly sweep, after FeedbackFunction's role filed one "+
			"suppression under a key naming no subject: first run %.300s; second run %.300s", first, second)
	}
}
