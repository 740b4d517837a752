package template_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// These tests ask the IAM evaluator of the local stack (infra/iamsim) what
// the template's roles and managed policies, after the SAM transform,
// allow: the requests each function makes, and the ones it must not. The
// ARNs are those local.IdentityPolicies resolves to (resources named by
// their logical ids).

var identities struct {
	once sync.Once
	sets map[string]*iamsim.Set
	err  error
}

func policies(t *testing.T) map[string]*iamsim.Set {
	t.Helper()
	modules := filepath.Join(localtest.Root(), ".tools", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@cloud-copilot", "iam-simulate")); err != nil {
		if os.Getenv("PK_REQUIRE_SERVICES") != "" {
			t.Fatal("@cloud-copilot/iam-simulate is not installed (make tools)")
		}
		t.Skip("needs @cloud-copilot/iam-simulate: run make tools")
	}
	identities.once.Do(func() {
		identities.sets, identities.err = local.IdentityPolicies(context.Background(), localtest.Root(),
			filepath.Join(localtest.Root(), "template.yaml"))
	})
	if identities.err != nil {
		t.Fatal(identities.err)
	}
	return identities.sets
}

const (
	account = "000000000000"
	region  = "us-east-1"
)

func table(id string) string { return "arn:aws:dynamodb:" + region + ":" + account + ":table/" + id }
func queue(id string) string { return "arn:aws:sqs:" + region + ":" + account + ":" + id }
func function(id string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:" + id
}

// ask is one request: who makes it (a function, or a managed policy's
// holder), the action, the resource and the condition keys.
type ask struct {
	who, action, resource string
	context               map[string]any
	allowed               bool
}

func keys(lk []string, attrs ...string) map[string]any {
	ctx := map[string]any{"dynamodb:LeadingKeys": lk}
	if attrs != nil {
		ctx["dynamodb:Attributes"] = attrs
	}
	return ctx
}

func check(t *testing.T, asks []ask) {
	t.Helper()
	sets := policies(t)
	eval := iamsim.Shared(filepath.Join(localtest.Root(), ".tools", "node", "node_modules"))
	for _, a := range asks {
		set := sets[a.who]
		if set == nil {
			t.Fatalf("%s: no policies", a.who)
		}
		d, err := eval.Decide(context.Background(), set, "arn:aws:sts::"+account+":assumed-role/x/"+a.who,
			iamsim.Request{Action: a.action, Resource: a.resource, Context: a.context})
		if err != nil {
			t.Fatalf("%s %s on %s: %v", a.who, a.action, a.resource, err)
		}
		if d.Allowed() != a.allowed {
			t.Errorf("%s %s on %s %v: %s, want allowed %v (%s)", a.who, a.action, a.resource, a.context, d.Result, a.allowed,
				strings.Join(d.Explanation, "; "))
		}
	}
}

// A link-confirmed erasure reads the processors to tell (GDPR Art. 19):
// the rights function may query the ops table's "PROC#", for who they
// are and what they take only (dynamo.Store.ProcessorsToTell), never their
// sealed credentials; the forms function, which tells no one, may not read
// them at all; the recipients function, which delivers, reads them whole.
func TestErasureReadsTheProcessorsToTell(t *testing.T) {
	told := []string{"identity_format", "name", "pk", "processor_id", "sk", "types"}
	projected := func(attrs []string) map[string]any {
		ctx := keys([]string{"PROC#"}, attrs...)
		ctx["dynamodb:Select"] = "SPECIFIC_ATTRIBUTES"
		return ctx
	}
	whole := map[string]any{"dynamodb:LeadingKeys": []string{"PROC#"}, "dynamodb:Select": "ALL_ATTRIBUTES"}
	check(t, []ask{
		{"RightsFunction", "dynamodb:Query", table("OpsTable"), projected(told), true},
		{"RightsFunction", "dynamodb:Query", table("OpsTable"), projected(append(told, "credentials_sealed")), false},
		{"RightsFunction", "dynamodb:Query", table("OpsTable"), whole, false},
		{"FormsFunction", "dynamodb:Query", table("OpsTable"), projected(told), false},
		{"FormsFunction", "dynamodb:Query", table("OpsTable"), whole, false},
		{"RecipientsFunction", "dynamodb:Query", table("OpsTable"), whole, true},
	})
}

// The campaign sender polls its own queue, and no other: its role is its
// own, without the managed AWSLambdaSQSQueueExecutionRole SAM would attach
// to an SQS function (every queue of the account).
func TestCampaignSenderPollsOnlyItsQueue(t *testing.T) {
	role := transformed(t)[refTo(path(transformed(t)["CampaignSenderFunction"], "Properties", "Role"))]
	if m := path(role, "Properties", "ManagedPolicyArns"); m != nil {
		t.Errorf("the campaign sender's role has the managed policies %v", m)
	}
	var asks []ask
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} {
		asks = append(asks, ask{"CampaignSenderFunction", a, queue("CampaignQueue"), nil, true})
		for _, other := range []string{"FailureQueue", "CampaignDeadLetterQueue", "FeedbackDeadLetterQueue"} {
			asks = append(asks, ask{"CampaignSenderFunction", a, queue(other), nil, false})
		}
	}
	check(t, asks)
}

