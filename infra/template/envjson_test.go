package template_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
	"github.com/privacykeeper/privacykeeper/shared/session"
)

// Under sam local every function gets from infra/env.json what it needs:
// every variable whose template value names a resource of the stack
// (which sam local cannot resolve to the developer's table or queue) names
// the local one, as `go run ./infra/gateway -create-tables -sqs ...` makes
// them (docs/local.md); a secret's ARN has its development value beside
// it; what the template empties for a function (the processor role is not
// told the site's tables) stays empty; development is on, with the
// containers' endpoints.
func TestEnvJSONGivesEveryFunctionWhatItNeeds(t *testing.T) {
	tpl, env := localtest.SamLocal(t)
	// What a secret's ARN is read from in development instead
	// (lambdaenv: LoadSecrets, OpenDSRSigningKey, ReceiptKey), and a check
	// of that value.
	devSecret := map[string]struct {
		name  string
		check func(string) error
	}{
		"SECRET_ARN": {"LOCAL_SECRET", func(v string) error {
			if len(v) < 32 {
				return fmt.Errorf("shorter than 32 characters")
			}
			return nil
		}},
		"OPENDSR_SIGNING_KEY_SECRET_ARN": {"OPENDSR_SIGNING_KEY", func(v string) error {
			_, err := opendsr.NewSigner([]byte(v), "opendsr.example.com")
			return err
		}},
		"RECEIPT_KEY_SECRET_ARN": {"RECEIPT_KEY", func(v string) error {
			_, err := receipt.NewSigner(v)
			return err
		}},
		"CONSOLE_SESSION_KEY_SECRET_ARN": {"CONSOLE_SESSION_KEY", func(v string) error {
			_, err := session.NewBinding([]byte(v))
			return err
		}},
	}
	// Resource values development does without, and why.
	without := map[string]string{
		"SES_CONFIGURATION_SET": "the SES emulator takes mail without a configuration set",
		"CONSOLE_LOGOUT_URL":    "the local identity provider's end_session_endpoint signs out instead",
		"CONSOLE_REVOKE_URL":    "the local identity provider's discovery names its revocation_endpoint",
		"CONSOLE_USERINFO_URL":  "the local identity provider's discovery names its userinfo_endpoint",
	}
	glob := path(tpl.Globals, "Function", "Environment", "Variables")
	for _, id := range functions(tpl) {
		own, _ := path(tpl.Resources[id].Properties, "Environment", "Variables").(map[string]any)
		declared := map[string]any{}
		for _, vars := range []any{glob, own} {
			m, _ := vars.(map[string]any)
			for k, v := range m {
				declared[k] = v
			}
		}
		got := env[id]
		for _, k := range []string{"DEVELOPMENT", "DYNAMODB_ENDPOINT", "SES_ENDPOINT", "SQS_ENDPOINT"} {
			want := map[string]string{"DEVELOPMENT": "true", "DYNAMODB_ENDPOINT": "http://dynamodb-local:8000",
				"SES_ENDPOINT": "http://ses-local:8005", "SQS_ENDPOINT": "http://sqs-local:8006"}[k]
			if got[k] != want {
				t.Errorf("%s: %s is %q, want %q", id, k, got[k], want)
			}
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range declared {
				if !yield(k) {
					return
				}
			}
		}) {
			v, val := declared[k], got[k]
			if s, ok := v.(string); ok {
				// A resource the Globals name, emptied for this function.
				if s == "" && own[k] != nil && local.NamesResource(tpl, path(glob, k)) && val != "" {
					t.Errorf("%s: %s is %q under sam local; the template empties it for this function", id, k, val)
				}
				continue
			}
			if !local.NamesResource(tpl, v) {
				continue
			}
			res := refTo(v)
			switch typ := tpl.Resources[res].Type; {
			case typ == "AWS::DynamoDB::Table":
				if val != "dev-"+res {
					t.Errorf("%s: %s is %q under sam local, want the local table dev-%s", id, k, val, res)
				}
			case typ == "AWS::SQS::Queue":
				if want := "http://sqs-local:8006/000000000000/dev-" + res; val != want {
					t.Errorf("%s: %s is %q under sam local, want the local queue %s", id, k, val, want)
				}
			case typ == "AWS::SecretsManager::Secret":
				dev, ok := devSecret[k]
				if !ok {
					t.Errorf("%s: %s names secret %s: what does development read instead?", id, k, res)
					continue
				}
				if err := dev.check(got[dev.name]); err != nil {
					t.Errorf("%s: %s (development's %s): %v", id, dev.name, k, err)
				}
			case k == "FEEDBACK_TOPIC_ARNS":
				// Checked with the sample events, whose topic it must name.
				if !strings.Contains(val, "arn:aws:sns:us-east-1:000000000000:FeedbackTopic") {
					t.Errorf("%s: %s is %q, without the local FeedbackTopic", id, k, val)
				}
			case k == "CONSOLE_ISSUER" || k == "CONSOLE_CLIENT_ID":
				// make dev's identity provider (infra/dev.sh).
				want := map[string]string{"CONSOLE_ISSUER": "http://localhost:8007", "CONSOLE_CLIENT_ID": "privacykeeper-console"}[k]
				if val != want {
					t.Errorf("%s: %s is %q, want make dev's identity provider's %q", id, k, val, want)
				}
			case without[k] != "":
			default:
				t.Errorf("%s: %s names %s (%s), which env.json does not give: add it, or say why development does without",
					id, k, js(v), typ)
			}
		}
	}
}

// Every sample event's SNS topic is one the feedback function is told of
// under sam local: they reach the signature check, not the topic check.
func TestSampleEventsNameTheLocalTopic(t *testing.T) {
	_, env := localtest.SamLocal(t)
	files, _ := filepath.Glob(filepath.Join(localtest.Root(), "events", "feedback-*.json"))
	if len(files) == 0 {
		t.Fatal("no feedback sample event")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Records []struct{ Sns struct{ TopicArn string } }
		}
		if err := json.Unmarshal(b, &ev); err != nil || len(ev.Records) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
		for _, rec := range ev.Records {
			if !slices.Contains(strings.Split(env["FeedbackFunction"]["FEEDBACK_TOPIC_ARNS"], ","), rec.Sns.TopicArn) {
				t.Errorf("%s: topic %s is not among FeedbackFunction's FEEDBACK_TOPIC_ARNS %q under sam local", filepath.Base(f),
					rec.Sns.TopicArn, env["FeedbackFunction"]["FEEDBACK_TOPIC_ARNS"])
			}
		}
	}
}
