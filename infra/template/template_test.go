package template_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

func read(t *testing.T) *local.Template {
	t.Helper()
	tpl, err := local.ReadTemplate(filepath.Join(localtest.Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// statements returns a function's inline policy statements.
func statements(r local.Resource) []map[string]any {
	var out []map[string]any
	policies, _ := r.Properties["Policies"].([]any)
	for _, p := range policies {
		pm, _ := p.(map[string]any)
		list, _ := pm["Statement"].([]any)
		for _, s := range list {
			if sm, ok := s.(map[string]any); ok {
				out = append(out, sm)
			}
		}
	}
	return out
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// internetFacing lists the functions a stranger can reach: behind an HTTP
// API route without an authorizer.
func internetFacing(tpl *local.Template) []string {
	var out []string
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, e := range events {
			if em, _ := e.(map[string]any); em["Type"] == "HttpApi" && path(em, "Properties", "Auth") == nil {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// The team's actions go through the operator function, which only an IAM
// caller allowed to invoke its route reaches; the team's policy grants that
// and nothing else; the stack's secret is read by the functions that key
// addresses or sign tokens, and by no managed policy or other role.
func TestTeamActionsGoThroughTheOperator(t *testing.T) {
	tpl := read(t)
	if path(tpl.Resources["HttpApi"].Properties, "Auth", "EnableIamAuthorizer") != true {
		t.Errorf("HttpApi: Auth.EnableIamAuthorizer is not true (the operator route needs it)")
	}
	// The operator's route for privacyctl is IAM's; every console page
	// is the console's authorizer's.
	routes := 0
	for name, e := range events(tpl.Resources["OperatorFunction"]) {
		if e["Type"] != "HttpApi" {
			t.Errorf("OperatorFunction %s: a %v event; only its routes may invoke it", name, e["Type"])
			continue
		}
		routes++
		p, _ := path(e, "Properties", "Path").(string)
		want := "AWS_IAM"
		if p == "/console" || strings.HasPrefix(p, "/console/") {
			want = "ConsoleSession"
		}
		if a := path(e, "Properties", "Auth", "Authorizer"); a != want {
			t.Errorf("OperatorFunction %s (%v %v): authorizer %v, want %s", name, path(e, "Properties", "Method"), p, a, want)
		}
	}
	if routes < 8 {
		t.Fatalf("OperatorFunction has %d routes (privacyctl's and the console's)", routes)
	}
	// The console's authorizer checks the session cookie on every call
	// (no cached answer outlives a sign-out), in a function granted
	// nothing but its own session key (not the master secret, which signs
	// links), which also serves the only console routes a browser without
	// a session reaches (signing in and out).
	auth, _ := path(tpl.Resources["HttpApi"].Properties, "Auth", "Authorizers", "ConsoleSession").(map[string]any)
	if refTo(auth["FunctionArn"]) != "ConsoleAuthFunction" || js(path(auth, "Identity", "Headers")) != `["Cookie"]` ||
		js(path(auth, "Identity", "ReauthorizeEvery")) != "0" || auth["EnableSimpleResponses"] != true {
		t.Errorf("ConsoleSession: %s", js(auth))
	}
	door := tpl.Resources["ConsoleAuthFunction"]
	for _, st := range statements(door) {
		if st["Effect"] == "Allow" && (js(st["Action"]) != `"secretsmanager:GetSecretValue"` || refTo(st["Resource"]) != "ConsoleSessionKey") {
			t.Errorf("ConsoleAuthFunction is granted %s", js(st))
		}
	}
	if door.Properties["Role"] != nil {
		t.Error("ConsoleAuthFunction has a role of its own")
	}
	var open []string
	for _, e := range events(door) {
		open = append(open, js(path(e, "Properties", "Method"))+" "+js(path(e, "Properties", "Path")))
		if path(e, "Properties", "Auth") != nil {
			t.Errorf("ConsoleAuthFunction route %v has an authorizer: signing in needs none", e)
		}
	}
	slices.Sort(open)
	if js(open) != js([]string{`"GET" "/console/callback"`, `"GET" "/console/login"`, `"GET" "/console/signed-out"`, `"POST" "/console/logout"`}) {
		t.Errorf("ConsoleAuthFunction serves %v, want signing in and out", open)
	}
	// Every console route is behind the authorizer but those.
	for _, id := range functions(tpl) {
		for name, e := range events(tpl.Resources[id]) {
			p, _ := path(e, "Properties", "Path").(string)
			if e["Type"] == "HttpApi" && strings.HasPrefix(p, "/console") && id != "ConsoleAuthFunction" &&
				path(e, "Properties", "Auth", "Authorizer") != "ConsoleSession" {
				t.Errorf("%s %s (%s) is a console route without the console's authorizer", id, name, p)
			}
		}
	}
	if slices.Contains(internetFacing(tpl), "OperatorFunction") {
		t.Error("OperatorFunction is reachable without an authorizer")
	}
	// Its one Allow (its Denies narrow it: TestReview10TeamPolicyDeniesFederatedUsers).
	team := slices.DeleteFunc(statementsOf(tpl.Resources["PrivacyTeamPolicy"].Properties["PolicyDocument"]),
		func(s map[string]any) bool { return s["Effect"] == "Deny" })
	if len(team) != 1 || js(team[0]["Action"]) != `"execute-api:Invoke"` ||
		!strings.Contains(js(team[0]["Resource"]), "${HttpApi}/*/POST/v1/operator") {
		t.Errorf("PrivacyTeamPolicy grants %s; want execute-api:Invoke on POST /v1/operator only", js(team))
	}
	// Who reads the master secret (AppSecret): each of these keys
	// addresses to subjects or signs or checks the tokens of links.
	readers := []string{"CampaignSenderFunctionRole", "FeedbackFunction", "FormsFunction", "MailerFunctionRole", "OpenDSRFunction",
		"OperatorFunction", "PreferencesFunction", "RecipientsFunction", "RightsFunction", "UnsubscribeMailFunction"}
	var got []string
	for id, r := range tpl.Resources {
		for _, st := range append(statements(r), statementsOf(r.Properties["PolicyDocument"])...) {
			if st["Effect"] == "Allow" && strings.Contains(js(st["Resource"]), `"AppSecret"`) {
				got = append(got, id)
				break
			}
		}
		if policies, _ := r.Properties["Policies"].([]any); r.Type == "AWS::IAM::Role" {
			for _, p := range policies {
				for _, st := range statementsOf(path(p, "PolicyDocument")) {
					if st["Effect"] == "Allow" && strings.Contains(js(st["Resource"]), `"AppSecret"`) && !slices.Contains(got, id) {
						got = append(got, id)
					}
				}
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, readers) {
		t.Errorf("AppSecret is read by %v, want %v", got, readers)
	}
}

// No function a stranger can reach may write a controller credential: each
// carries a Deny of every write action on the ops table under the
// credentials' key prefix (dynamodb:LeadingKeys), whatever its Allow
// statements grant.
func TestInternetFacingFunctionsCannotWriteCredentialsOrProcessors(t *testing.T) {
	tpl := read(t)
	fns := internetFacing(tpl)
	for _, want := range []string{"FeedbackFunction", "FormsFunction", "OpenDSRFunction", "PreferencesFunction", "RightsFunction"} {
		if !slices.Contains(fns, want) {
			t.Fatalf("%s is not found behind a route (found %v)", want, fns)
		}
	}
	writes := []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
		"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}
	for _, fn := range fns {
		denied := false
		for _, st := range statements(tpl.Resources[fn]) {
			if st["Effect"] != "Deny" {
				continue
			}
			res, _ := json.Marshal(st["Resource"])
			cond, _ := st["Condition"].(map[string]any)
			like, _ := cond["ForAnyValue:StringLike"].(map[string]any)
			keys := strs(like["dynamodb:LeadingKeys"])
			actions := strs(st["Action"])
			covers := true
			for _, w := range writes {
				covers = covers && slices.Contains(actions, w)
			}
			if covers && strings.Contains(string(res), "OpsTable") && slices.Contains(keys, dynamo.ControllerPrefix+"*") &&
				slices.Contains(keys, dynamo.ProcessorPrefix+"*") {
				denied = true
			}
		}
		if !denied {
			// Controllers' credentials, and the processors told of erasures
			// (a rogue one would be sent people's addresses).
			t.Errorf("%s: no Deny of writes to OpsTable under dynamodb:LeadingKeys %q* and %q*", fn,
				dynamo.ControllerPrefix, dynamo.ProcessorPrefix)
		}
	}
}

// What holds keys or undelivered data outlives the stack: the secrets, the
// tables, and every queue (the campaign's batches not yet sent, what
// failed every retry).
func TestRetainedResources(t *testing.T) {
	tpl := read(t)
	ids := append([]string{"AppSecret", "OpenDSRSigningKey", "ReceiptSigningKey", "SubjectsTable", "LedgerTable",
		"SuppressionTable", "RequestsTable", "OpsTable", "RecordsTable"},
		tpl.ResourcesOfType("AWS::SQS::Queue")...)
	for _, id := range ids {
		r, ok := tpl.Resources[id]
		if !ok {
			t.Errorf("%s: not in the template", id)
			continue
		}
		if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
			t.Errorf("%s: DeletionPolicy %q, UpdateReplacePolicy %q, want Retain", id, r.DeletionPolicy, r.UpdateReplacePolicy)
		}
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// The two roles are two sets of tables. The processor's functions (a
// controller's requests and records) are granted none of the site's
// personal data, and are not even told its table names; the site's
// functions are granted none of the controllers' records. Only the sweep
// (retention) and the operator's policy span both.
func TestRolesAreSeparateTables(t *testing.T) {
	tpl := read(t)
	site := []string{"SubjectsTable", "LedgerTable", "SuppressionTable"}
	processorRole := map[string]bool{"OpenDSRFunction": true, "OpenDSRWorkerFunction": true, "CallbackFunction": true}
	granted := func(id string) string {
		r := tpl.Resources[id]
		g := js(statements(r))
		if role := refTo(r.Properties["Role"]); role != "" {
			g += js(tpl.Resources[role].Properties["Policies"])
		}
		return g
	}
	for _, id := range functions(tpl) {
		g := granted(id)
		switch {
		case processorRole[id]:
			for _, table := range site {
				if strings.Contains(g, table) {
					t.Errorf("%s (the processor role) is granted %s", id, table)
				}
			}
			vars, _ := path(tpl.Resources[id].Properties, "Environment", "Variables").(map[string]any)
			for _, v := range []string{"SUBJECTS_TABLE", "LEDGER_TABLE", "SUPPRESSION_TABLE"} {
				if val, ok := vars[v]; id != "CallbackFunction" && (!ok || val != "") {
					t.Errorf("%s: %s is %v; want it set to \"\" over the Globals", id, v, val)
				}
			}
		case id != "SweepFunction" && strings.Contains(g, "RecordsTable"):
			t.Errorf("%s (the site) is granted the controllers' records", id)
		}
	}
	if g := granted("OpenDSRWorkerFunction"); !strings.Contains(g, "RecordsTable") {
		t.Errorf("the worker is not granted the records it fulfils on: %s", g)
	}
}

func functions(tpl *local.Template) []string {
	var out []string
	for id, r := range tpl.Resources {
		if r.Type == "AWS::Serverless::Function" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func events(r local.Resource) map[string]map[string]any {
	out := map[string]map[string]any{}
	evs, _ := r.Properties["Events"].(map[string]any)
	for name, e := range evs {
		em, _ := e.(map[string]any)
		props, _ := em["Properties"].(map[string]any)
		out[name] = map[string]any{"Type": em["Type"], "Properties": props}
	}
	return out
}

// refTo returns the logical id a {"Ref": id} or {"Fn::GetAtt": ...} names.
func refTo(v any) string {
	m, _ := v.(map[string]any)
	if r, ok := m["Ref"].(string); ok {
		return r
	}
	switch g := m["Fn::GetAtt"].(type) {
	case string:
		return strings.SplitN(g, ".", 2)[0]
	case []any:
		if len(g) > 0 {
			s, _ := g[0].(string)
			return s
		}
	}
	return ""
}

func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Nothing is dropped after AWS's retries: every stream mapping and every
// asynchronously invoked function (schedules, the campaign) sends what
// failed for good to an SQS queue; Lambda's own async retries are off where
// a rerun is not idempotent; every schedule is named after its stack, so a
// second stage in the account can be created.
func TestNothingLostAfterRetries(t *testing.T) {
	tpl := read(t)
	queue := func(where string, v any) {
		t.Helper()
		if id := refTo(v); tpl.Resources[id].Type != "AWS::SQS::Queue" {
			t.Errorf("%s: on-failure destination %s is not an SQS queue of the stack", where, js(v))
		}
	}
	async := map[string]bool{}
	// The campaign planner saves its place after every page and queues
	// nothing twice, so Lambda's retries resume a run that ran out of time:
	// two, as AWS allows.
	resumable := map[string]bool{"CampaignFunction": true}
	for fn := range resumable {
		cfg := tpl.Resources[fn].Properties["EventInvokeConfig"]
		if n := path(cfg, "MaximumRetryAttempts"); n != 2 {
			t.Errorf("%s: Lambda's asynchronous retries are %v, want 2 (a paused plan resumes)", fn, n)
		}
		queue(fn+" EventInvokeConfig", path(cfg, "DestinationConfig", "OnFailure", "Destination"))
	}
	for _, fn := range functions(tpl) {
		r := tpl.Resources[fn]
		for name, e := range events(r) {
			where := fn + "." + name
			switch e["Type"] {
			case "DynamoDB":
				queue(where, path(e["Properties"], "DestinationConfig", "OnFailure", "Destination"))
				if path(e["Properties"], "BisectBatchOnFunctionError") != true {
					t.Errorf("%s: BisectBatchOnFunctionError is not on (one bad record would fail its whole batch)", where)
				}
			case "ScheduleV2":
				if !resumable[fn] {
					async[fn] = true
				}
				// A name CloudFormation makes (OmitName), or one of the
				// stack's; SAM's own would be the same in every stack.
				if n := js(path(e["Properties"], "Name")); path(e["Properties"], "OmitName") != true &&
					!strings.Contains(n, "${AWS::StackName}") {
					t.Errorf("%s: schedule name %s is not scoped to the stack", where, n)
				}
				queue(where+" DeadLetterConfig", path(e["Properties"], "DeadLetterConfig", "Arn"))
			}
		}
	}
	for fn := range async {
		cfg := tpl.Resources[fn].Properties["EventInvokeConfig"]
		if n := path(cfg, "MaximumRetryAttempts"); n != 0 {
			t.Errorf("%s: Lambda's asynchronous retries are %v, want 0 (runs overlap, a digest goes twice)", fn, n)
		}
		queue(fn+" EventInvokeConfig", path(cfg, "DestinationConfig", "OnFailure", "Destination"))
	}
	// What lands on the failure queue can be fed back (privacyctl replay,
	// under the replay policy): an asynchronous run by invoking its
	// function again; a stream batch by marking its items replayed on the
	// stream's table, a change the stream delivers again. A stream's
	// function is never invoked by the replay (it would act on events the
	// replay wrote); its own failed runs are its retry schedule's, which
	// runs again every minute.
	var invokable, markable string
	for _, st := range statementsOf(tpl.Resources["PrivacyReplayPolicy"].Properties["PolicyDocument"]) {
		switch st["Sid"] {
		case "ReplayInvokes":
			invokable = js(st["Resource"])
		case "ReplayMarksTheItems", "ReplayMarksTheProcessors":
			markable += js(st["Resource"])
		}
	}
	for _, fn := range functions(tpl) {
		var streams []string
		for _, e := range events(tpl.Resources[fn]) {
			if e["Type"] == "DynamoDB" {
				streams = append(streams, refTo(path(e["Properties"], "Stream")))
			}
		}
		switch {
		case len(streams) > 0:
			if strings.Contains(invokable, `"`+fn+`"`) {
				t.Errorf("PrivacyReplayPolicy may invoke %s, a stream's function, with any events", fn)
			}
			for _, table := range streams {
				if !strings.Contains(markable, `"`+table+`"`) {
					t.Errorf("%s's batches on %s's stream cannot be replayed: ReplayMarksTheItems does not name the table", fn, table)
				}
			}
			for name, e := range events(tpl.Resources[fn]) {
				if e["Type"] == "ScheduleV2" && path(e["Properties"], "ScheduleExpression") != "rate(1 minute)" {
					t.Errorf("%s.%s: a stream function's failed run is redone by its schedule, which must run every minute", fn, name)
				}
			}
		case async[fn] && !strings.Contains(invokable, `"`+fn+`"`):
			t.Errorf("%s sends to the failure queue but PrivacyReplayPolicy's ReplayInvokes cannot invoke it", fn)
		}
	}
}

// statementsOf returns a policy document's statements.
func statementsOf(doc any) []map[string]any {
	var out []map[string]any
	list, _ := path(doc, "Statement").([]any)
	for _, s := range list {
		if sm, ok := s.(map[string]any); ok {
			out = append(out, sm)
		}
	}
	return out
}

// Logs are kept for a set time: every function writes to a log group of
// the template with a retention period.
func TestLogGroupsHaveRetention(t *testing.T) {
	tpl := read(t)
	for _, fn := range functions(tpl) {
		id := refTo(path(tpl.Resources[fn].Properties, "LoggingConfig", "LogGroup"))
		lg, ok := tpl.Resources[id]
		if !ok || lg.Type != "AWS::Logs::LogGroup" || lg.Properties["RetentionInDays"] == nil {
			t.Errorf("%s: no log group with a retention period (LoggingConfig.LogGroup %q)", fn, id)
		}
	}
}

// Alarms arrive: the alarm topic is not under an AWS-managed key (its
// policy cannot admit CloudWatch), and a customer key admits CloudWatch;
// every queue, every function's errors and throttles, and the API's 5xx
// have an alarm on that topic.
func TestAlarmsArrive(t *testing.T) {
	tpl := read(t)
	key := tpl.Resources["AlarmTopic"].Properties["KmsMasterKeyId"]
	if s, ok := key.(string); ok && strings.HasPrefix(s, "alias/aws/") {
		t.Fatalf("AlarmTopic uses the AWS-managed key %s: CloudWatch cannot publish to it", s)
	}
	if id := refTo(key); id != "" {
		if k := tpl.Resources[id]; k.Type != "AWS::KMS::Key" || !strings.Contains(js(k.Properties["KeyPolicy"]), "cloudwatch.amazonaws.com") {
			t.Errorf("the alarm topic's key %s does not admit cloudwatch.amazonaws.com", id)
		}
	}
	watched := map[string]bool{} // "metric/target"
	for _, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		if refTo(firstOf(r.Properties["AlarmActions"])) != "AlarmTopic" {
			continue
		}
		dims, _ := r.Properties["Dimensions"].([]any)
		for _, d := range dims {
			watched[js(r.Properties["MetricName"])+"/"+refTo(path(d, "Value"))] = true
		}
		// A metric-math alarm watches the metrics its expression reads.
		metrics, _ := r.Properties["Metrics"].([]any)
		for _, m := range metrics {
			dims, _ := path(m, "MetricStat", "Metric", "Dimensions").([]any)
			for _, d := range dims {
				watched[js(path(m, "MetricStat", "Metric", "MetricName"))+"/"+refTo(path(d, "Value"))] = true
			}
		}
	}
	for _, w := range []string{`"` + processor.MetricAbandonedCallbacks + `"/CallbackFunction`, `"IteratorAge"/CallbackFunction`, `"IteratorAge"/MailerFunction`} {
		if !watched[w] {
			t.Errorf("no alarm on %s", w)
		}
	}
	for id, r := range tpl.Resources {
		switch r.Type {
		case "AWS::SQS::Queue":
			if !watched[`"ApproximateNumberOfMessagesVisible"/`+id] {
				t.Errorf("queue %s has no depth alarm", id)
			}
		case "AWS::Serverless::Function":
			for _, m := range []string{"Errors", "Throttles"} {
				if !watched[`"`+m+`"/`+id] {
					t.Errorf("function %s has no %s alarm", id, m)
				}
			}
		case "AWS::Serverless::HttpApi":
			if !watched[`"5xx"/`+id] {
				t.Errorf("API %s has no 5xx alarm", id)
			}
		}
	}
}

func firstOf(v any) any {
	if l, ok := v.([]any); ok && len(l) > 0 {
		return l[0]
	}
	return nil
}

// A deploy that would drop all mail fails at deploy time: the sender, the
// team's inbox, the public URL and the site's origins have no made-up
// defaults, so a plain `sam deploy` asks for them.
func TestNoUsableLookingDefaults(t *testing.T) {
	tpl := read(t)
	for _, name := range []string{"SenderAddress", "TeamInbox", "PublicBaseURL", "SiteOrigins"} {
		p, ok := tpl.Parameters[name]
		if !ok {
			t.Errorf("parameter %s is gone", name)
			continue
		}
		if d, has := p["Default"]; has {
			t.Errorf("parameter %s has the default %v: a deploy must set it", name, d)
		}
	}
}

// transformed is template.yaml after the SAM transform.
func transformed(t *testing.T) map[string]map[string]any {
	t.Helper()
	var doc struct{ Resources map[string]map[string]any }
	if err := json.Unmarshal(transformedJSON(t), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Resources
}

// transformedJSON is template.yaml after the SAM transform, as JSON (made
// once per test binary: the template does not change under it).
func transformedJSON(t *testing.T) []byte {
	t.Helper()
	out, err := transformOnce()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var transformOnce = sync.OnceValues(func() ([]byte, error) {
	cmd := exec.Command("python3", "transform.py", filepath.Join(localtest.Root(), "template.yaml"))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return nil, fmt.Errorf("SAM transform (python3 with cfn-lint's samtranslator): %v %s", err, stderr)
	}
	return out, nil
})

// A stream function reads its own streams and no other: not the managed
// AWSLambdaDynamoDBExecutionRole SAM would add (stream read on every
// table), since the subjects stream is full of addresses. Read after the
// SAM transform, where that policy would appear.
func TestStreamRolesReadOnlyTheirStreams(t *testing.T) {
	tpl, out := read(t), transformed(t)
	streamActions := []string{"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"}
	for _, fn := range functions(tpl) {
		var own []string
		for _, e := range events(tpl.Resources[fn]) {
			if e["Type"] == "DynamoDB" {
				own = append(own, refTo(path(e["Properties"], "Stream")))
			}
		}
		if len(own) == 0 {
			continue
		}
		roleID := refTo(path(out[fn], "Properties", "Role"))
		role := out[roleID]
		if role == nil {
			t.Fatalf("%s: no role %q after the transform", fn, roleID)
		}
		if m := js(path(role, "Properties", "ManagedPolicyArns")); strings.Contains(m, "DynamoDBExecutionRole") {
			t.Errorf("%s: role %s carries the managed stream policy: %s", fn, roleID, m)
		}
		policies, _ := path(role, "Properties", "Policies").([]any)
		reads := 0
		for _, p := range policies {
			stmts, _ := path(p, "PolicyDocument", "Statement").([]any)
			for _, st := range stmts {
				acts := strs(path(st, "Action"))
				if !slices.ContainsFunc(acts, func(a string) bool { return slices.Contains(streamActions, a) }) {
					continue
				}
				reads++
				res := js(path(st, "Resource"))
				if strings.Contains(res, `"*"`) {
					t.Errorf("%s: stream read on every resource: %s", fn, res)
				}
				for _, table := range []string{"SubjectsTable", "LedgerTable", "SuppressionTable", "RequestsTable", "PlatformRequestsTable",
					"OpsTable", "RecordsTable"} {
					if strings.Contains(res, "${"+table+".") && !slices.Contains(own, table) {
						t.Errorf("%s: reads the stream of %s, which it does not consume", fn, table)
					}
				}
			}
		}
		if reads == 0 {
			t.Errorf("%s: its role cannot read its own streams %v", fn, own)
		}
	}
}

// A deployed function is never in development: after the SAM transform
// (Globals merged) every function has DEVELOPMENT "false" and none of the
// development settings, which it would refuse or ignore anyway.
func TestDeployedFunctionsAreNotInDevelopment(t *testing.T) {
	dev := map[string]string{"DEVELOPMENT": "false", "LOCAL_SECRET": "", "DYNAMODB_ENDPOINT": "", "SES_ENDPOINT": "",
		"OPENDSR_SIGNING_KEY": "", "ALLOW_INSECURE_CALLBACKS": "false", "RECEIPT_KEY": ""}
	for id, f := range deployedFunctions(t) {
		if f.vars["DEVELOPMENT"] != "false" {
			t.Errorf("%s: DEVELOPMENT is %v, want \"false\"", id, f.vars["DEVELOPMENT"])
		}
		for k, want := range dev {
			if v, ok := f.vars[k]; ok && v != want {
				t.Errorf("%s: %s is %v in the template, want %q", id, k, v, want)
			}
		}
	}
}

// The receipt key signs what people keep as proof: only the mailer reads
// it (its explicit role), no managed policy or other role names it, and
// the function that serves the JWKS reads only the published halves (ops
// items RCPTKEY, beside the policy's versions, POLICY), not the secret.
func TestOnlyTheMailerReadsTheReceiptKey(t *testing.T) {
	tpl := read(t)
	var readers []string
	for id, r := range tpl.Resources {
		if id == "ReceiptSigningKey" {
			continue
		}
		if strings.Contains(js(r.Properties["Policies"])+js(r.Properties["PolicyDocument"]), "ReceiptSigningKey") {
			readers = append(readers, id)
		}
	}
	// The mailer signs receipts with it, the ledger's signer the days' roots.
	slices.Sort(readers)
	if !slices.Equal(readers, []string{"LedgerSignerFunction", "MailerFunctionRole"}) {
		t.Fatalf("the receipt key is granted to %v, want only MailerFunctionRole and LedgerSignerFunction", readers)
	}
	var keys []map[string]any
	for _, s := range statements(tpl.Resources["PreferencesFunction"]) {
		res := s["Resource"]
		if l, ok := res.([]any); ok && len(l) == 1 {
			res = l[0]
		}
		if s["Effect"] == "Allow" && refTo(res) == "OpsTable" {
			keys = append(keys, s)
		}
	}
	if len(keys) != 1 || js(keys[0]["Action"]) != `"dynamodb:Query"` ||
		js(path(keys[0], "Condition", "ForAllValues:StringEquals", "dynamodb:LeadingKeys")) != `["RCPTKEY","POLICY"]` {
		t.Fatalf("the JWKS function's ops grants: %s", js(keys))
	}
}

// A function that writes items of the ops table writes only its own: each
// grant of item actions on the ops table is held to the key prefixes the
// store uses for what that function keeps there, so none can touch a
// controller's credentials, a processor, a policy version or another's
// counters.
func TestOpsItemGrantsNameTheirKeys(t *testing.T) {
	tpl := read(t)
	like := func(prefixes ...string) string {
		var keys []string
		for _, p := range prefixes {
			keys = append(keys, p+"*")
		}
		return js(keys)
	}
	// By resource, the Sid of each of its ops item grants and the keys it
	// must be held to.
	for id, want := range map[string]map[string]string{
		"MailerFunctionRole": {"SentMarkersRetryQueueAndReceiptKeys": js([]string{dynamo.MailMarkerPrefix + "*",
			dynamo.MailRetryPrefix + "*", dynamo.ReceiptKeysPK}), "ProcessorMailboxes": like(dynamo.MailboxPrefix),
			// A processor's contact address, read when its email is sent.
			"ProcessorContactAddress": js([]string{dynamo.ProcessorPrefix}),
			// The last contact it saw a processor have, its own
			// (mailer.Watch; read for a removed processor's mail).
			"RemovedProcessorsContact": js([]string{dynamo.ProcessorSeenPK})},
		"FormsFunction": {"RateCounters": like(dynamo.RateLimitPrefix)},
		// When a processor's contact changed: a confirm link minted before it confirms nothing.
		"RightsFunction":             {"RateCounters": like(dynamo.RateLimitPrefix), "ProcessorContactChangedAt": js([]string{dynamo.ProcessorPrefix})},
		"FeedbackFunction":           {"SoftBounceCounters": like(dynamo.CounterPrefix)},
		"CampaignFunction":           {"CampaignRecords": like(dynamo.CampaignPrefix)},
		"CampaignSenderFunctionRole": {"CampaignRecords": like(dynamo.CampaignPrefix), "SentMarkers": like(dynamo.MailMarkerPrefix)},
		"SweepFunction": {"DeleteDueOps": like(dynamo.CampaignPrefix, dynamo.CallbackPrefix),
			"RefileOps": like(dynamo.CampaignPrefix, dynamo.CallbackPrefix), "Checkpoint": js([]string{dynamo.SweepCheckpointPK})},
		"CallbackFunctionRole": {"CallbackCursors": like(dynamo.CallbackPrefix)},
		"OpenDSRFunction":      {"ControllerCredentials": like(dynamo.ControllerPrefix), "RateCounters": like(dynamo.RateLimitPrefix)},
		"OperatorFunction": {"Controllers": like(dynamo.ControllerPrefix), "Processors": js([]string{dynamo.ProcessorPrefix}),
			"ProcessorContactChange": js([]string{dynamo.ProcessorPrefix}),
			"PublishPolicyVersions":  js([]string{"POLICY"}), "CampaignStatus": like(dynamo.CampaignPrefix),
			"SuppressionLiftAsks": js([]string{dynamo.LiftAskPK}), "ProcessorChangeAsks": js([]string{dynamo.ProcessorAskPK})},
	} {
		r, ok := tpl.Resources[id]
		if !ok {
			t.Errorf("%s: not in the template", id)
			continue
		}
		sts := statements(r)
		policies, _ := r.Properties["Policies"].([]any)
		for _, p := range policies {
			sts = append(sts, statementsOf(path(p, "PolicyDocument"))...)
		}
		found := 0
		for _, s := range sts {
			if s["Effect"] != "Allow" || !slices.ContainsFunc(strs(s["Action"]), func(a string) bool {
				return slices.Contains([]string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
					"dynamodb:BatchWriteItem", "dynamodb:GetItem"}, a)
			}) {
				continue
			}
			res := s["Resource"]
			if l, ok := res.([]any); ok && len(l) == 1 {
				res = l[0]
			}
			if refTo(res) != "OpsTable" {
				if strings.Contains(js(res), "OpsTable") {
					t.Errorf("%s: an item grant on the ops table among other resources: %s", id, js(s))
				}
				continue
			}
			sid, _ := s["Sid"].(string)
			keys, ok := want[sid]
			if !ok {
				t.Errorf("%s %s: an ops item grant the test does not know: %s", id, sid, js(s))
				continue
			}
			found++
			if got := js(path(s, "Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys")); got != keys {
				t.Errorf("%s %s: ops item grant with LeadingKeys %s, want %s", id, sid, got, keys)
			}
		}
		if found != len(want) {
			t.Errorf("%s: %d of its %d ops item grants found", id, found, len(want))
		}
	}
}

// The sweep reads what is due from each swept table's retention index: the
// index is there (keys only, the shard and the due time), the sweep may
// query it, and no statement of the sweep's grants a Scan.
func TestSweepQueriesTheRetentionIndexNeverScans(t *testing.T) {
	tpl := read(t)
	for _, id := range []string{"SubjectsTable", "LedgerTable", "RequestsTable", "OpsTable"} {
		found := false
		gsis, _ := tpl.Resources[id].Properties["GlobalSecondaryIndexes"].([]any)
		for _, g := range gsis {
			gm, _ := g.(map[string]any)
			if gm["IndexName"] != "by-retention" {
				continue
			}
			found = true
			if js(gm["KeySchema"]) != `[{"AttributeName":"retention_pk","KeyType":"HASH"},{"AttributeName":"retention_at","KeyType":"RANGE"}]` ||
				path(gm, "Projection", "ProjectionType") != "KEYS_ONLY" {
				t.Errorf("%s: by-retention is %s", id, js(gm))
			}
		}
		if !found {
			t.Errorf("%s has no by-retention index", id)
		}
		if !strings.Contains(js(statements(tpl.Resources["SweepFunction"])), id+".Arn}/index/by-retention") {
			t.Errorf("the sweep may not query %s's retention index", id)
		}
	}
	for _, st := range statements(tpl.Resources["SweepFunction"]) {
		for _, a := range strs(st["Action"]) {
			if a == "dynamodb:Scan" || a == "dynamodb:*" {
				t.Errorf("the sweep is granted %s (%v)", a, st["Sid"])
			}
		}
	}
}

// API Gateway may invoke each HttpApi Lambda authorizer's function: after
// the SAM transform there is a permission for apigateway.amazonaws.com
// whose source is the API's authorizers. SAM adds permissions for a
// function's routes only; without this one every route behind the
// authorizer answers 500.
func TestAuthorizersMayBeInvoked(t *testing.T) {
	tpl, out := read(t), transformed(t)
	authorizers, _ := path(tpl.Resources["HttpApi"].Properties, "Auth", "Authorizers").(map[string]any)
	if len(authorizers) == 0 {
		t.Fatal("no HttpApi authorizer")
	}
	for name, a := range authorizers {
		fn := refTo(path(a, "FunctionArn"))
		found := false
		for _, r := range out {
			if r["Type"] != "AWS::Lambda::Permission" {
				continue
			}
			p, _ := r["Properties"].(map[string]any)
			if refTo(p["FunctionName"]) == fn && p["Principal"] == "apigateway.amazonaws.com" &&
				strings.Contains(js(p["SourceArn"]), "${HttpApi}/authorizers/") {
				found = true
			}
		}
		if !found {
			t.Errorf("authorizer %s: no permission for API Gateway to invoke %s as an authorizer", name, fn)
		}
	}
}

// Each function runs its Go code on one thread (GOMAXPROCS "1"): Lambda
// gives a function CPU in proportion to its memory, one vCPU at 1,769 MB,
// while the process sees two; with two Ps Go's scheduler wakes and spins a
// second thread for the transport's goroutines, which on a share of one
// vCPU is CPU spent and nothing gained (docs/benchmarks.md, CPU per
// request: about a tenth of a signup's CPU). A function given a vCPU or
// more would need its own setting.
func TestFunctionsRunOnOneThread(t *testing.T) {
	for id, f := range deployedFunctions(t) {
		if f.vars["GOMAXPROCS"] != "1" {
			t.Errorf("%s: GOMAXPROCS is %v, want \"1\"", id, f.vars["GOMAXPROCS"])
		}
		if mem, _ := f.props["MemorySize"].(float64); mem >= 1769 {
			t.Errorf("%s: %v MB is a vCPU or more: one thread would leave it unused", id, mem)
		}
	}
}

// deployedFunction is a function as the SAM transform leaves it (Globals
// merged): its properties and its environment's variables.
type deployedFunction struct{ props, vars map[string]any }

// deployedFunctions are the template's functions after the transform, by
// logical id; it fails the test when it reads fewer than 12.
func deployedFunctions(t *testing.T) map[string]deployedFunction {
	t.Helper()
	out := map[string]deployedFunction{}
	for id, r := range transformed(t) {
		if r["Type"] != "AWS::Lambda::Function" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		out[id] = deployedFunction{props: props, vars: vars}
	}
	if len(out) < 12 {
		t.Fatalf("read %d functions", len(out))
	}
	return out
}
