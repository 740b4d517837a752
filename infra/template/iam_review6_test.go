package template_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/awsreq"
	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The sixth role-versus-code review (before #34 is resolved): the changes
// since 441c775 (UnsubscribeMailFunction and its SES receiving, the
// answer route, the desk's ask and the strip of question and answer, the
// campaign translations, the legal bases, the erasure plan). The requests
// each changed code path makes, recorded as the SDK sends them and
// translated as the local stack translates them (infra/awsreq), are asked
// of the transformed template's roles; and the grants found wanting.

// review6Tables are the tables as awsreq needs them for the recorded
// requests: keyed by the logical ids recordingStore names, with the
// requests table's by-subject index (SubjectRequests queries it).
func review6Tables() awsreq.Tables {
	tables := awsreq.Tables{}
	for _, id := range []string{"SubjectsTable", "LedgerTable", "SuppressionTable", "RequestsTable", "OpsTable", "RecordsTable"} {
		tables[id] = awsreq.Table{ARN: table(id), PartitionKey: "pk", SortKey: "sk", Indexes: map[string][2]string{}}
	}
	tables["RequestsTable"].Indexes["by-subject"] = [2]string{"subject", "received_at"}
	return tables
}

// requestsOf runs calls against a store that records what it sends (and
// answers every request with nothing found) and returns each request as
// IAM evaluates it.
func requestsOf(t *testing.T, calls func(ctx context.Context, st *dynamo.Store) error) []iamsim.Request {
	t.Helper()
	rec := &sent{}
	if err := calls(context.Background(), recordingStore(t, rec)); err != nil {
		t.Fatal(err)
	}
	if len(rec.reqs) == 0 {
		t.Fatal("the calls sent no request")
	}
	var out []iamsim.Request
	for _, r := range rec.reqs {
		checks, err := awsreq.DynamoDB(r.op, r.body, review6Tables(), nil)
		if err != nil {
			t.Fatalf("%s: %v", r.op, err)
		}
		out = append(out, checks...)
	}
	return out
}

// Finding (a), high: a mailto: unsubscription Lambda gave up on cannot be
// replayed. SES invokes UnsubscribeMailFunction asynchronously; after
// Lambda's two retries the event goes to FailureQueue (its
// EventInvokeConfig), and docs/deploy.md sends the team to `privacyctl
// replay`, which invokes the function named in the failure record
// (infra/replay: "an asynchronous invocation of …") with the maintenance
// role. PrivacyReplayPolicy, Sid ReplayInvokes, lists the functions replay
// may invoke (Sweep, DeadlineWatch, OpenDSRWorker, Campaign, Recipients,
// Notices) and not UnsubscribeMailFunction: AWS refuses the InvokeFunction
// (AccessDeniedException), and the person's opt-out stays undone in the
// queue. e2e TestIAMReview6FailedMailtoUnsubscriptionIsReplayed shows it
// through the local stack.
func TestIAMReview6ReplayMayInvokeUnsubscribeMail(t *testing.T) {
	check(t, []ask{
		{"PrivacyReplayPolicy", "lambda:InvokeFunction", function("DeadlineWatchFunction"), nil, true},
		{"PrivacyReplayPolicy", "lambda:InvokeFunction", function("UnsubscribeMailFunction"), nil, true},
	})
}

// What the changed code paths send, as AWS evaluates it, against the role
// of each function that runs them. Every request must be allowed: a
// refusal here is a call that fails in AWS. (These passed on the template
// under review: the review found no refused DynamoDB call in scope. They
// hold the grants to the code: narrowing one below what its code sends
// fails here.)
func TestIAMReview6ChangedPathsAsAWSSeesThem(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	subject := privacy.SubjectID(strings.Repeat("ab", 32))
	ev := func(name privacy.EventName) privacy.Event {
		return privacy.Event{Subject: subject, Name: name, At: now, Ref: "r1", Purpose: privacy.PurposeMarketing,
			LegalBasis: privacy.BasisLegitimateInterest, PolicyVersion: "v2", Detail: map[string]string{"channel": "mailto"}}
	}
	for _, c := range []struct {
		name  string
		who   []string
		calls func(ctx context.Context, st *dynamo.Store) error
	}{
		// shared/inbound: the forward, the unsubscription (suppression,
		// ledger, subscription), the policy in force.
		{"mailto unsubscribe", []string{"UnsubscribeMailFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			if _, _, err := st.Forward(ctx, subject); err != nil {
				return err
			}
			if _, err := st.PolicyVersions(ctx); err != nil {
				return err
			}
			return st.Unsubscribe(ctx, subject, ev("unsubscribed"))
		}},
		// Every holder of the strip (the mailer after the last email,
		// the erasures of the rights and operator functions, the
		// maintenance's re-applied erasure): question and answer now go
		// with the address.
		{"strip a request's address, question and answer",
			[]string{"MailerFunction", "RightsFunction", "OperatorFunction", "PrivacyMaintenancePolicy"},
			func(ctx context.Context, st *dynamo.Store) error { return st.StripRequestAddress(ctx, "r1") }},
		// The erasure plan reads items, ledger and requests before it
		// deletes (under a legal hold too), then suppresses.
		{"erase", []string{"RightsFunction", "OperatorFunction", "PrivacyMaintenancePolicy"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, _, err := st.EraseBefore(ctx, subject, time.Time{}, "r1", ev("erased"))
				return err
			}},
		// A lifted erasure re-applied: the run is recorded, nothing
		// suppressed anew.
		{"re-apply a lifted erasure", []string{"PrivacyMaintenancePolicy"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, _, err := st.EraseBefore(ctx, subject, now.Add(-time.Hour), "erasure-reapplied", ev("erasure_reapplied"))
				return err
			}},
		{"the desk asks", []string{"OperatorFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.Transition(ctx, "r1", privacy.Transition{Step: privacy.StepAsk, From: []privacy.Status{privacy.RequestPending},
				Status: privacy.RequestWaitingForInformation, MailDue: privacy.Due(privacy.MailQuestion, "n1"),
				Ask: privacy.Question{Text: "Which account?", From: privacy.RequestPending, Nonce: "n1"}}, ev("information_requested"))
		}},
		{"the requester answers", []string{"RightsFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.Transition(ctx, "r1", privacy.Transition{Step: privacy.StepAnswer,
				Status: privacy.RequestPending, MailDue: privacy.Due(privacy.MailAnswered, "n1"),
				Answer: privacy.Answer{Text: "The one I signed up with.", Nonce: "n1"}}, ev("information_provided"))
		}},
		{"a policy version with its bases", []string{"OperatorFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.PublishPolicy(ctx, privacy.PolicyVersion{Version: "v3", Effective: now, Summary: "s", Material: true,
				Bases: privacy.Bases{privacy.PurposeMarketing: privacy.BasisConsent}, PublishedAt: now, PublishedBy: "dpo"})
		}},
		{"a confirmation records its basis", []string{"FormsFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.ConfirmSubscription(ctx, subject, "s1", ev("subscription_confirmed"))
			return err
		}},
		{"a campaign with translations", []string{"CampaignFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.StartCampaign(ctx, privacy.CampaignPlan{ID: "c1", Topic: "newsletter", Subject: "S", Body: "B",
				Translations: map[string]privacy.CampaignText{"de": {Subject: "Betreff", Body: "Text"}}, Created: now, Updated: now})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs := requestsOf(t, c.calls)
			sets := policies(t)
			eval := iamsim.Shared(filepath.Join(localtest.Root(), ".tools", "node", "node_modules"))
			for _, who := range c.who {
				for _, r := range reqs {
					d, err := eval.Decide(context.Background(), sets[who], "arn:aws:sts::"+account+":assumed-role/x/"+who, r)
					if err != nil {
						t.Fatal(err)
					}
					if !d.Allowed() {
						t.Errorf("%s %s on %s %v: %s (%s)", who, r.Action, r.Resource, r.Context, d.Result,
							strings.Join(d.Explanation, "; "))
					}
				}
			}
		})
	}
}