// The sweep writes to the ops table only what it deletes (the campaigns'
// records, the callbacks' cursors: keys only, never a put) and files
// (their retention index attributes), and its checkpoint: not the
// controllers' credentials, the processors, the published policy
// versions or the receipt keys. Its batches on the personal data tables
// are deletes.
func TestSweepWritesOnlyWhatItDeletesAndFiles(t *testing.T) {
	filing := []string{"pk", "retention_at", "retention_pk", "sk"}
	asks := []ask{
		{"SweepFunction", "dynamodb:BatchWriteItem", table("OpsTable"), keys([]string{"CAMPAIGN#c1", "CB#k"}, "pk", "sk"), true},
		{"SweepFunction", "dynamodb:BatchWriteItem", table("OpsTable"), keys([]string{"CB#k"}, "pk", "sk", "callback_url"), false},
		{"SweepFunction", "dynamodb:UpdateItem", table("OpsTable"), keys([]string{"CB#k"}, filing...), true},
		{"SweepFunction", "dynamodb:UpdateItem", table("OpsTable"), keys([]string{"CB#k"}, "pk", "sk", "queue"), false},
		{"SweepFunction", "dynamodb:BatchGetItem", table("OpsTable"), keys([]string{"CAMPAIGN#c1"}), true},
		{"SweepFunction", "dynamodb:PutItem", table("OpsTable"), keys([]string{"SWEEP#CHECKPOINT"}, "pk", "sk", "state", "expires_at"), true},
		{"SweepFunction", "dynamodb:GetItem", table("OpsTable"), keys([]string{"SWEEP#CHECKPOINT"}), true},
		{"SweepFunction", "dynamodb:DeleteItem", table("OpsTable"), keys([]string{"SWEEP#CHECKPOINT"}, "pk", "sk"), true},
		{"SweepFunction", "dynamodb:PutItem", table("OpsTable"), keys([]string{"CAMPAIGN#c1"}, "pk", "sk"), false},
		{"SweepFunction", "dynamodb:BatchWriteItem", table("SubjectsTable"), keys([]string{"S#a"}, "pk", "sk"), true},
		{"SweepFunction", "dynamodb:BatchWriteItem", table("SubjectsTable"), keys([]string{"S#a"}, "pk", "sk", "email"), false},
	}
	for _, pk := range []string{"CTRL#c", "PROC#", "POLICY", "RCPTKEY", "MAIL#m", "RL#r"} {
		for _, a := range []string{"dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem"} {
			asks = append(asks, ask{"SweepFunction", a, table("OpsTable"), keys([]string{pk}, "pk", "sk"), false})
		}
		asks = append(asks, ask{"SweepFunction", "dynamodb:UpdateItem", table("OpsTable"), keys([]string{pk}, filing...), false})
	}
	check(t, asks)
}

// The engineer on call cannot make the mailer send, or the callbacks
// post, whatever events they write: neither maintenance policy may invoke
// either; a stream batch is replayed (PrivacyReplayPolicy) by marking its
// items replayed (that attribute alone), a change their streams deliver
// again. (PrivacyMaintenancePolicy may still write a request's address
// and mail_due: the strip of earlier requests after a restore needs those
// attributes, and IAM cannot tell a REMOVE from a SET.)
func TestMaintenanceCannotInvokeTheStreamFunctions(t *testing.T) {
	asks := []ask{
		{"PrivacyReplayPolicy", "lambda:InvokeFunction", function("MailerFunction"), nil, false},
		{"PrivacyReplayPolicy", "lambda:InvokeFunction", function("CallbackFunction"), nil, false},
		{"PrivacyMaintenancePolicy", "lambda:InvokeFunction", function("MailerFunction"), nil, false},
		{"PrivacyMaintenancePolicy", "lambda:InvokeFunction", function("CallbackFunction"), nil, false},
		{"PrivacyReplayPolicy", "lambda:InvokeFunction", function("SweepFunction"), nil, true},
		{"PrivacyReplayPolicy", "dynamodb:UpdateItem", table("SubjectsTable"), keys([]string{"S#a"}, "pk", "replayed_at", "sk"), true},
		{"PrivacyReplayPolicy", "dynamodb:UpdateItem", table("RequestsTable"), keys([]string{"R#r"}, "pk", "replayed_at", "sk"), true},
		{"PrivacyReplayPolicy", "dynamodb:UpdateItem", table("SubjectsTable"), keys([]string{"S#a"}, "mail_due", "pk", "sk"), false},
		{"PrivacyReplayPolicy", "dynamodb:UpdateItem", table("RequestsTable"), keys([]string{"R#r"}, "email", "pk", "replayed_at", "sk"), false},
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("SubjectsTable"), keys([]string{"S#a"}, "mail_due", "pk", "sk"), false},
		{"PrivacyMaintenancePolicy", "dynamodb:Query", table("OpsTable"), keys([]string{"POLICY"}), true},
		// Nor write an item the mailer would act on: its batches on the
		// subjects table are deletes, its updates of a request the strip's.
		{"PrivacyMaintenancePolicy", "dynamodb:BatchWriteItem", table("SubjectsTable"), keys([]string{"S#a"}, "pk", "sk"), true},
		{"PrivacyMaintenancePolicy", "dynamodb:BatchWriteItem", table("SubjectsTable"), keys([]string{"S#a"}, "email", "mail_due", "pk", "sk"), false},
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("RequestsTable"), keys([]string{"R#r"}, "pk", "sk", "status"), false},
	}
	check(t, asks)
}

