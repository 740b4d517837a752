package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func repoTemplate(t *testing.T) *Template {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	tmpl, err := ReadTemplate(filepath.Join(filepath.Dir(file), "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestTemplateFunctionsAndRoutes(t *testing.T) {
	tmpl := repoTemplate(t)
	params := DevParams("http://localhost:3000")
	params["SiteOrigins"] = "https://a.example,https://b.example"
	r, err := NewResolver(tmpl, params, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	r.Refs["SubjectsTable"] = "x-SubjectsTable"
	r.Attrs["SubjectsTable.StreamArn"] = "arn:stream"
	fns, err := Functions(tmpl, r)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Function{}
	for _, f := range fns {
		byID[f.ID] = f
	}
	forms, mailer := byID["FormsFunction"], byID["MailerFunction"]
	if forms == nil || mailer == nil {
		t.Fatalf("functions %v", byID)
	}
	// Globals merge: environment from Globals, timeout overridden per function.
	if forms.Env["SUBJECTS_TABLE"] != "x-SubjectsTable" || forms.Env["SITE_ORIGINS"] != "https://a.example,https://b.example" {
		t.Errorf("forms env %v", forms.Env)
	}
	if forms.Timeout.Seconds() != 10 || mailer.Timeout.Seconds() != 30 || forms.MemoryMB != 256 {
		t.Errorf("timeouts %v %v memory %d", forms.Timeout, mailer.Timeout, forms.MemoryMB)
	}
	if got := mailer.Events["SubjectsStream"].Properties["Stream"]; got != "arn:stream" {
		t.Errorf("stream resolved to %v", got)
	}
	api, err := newAPI(tmpl, r, fns, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, rt := range api.routes {
		keys[rt.key()] = true
	}
	for _, want := range []string{"POST /v1/contact", "GET /v1/health"} {
		if !keys[want] {
			t.Errorf("route %s not served; have %v", want, keys)
		}
	}
	if api.cors == nil || !api.cors.allows("https://b.example") || api.cors.allows("https://evil.example") {
		t.Errorf("cors %+v", api.cors)
	}
}

func TestRouteMatch(t *testing.T) {
	mk := func(method, path string) route {
		rt := route{method: method, path: path}
		rt.segments = splitPath(path)
		return rt
	}
	tests := []struct {
		rt     route
		method string
		path   string
		ok     bool
		params map[string]string
	}{
		{mk("POST", "/v1/contact"), "POST", "/v1/contact", true, nil},
		{mk("POST", "/v1/contact"), "GET", "/v1/contact", false, nil},
		{mk("POST", "/v1/contact"), "POST", "/v1/contact/x", false, nil},
		{mk("GET", "/v1/requests/{id}/verify"), "GET", "/v1/requests/abc/verify", true, map[string]string{"id": "abc"}},
		{mk("GET", "/v1/requests/{id}/verify"), "GET", "/v1/requests//verify", false, nil},
		{mk("ANY", "/assets/{proxy+}"), "GET", "/assets/css/site.css", true, map[string]string{"proxy": "css/site.css"}},
	}
	for _, tt := range tests {
		params, ok := tt.rt.match(tt.method, tt.path)
		if ok != tt.ok {
			t.Errorf("%s %s on %s: ok=%v", tt.method, tt.path, tt.rt.key(), ok)
			continue
		}
		for k, v := range tt.params {
			if params[k] != v {
				t.Errorf("%s: param %s=%q, want %q", tt.path, k, params[k], v)
			}
		}
	}
}

func TestFilterPatterns(t *testing.T) {
	var rec map[string]any
	_ = json.Unmarshal([]byte(`{"eventName":"INSERT","dynamodb":{"NewImage":{"mail_due":{"S":"x"},"kind":{"S":"inquiry"}}}}`), &rec)
	var noDue map[string]any
	_ = json.Unmarshal([]byte(`{"eventName":"INSERT","dynamodb":{"NewImage":{"kind":{"S":"inquiry"}}}}`), &noDue)
	var remove map[string]any
	_ = json.Unmarshal([]byte(`{"eventName":"REMOVE","dynamodb":{"OldImage":{"mail_due":{"S":"x"}}}}`), &remove)
	tmpl := repoTemplate(t)
	r, _ := NewResolver(tmpl, DevParams("http://localhost:3000"), "us-east-1")
	fns, err := Functions(tmpl, r)
	if err != nil {
		t.Fatal(err)
	}
	var filters []filter
	for _, f := range fns {
		if e, ok := f.Events["SubjectsStream"]; ok {
			if filters, err = parseFilters(e.Properties["FilterCriteria"]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(filters) == 0 {
		t.Fatal("the mailer's filter was not read from the template")
	}
	if !matchAny(filters, rec) || matchAny(filters, noDue) || matchAny(filters, remove) {
		t.Error("the mailer filter must pass only changes that make an email due")
	}
	more := []filter{{"dynamodb": map[string]any{"NewImage": map[string]any{"kind": map[string]any{"S": []any{map[string]any{"prefix": "inq"}}}}}}}
	if !matchAny(more, rec) {
		t.Error("prefix rule")
	}
	but := []filter{{"eventName": []any{map[string]any{"anything-but": []any{"REMOVE"}}}}}
	if !matchAny(but, rec) || matchAny(but, remove) {
		t.Error("anything-but rule")
	}
}

func TestResolveIntrinsics(t *testing.T) {
	tmpl := &Template{Parameters: map[string]map[string]any{
		"Stage": {"Type": "String", "Default": "dev"}, "Origins": {"Type": "CommaDelimitedList", "Default": "a,b"},
	}, Resources: map[string]Resource{"T": {Type: "AWS::DynamoDB::Table"}}}
	r, err := NewResolver(tmpl, map[string]string{"Stage": "prod"}, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	r.Refs["T"] = "local-T"
	tests := []struct {
		in   any
		want string
	}{
		{map[string]any{"Ref": "Stage"}, "prod"},
		{map[string]any{"Ref": "T"}, "local-T"},
		{map[string]any{"Fn::Sub": "${AWS::Region}-${Stage}-${T}-${!Literal}"}, "eu-west-1-prod-local-T-${Literal}"},
		{map[string]any{"Fn::Join": []any{"|", map[string]any{"Ref": "Origins"}}}, "a|b"},
		{map[string]any{"Fn::Select": []any{"1", map[string]any{"Fn::Split": []any{",", "x,y"}}}}, "y"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(tt.in)
		if err != nil || asString(got) != tt.want {
			t.Errorf("%v: got %v, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := r.Resolve(map[string]any{"Ref": "Nope"}); err == nil {
		t.Error("a Ref to nothing resolved")
	}
	if _, err := NewResolver(tmpl, map[string]string{"Typo": "x"}, "eu-west-1"); err == nil {
		t.Error("an override of an unknown parameter was accepted")
	}
}

func TestSchedules(t *testing.T) {
	tmpl := repoTemplate(t)
	r, _ := NewResolver(tmpl, DevParams("http://localhost:3000"), "us-east-1")
	fns, err := Functions(tmpl, r)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range fns {
		for _, e := range f.Events {
			if e.Type != "ScheduleV2" {
				continue
			}
			found = true
			want := map[string]time.Duration{"SweepFunction": time.Hour, "DeadlineWatchFunction": 24 * time.Hour,
				"OpenDSRWorkerFunction": 5 * time.Minute, "CallbackFunction": time.Minute, "RecipientsFunction": time.Minute,
				"MailerFunction": time.Minute, "NoticesFunction": time.Minute, "LedgerSignerFunction": time.Hour}[f.ID]
			sch, err := parseSchedule(e)
			t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
			if err != nil || sch.next(t0).Sub(t0) != want {
				t.Errorf("%s: %v", f.ID, err)
			}
			var ev map[string]any
			err = json.Unmarshal(scheduleEvent(e, "us-east-1"), &ev)
			switch in := e.Properties["Input"]; {
			case in != nil: // the schedule's own input, as EventBridge Scheduler sends it
				var want map[string]any
				if jerr := json.Unmarshal([]byte(fmt.Sprint(in)), &want); err != nil || jerr != nil || fmt.Sprint(ev) != fmt.Sprint(want) {
					t.Errorf("%s payload %v %v (input %v)", f.ID, ev, err, in)
				}
			case err != nil || ev["source"] != "aws.scheduler" || ev["detail"] != "{}":
				t.Errorf("%s payload %v %v", f.ID, ev, err)
			}
		}
	}
	if !found {
		t.Fatal("no ScheduleV2 event in the template")
	}
	for expr, ok := range map[string]bool{"rate(5 minutes)": true, "rate(1 day)": true, "cron(0 * * * ? *)": true,
		"rate(0 minutes)": false, "cron(0 * * * *)": false, "cron(0 9 * * * *)": false, "cron(0 9 L * ? *)": false, "every hour": false} {
		_, err := parseSchedule(Event{Type: "ScheduleV2", Properties: map[string]any{"ScheduleExpression": expr}})
		if (err == nil) != ok {
			t.Errorf("%s: %v", expr, err)
		}
	}
}

// As API Gateway does, the gateway appends the address it saw to the
// client's X-Forwarded-For: the first entry is the client's to choose and
// proves nothing.
func TestForwardedForIsAppended(t *testing.T) {
	rt := &route{method: "POST", path: "/v1/contact"}
	for _, tt := range []struct{ sent, want string }{
		{"", "127.0.0.9"},
		{"203.0.113.5", "203.0.113.5, 127.0.0.9"},
	} {
		req := httptest.NewRequest("POST", "/v1/contact", nil)
		req.RemoteAddr = "127.0.0.9:5555"
		if tt.sent != "" {
			req.Header.Set("X-Forwarded-For", tt.sent)
		}
		ev := toEvent(req, rt, nil, nil)
		if got := ev.Headers["x-forwarded-for"]; got != tt.want || ev.RequestContext.HTTP.SourceIP != "127.0.0.9" {
			t.Errorf("sent %q: x-forwarded-for %q (source %s), want %q", tt.sent, got, ev.RequestContext.HTTP.SourceIP, tt.want)
		}
	}
}

// cron() as EventBridge reads it: day of week 1-7 from Sunday, names,
// ranges, lists, steps, ? for the unused day field, an optional timezone.
func TestCronNext(t *testing.T) {
	from := time.Date(2026, 12, 2, 10, 17, 30, 0, time.UTC) // a Wednesday
	for _, tt := range []struct{ expr, tz, want string }{
		{"cron(0 * * * ? *)", "", "2026-12-02T11:00:00Z"},
		{"cron(*/15 * * * ? *)", "", "2026-12-02T10:30:00Z"},
		{"cron(0 9 * * ? *)", "", "2026-12-03T09:00:00Z"},
		{"cron(0 9 ? * MON-FRI *)", "", "2026-12-03T09:00:00Z"},
		{"cron(0 9 ? * 1 *)", "", "2026-12-06T09:00:00Z"}, // Sunday
		{"cron(30 2 1 * ? *)", "", "2027-01-01T02:30:00Z"},
		{"cron(0 0 29 FEB ? *)", "", "2028-02-29T00:00:00Z"},
		{"cron(0 8,20 * * ? 2026)", "", "2026-12-02T20:00:00Z"},
		{"cron(0 9 * * ? *)", "Europe/Berlin", "2026-12-03T08:00:00Z"},
		{"cron(0 0 1 1 ? 2025)", "", "0001-01-01T00:00:00Z"}, // only in the past: never
	} {
		props := map[string]any{"ScheduleExpression": tt.expr}
		if tt.tz != "" {
			props["ScheduleExpressionTimezone"] = tt.tz
		}
		sch, err := parseSchedule(Event{Type: "ScheduleV2", Properties: props})
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if got := sch.next(from).UTC().Format(time.RFC3339); got != tt.want {
			t.Errorf("%s (%s): next %s, want %s", tt.expr, tt.tz, got, tt.want)
		}
	}
}

// Conditions as CloudFormation evaluates them: Fn::If picks a branch,
// Ref AWS::NoValue removes the property or element, and a resource whose
// Condition is false is not in the stack.
func TestConditions(t *testing.T) {
	tmpl := &Template{
		Parameters: map[string]map[string]any{"Stage": {"Type": "String", "Default": "dev"}, "Alarm": {"Type": "String", "Default": ""}},
		Conditions: map[string]any{
			"IsProd":   map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Stage"}, "prod"}},
			"HasAlarm": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Alarm"}, ""}}}},
			"Both":     map[string]any{"Fn::And": []any{map[string]any{"Condition": "IsProd"}, map[string]any{"Condition": "HasAlarm"}}},
			"Either":   map[string]any{"Fn::Or": []any{map[string]any{"Condition": "IsProd"}, map[string]any{"Condition": "HasAlarm"}}},
		},
		Resources: map[string]Resource{
			"Always": {Type: "AWS::DynamoDB::Table"}, "ProdOnly": {Type: "AWS::DynamoDB::Table", Condition: "IsProd"},
		},
	}
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{}, `map[Keep:x List:[a] Size:small] [false false false false] true false`},
		{map[string]string{"Alarm": "a@example.com"}, `map[Keep:x List:[a] Size:small Topic:a@example.com] [false true false true] true false`},
		{map[string]string{"Stage": "prod", "Alarm": "a@example.com"}, `map[Keep:x List:[a b] Size:large Topic:a@example.com] [true true true true] true true`},
	} {
		r, err := NewResolver(tmpl, tc.params, "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Resolve(map[string]any{
			"Size":  map[string]any{"Fn::If": []any{"IsProd", "large", "small"}},
			"Topic": map[string]any{"Fn::If": []any{"HasAlarm", map[string]any{"Ref": "Alarm"}, map[string]any{"Ref": "AWS::NoValue"}}},
			"List":  []any{"a", map[string]any{"Fn::If": []any{"IsProd", "b", map[string]any{"Ref": "AWS::NoValue"}}}},
			"Keep":  "x",
		})
		if err != nil {
			t.Fatal(err)
		}
		var conds []bool
		for _, c := range []string{"IsProd", "HasAlarm", "Both", "Either"} {
			v, err := r.Condition(c)
			if err != nil {
				t.Fatal(err)
			}
			conds = append(conds, v)
		}
		always, _ := r.Exists("Always")
		prod, _ := r.Exists("ProdOnly")
		if s := fmt.Sprintf("%v %v %v %v", got, conds, always, prod); s != tc.want {
			t.Errorf("%v: %s, want %s", tc.params, s, tc.want)
		}
		if _, err := r.Resolve(map[string]any{"Fn::If": []any{"Nope", 1, 2}}); err == nil {
			t.Error("an unknown condition resolved")
		}
	}
}

// answers is a function that returns a fixed response.
type answers []byte

func (a answers) Invoke(context.Context, []byte) ([]byte, error) { return a, nil }

// Lambda refuses a synchronous response over 6 MB and API Gateway answers
// 500: an export that grows past it fails in AWS, and so it does here.
func TestResponsesOverSixMegabytesFail(t *testing.T) {
	for _, tt := range []struct {
		size int
		want int
	}{{1 << 10, 200}, {6<<20 - 200, 200}, {6<<20 + 1, 500}} {
		body := strings.Repeat("x", tt.size)
		out, _ := json.Marshal(map[string]any{"statusCode": 200, "body": body})
		a := &API{routes: []route{{method: "GET", path: "/v1/export", segments: splitPath("/v1/export"), fn: answers(out)}}, log: io.Discard}
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/export", nil))
		if rec.Code != tt.want {
			t.Errorf("a response of %d bytes: %d, want %d", len(out), rec.Code, tt.want)
		}
	}
}

// Every function of the template runs two invocations at once at least:
// the mailer's two streams, and schedules whose run outlasts the period,
// run concurrently in AWS.
func TestStreamAndScheduleFunctionsRunTwoAtOnce(t *testing.T) {
	tmpl := repoTemplate(t)
	r, _ := NewResolver(tmpl, DevParams("http://localhost:3000"), "us-east-1")
	fns, err := Functions(tmpl, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		if n := poolSize(f, 1); n < 2 {
			t.Errorf("%s: %d emulator processes", f.ID, n)
		}
		if f.ID == "FormsFunction" && poolSize(f, 4) != 4 {
			t.Errorf("an HTTP function's pool is not -pool")
		}
	}
}