// Finding (b), medium: UnsubscribeMailFunction, Sid Subscriptions,
// [GetItem, UpdateItem] on SubjectsTable with only
// ForAllValues:StringEquals dynamodb:Attributes. A GetItem without a
// projection carries no dynamodb:Attributes, and ForAllValues of a missing
// key is true: the function may read any item of the subjects table whole
// (subscriptions with their address and name, inquiries with their
// message, holds). Its code reads only "to" and "moved_at" of MOVED items
// (dynamo.Store.Forward, projected). A Null condition
// ({"Null": {"dynamodb:Attributes": "false"}}) on the GetItem would hold it
// to a projection; the template's comment ("nothing else") claims what
// the grant does not enforce.
func TestIAMReview6UnsubscribeMailReadsOnlyTheForward(t *testing.T) {
	check(t, []ask{
		{"UnsubscribeMailFunction", "dynamodb:GetItem", table("SubjectsTable"),
			keys([]string{"S#a"}, "moved_at", "pk", "sk", "to"), true},
		{"UnsubscribeMailFunction", "dynamodb:GetItem", table("SubjectsTable"),
			map[string]any{"dynamodb:LeadingKeys": []string{"S#a"}, "dynamodb:ReturnConsumedCapacity": "NONE"}, false},
	})
}