// The notices function records how a published version's notices stand,
// and nothing else of it: not its text, its dates or who published it; it
// neither puts nor deletes a version.
func TestNoticesCannotChangePublishedVersions(t *testing.T) {
	progress := []string{"notice_cursor", "notice_inquirers", "notice_phase", "notice_requesters", "notice_state", "notice_subscribers",
		"notice_updated", "pk", "sk"}
	asks := []ask{
		{"NoticesFunction", "dynamodb:UpdateItem", table("OpsTable"), keys([]string{"POLICY"}, progress...), true},
		{"NoticesFunction", "dynamodb:Query", table("OpsTable"), keys([]string{"POLICY"}), true},
		{"NoticesFunction", "dynamodb:PutItem", table("OpsTable"), keys([]string{"POLICY"}, progress...), false},
		{"NoticesFunction", "dynamodb:DeleteItem", table("OpsTable"), keys([]string{"POLICY"}, "pk", "sk"), false},
	}
	for _, field := range []string{"summary", "effective", "version", "material", "new_purposes", "published_at", "published_by"} {
		asks = append(asks, ask{"NoticesFunction", "dynamodb:UpdateItem", table("OpsTable"),
			keys([]string{"POLICY"}, append([]string{field}, progress...)...), false})
	}
	check(t, asks)
}

// The notices function finds the people whose inquiries are kept with a
// scan that may return only what a notice needs: never an inquiry's
// message, name or metadata, never the whole item (no projection, or no
// Select naming the projection).
func TestNoticesScanOnlyWhatANoticeNeeds(t *testing.T) {
	scan := func(sel string, attrs ...string) map[string]any {
		ctx := map[string]any{}
		if sel != "" {
			ctx["dynamodb:Select"] = sel
		}
		if attrs != nil {
			ctx["dynamodb:Attributes"] = attrs
		}
		return ctx
	}
	need := []string{"email", "expires_at", "id", "lang", "pk", "sk", "subject"}
	check(t, []ask{
		{"NoticesFunction", "dynamodb:Scan", table("SubjectsTable"), scan("SPECIFIC_ATTRIBUTES", need...), true},
		{"NoticesFunction", "dynamodb:Scan", table("SubjectsTable"), scan("SPECIFIC_ATTRIBUTES", append(need, "message")...), false},
		{"NoticesFunction", "dynamodb:Scan", table("SubjectsTable"), scan("SPECIFIC_ATTRIBUTES", "meta", "pk", "sk"), false},
		{"NoticesFunction", "dynamodb:Scan", table("SubjectsTable"), scan(""), false},
		{"NoticesFunction", "dynamodb:Scan", table("SubjectsTable"), scan("ALL_ATTRIBUTES"), false},
		{"NoticesFunction", "dynamodb:Scan", table("SubjectsTable"), scan("", need...), false},
		{"NoticesFunction", "dynamodb:Scan", table("LedgerTable"), scan("SPECIFIC_ATTRIBUTES", need...), false},
		// The mailer reads a subject's suppression reasons before a notice.
		{"MailerFunction", "dynamodb:Query", table("SuppressionTable"), keys([]string{"S#a"}), true},
		{"MailerFunction", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "pk", "sk", "since"), false},
	})
}

// What the forms function may do to a person's suppressions, as the
// template's comment now says: query them, delete any of them (IAM cannot
// hold a delete to some sort keys: the erasure's record is kept by the
// code alone), and update only lifted_at.
func TestFormsSuppressionGrantsAreWhatTheCommentSays(t *testing.T) {
	check(t, []ask{
		{"FormsFunction", "dynamodb:DeleteItem", table("SuppressionTable"), keys([]string{"S#a"}, "pk", "sk"), true},
		{"FormsFunction", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "lifted_at", "pk", "sk"), true},
		{"FormsFunction", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "pk", "reason", "sk"), false},
		{"FormsFunction", "dynamodb:PutItem", table("SuppressionTable"), keys([]string{"S#a"}, "pk", "sk"), false},
	})
}
