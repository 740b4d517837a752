package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// sampleEvents says what each sample event of events/ (the files of sam
// local invoke -e) must come to when its function runs with the
// environment sam local gives it from infra/env.json: an HTTP event's
// status, or a check of the response and of the function's log (log
// returns the lines that mention marker, waiting a little for them: a
// function's lines reach the stack's log after its response).
var sampleEvents = map[string]func(resp map[string]any, log func(marker string) string) string{
	"callbacks-retry.json":        nothing,
	"campaign-plan.json":          nothing,
	"campaignsender-batch.json":   noItemFailures,
	"consoleauth-authorize.json":  field("isAuthorized", false),
	"deadlines-schedule.json":     nothing,
	"feedback-sns-bounce.json":    refusedBySignature("00000000-0000-4000-8000-00000000b001"),
	"feedback-sns-complaint.json": refusedBySignature("00000000-0000-4000-8000-00000000c001"),
	"forms-contact.json":          status(202),
	"forms-health.json":           status(200),
	"ledgerroots-roots.json":      status(200),
	"ledgersigner-schedule.json":  nothing,
	"mailer-inquiry-insert.json":  noItemFailures,
	"mailer-ttl-remove.json":      noItemFailures,
	"notices-schedule.json":       nothing,
	"opendsr-discovery.json":      status(200), // signed: the key of env.json
	"opendsrworker-schedule.json": nothing,
	"operator-list.json":          status(200),
	"preferences-jwks.json":       status(200),
	"recipients-schedule.json":    nothing,
	"rights-request.json":         status(202),
	"sweep-schedule.json":         nothing,
	// Signed with the development key for ann@example.com at env.json's
	// domain, valid until 2099: an unsubscription, whether or not ann is
	// subscribed (as the one-click link's).
	"unsubscribemail-ses-inbound.json": field("unsubscribed", float64(1)),
}

func nothing(map[string]any, func(string) string) string { return "" }

func status(want int) func(map[string]any, func(string) string) string {
	return func(resp map[string]any, _ func(string) string) string {
		if got, _ := resp["statusCode"].(float64); int(got) != want {
			return "status " + js(resp["statusCode"]) + ", want " + js(want) + ": " + js(resp["body"])
		}
		return ""
	}
}

func field(name string, want any) func(map[string]any, func(string) string) string {
	return func(resp map[string]any, _ func(string) string) string {
		if resp[name] != want {
			return name + " is " + js(resp[name]) + ", want " + js(want)
		}
		return ""
	}
}

func noItemFailures(resp map[string]any, _ func(string) string) string {
	if f, _ := resp["batchItemFailures"].([]any); len(f) > 0 {
		return "batch item failures " + js(f)
	}
	return ""
}

// refusedBySignature: the sample's topic (message id id) is the feedback
// function's under sam local, so its made-up signature is what refuses
// it, not the topic.
func refusedBySignature(id string) func(map[string]any, func(string) string) string {
	return func(_ map[string]any, log func(string) string) string {
		lines := log(id)
		switch {
		case strings.Contains(lines, "not from a configured feedback topic"):
			return "refused at the topic check"
		case !regexp.MustCompile(`"SNS message rejected".*untrusted SNS message`).MatchString(lines):
			return "not refused by the signature check: " + lines
		}
		return ""
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// sam local as the README tells it: every function runs with the
// environment sam local gives it from infra/env.json (what the template
// cannot tell it locally, the tables, the queue, the keys) and no more,
// here under the runtime emulator with this test's services in place of
// the containers, and each sample event of events/ (one at least per
// function, events/<the function's folder>-<name>.json) reaches its
// handler and comes to what sampleEvents says: the feedback samples to the
// signature check, not the topic check.
func TestSampleEventsUnderSamLocal(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	root := localtest.Root()
	tpl, env := localtest.SamLocal(t)
	// The containers of docs/local.md are this test's services.
	hosts := strings.NewReplacer("http://dynamodb-local:8000", svc.DynamoDB, "http://ses-local:8005", svc.SES,
		"http://sqs-local:8006", svc.SQS)
	for _, e := range env {
		for k, v := range e {
			e[k] = hosts.Replace(v)
		}
	}
	// Each sample event to its function, by the function's folder.
	byFolder := map[string]string{}
	for id := range env {
		byFolder[filepath.Base(filepath.Clean(asText(tpl.Resources[id].Properties["CodeUri"])))] = id
	}
	files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	sort.Strings(files) // the campaign is planned before its batch is sent
	events := map[string][]string{}
	for _, f := range files {
		name := filepath.Base(f)
		folder, _, _ := strings.Cut(name, "-")
		id, ok := byFolder[folder]
		if !ok {
			t.Errorf("%s: no function in folder functions/%s", name, folder)
			continue
		}
		if sampleEvents[name] == nil {
			t.Errorf("%s: sampleEvents says nothing of it", name)
			continue
		}
		events[id] = append(events[id], f)
	}
	for id := range env {
		if len(events[id]) == 0 {
			t.Errorf("%s has no sample event in events/ (events/<folder>-<name>.json)", id)
		}
	}
	// One stack per set of functions that agree on every variable (the
	// processor role's functions are not told the site's tables).
	for _, g := range local.SamLocalGroups(env) {
		s := startStackConfig(t, svc, 1, g.Env, nil, func(c *local.Config) { c.TablePrefix = "dev-" })
		if want := env["CampaignFunction"]["CAMPAIGN_QUEUE_URL"]; s.Queues["CampaignQueue"] != want {
			t.Errorf("env.json's CAMPAIGN_QUEUE_URL %s; the SQS server made the queue at %s", want, s.Queues["CampaignQueue"])
		}
		for _, id := range g.IDs {
			for _, f := range events[id] {
				name := filepath.Base(f)
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				before := len(s.logs.String())
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				out, err := s.Functions[id].Invoke(ctx, b)
				cancel()
				log := func(marker string) string {
					var lines []string
					for deadline := time.Now().Add(5 * time.Second); len(lines) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
						for _, l := range strings.Split(s.logs.String()[before:], "\n") {
							if strings.Contains(l, marker) {
								lines = append(lines, l)
							}
						}
					}
					return strings.Join(lines, "\n")
				}
				if err != nil {
					t.Errorf("%s with %s: %v", id, name, err)
					continue
				}
				var resp map[string]any
				_ = json.Unmarshal(out, &resp)
				if problem := sampleEvents[name](resp, log); problem != "" {
					t.Errorf("%s with %s: %s", id, name, problem)
				}
			}
		}
		if strings.Contains(s.logs.String(), "cold start failed") {
			t.Errorf("a function did not start with env.json's variables:\n%s", s.logs.String())
		}
	}
}

func asText(v any) string { s, _ := v.(string); return s }
