package iamsim

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestLike(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"CTRL#*", "CTRL#abc", true}, {"CTRL#*", "CTRL#", true}, {"CTRL#*", "CTRL", false},
		{"PROC#", "PROC#", true}, {"PROC#", "PROC#x", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"arn:*/stream/*", "arn:aws:dynamodb:r:1:table/T/stream/2026", true}, {"[x]", "[x]", true}, {`a\*`, `a\bc`, true},
	} {
		if got := like(tc.pattern, tc.s); got != tc.want {
			t.Errorf("like(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func policy(stmts ...map[string]any) Policy {
	list := make([]any, len(stmts))
	for i, s := range stmts {
		list[i] = s
	}
	return Policy{Name: "p", Document: map[string]any{"Version": "2012-10-17", "Statement": list}}
}

// Requests the set's conditions cannot tell apart share a key; those they
// can do not. A key the conditions do not name is not part of it.
func TestKeyClasses(t *testing.T) {
	set, err := NewSet([]Policy{policy(
		map[string]any{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "arn:t",
			"Condition": map[string]any{"ForAllValues:StringEquals": map[string]any{"dynamodb:LeadingKeys": []any{"POLICY"}}}},
		map[string]any{"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "arn:t",
			"Condition": map[string]any{"ForAnyValue:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{"CTRL#*", "PROC#*"}}}},
		map[string]any{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"ses:FromAddress": "a@b.c"}}},
	)})
	if err != nil {
		t.Fatal(err)
	}
	key := func(ctx map[string]any) string {
		k, _ := set.key("arn:p", Request{Action: "dynamodb:Query", Resource: "arn:t", Context: ctx})
		return k
	}
	lk := func(v ...string) map[string]any { return map[string]any{"dynamodb:LeadingKeys": v} }
	same := [][2]map[string]any{
		{lk("S#1f"), lk("S#9a")},
		{lk("CTRL#a"), lk("CTRL#b")},
		{lk("S#1", "S#2"), lk("S#3")},
		{lk("S#1"), {"dynamodb:LeadingKeys": []string{"S#2"}, "dynamodb:Select": "ALL_ATTRIBUTES"}},
		{{"ses:FromAddress": "x@y.z"}, {"ses:FromAddress": "q@y.z"}},
	}
	for _, p := range same {
		if key(p[0]) != key(p[1]) {
			t.Errorf("%v and %v are told apart", p[0], p[1])
		}
	}
	apart := [][2]map[string]any{
		{lk("S#1"), lk("POLICY")},
		{lk("S#1"), lk("CTRL#a")},
		{lk("CTRL#a"), lk("PROC#")},
		{lk("POLICY"), lk("POLICY", "S#1")},
		{lk("S#1"), {}},
		{lk(), {}},
		{{"ses:FromAddress": "a@b.c"}, {"ses:FromAddress": "x@b.c"}},
	}
	for _, p := range apart {
		if key(p[0]) == key(p[1]) {
			t.Errorf("%v and %v are one question", p[0], p[1])
		}
	}
	// Another operator compares values as they are.
	raw, _ := NewSet([]Policy{policy(map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*",
		"Condition": map[string]any{"IpAddress": map[string]any{"aws:SourceIp": "10.0.0.0/8"}}})})
	k1, _ := raw.key("p", Request{Context: map[string]any{"aws:SourceIp": "10.1.1.1"}})
	k2, _ := raw.key("p", Request{Context: map[string]any{"aws:SourceIp": "10.1.1.2"}})
	if k1 == k2 {
		t.Error("IpAddress values were classed")
	}
}

func nodeModules(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".tools", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(dir, "@cloud-copilot", "iam-simulate")); err != nil {
		if os.Getenv("PK_REQUIRE_SERVICES") != "" {
			t.Fatal("@cloud-copilot/iam-simulate is not installed (make tools)")
		}
		t.Skip("needs @cloud-copilot/iam-simulate: run make tools")
	}
	return dir
}

// The evaluator decides as IAM does: an Allow under its condition, a
// Deny over an Allow, nothing allowed that no statement allows; a
// denial is explained; an answer is asked once.
func TestDecide(t *testing.T) {
	e := New(nodeModules(t))
	set, err := NewSet([]Policy{policy(
		map[string]any{"Sid": "PolicyVersions", "Effect": "Allow", "Action": []any{"dynamodb:Query", "dynamodb:PutItem"},
			"Resource":  "arn:aws:dynamodb:us-east-1:000000000000:table/Ops",
			"Condition": map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{"POLICY", "CTRL#*"}}}},
		map[string]any{"Sid": "NeverCredentials", "Effect": "Deny", "Action": "dynamodb:PutItem",
			"Resource":  "arn:aws:dynamodb:us-east-1:000000000000:table/Ops",
			"Condition": map[string]any{"ForAnyValue:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{"CTRL#*"}}}},
	)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ask := func(action string, keys ...string) Decision {
		t.Helper()
		d, err := e.Decide(ctx, set, "arn:aws:sts::000000000000:assumed-role/R/F", Request{Action: action,
			Resource: "arn:aws:dynamodb:us-east-1:000000000000:table/Ops", Context: map[string]any{"dynamodb:LeadingKeys": keys}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		action string
		keys   []string
		want   string
	}{
		{"dynamodb:Query", []string{"POLICY"}, Allowed},
		{"dynamodb:Query", []string{"PROC#"}, ImplicitlyDenied},
		{"dynamodb:Query", []string{"POLICY", "PROC#"}, ImplicitlyDenied},
		{"dynamodb:PutItem", []string{"CTRL#x"}, ExplicitlyDenied},
		{"dynamodb:GetItem", []string{"POLICY"}, ImplicitlyDenied},
	} {
		if d := ask(tc.action, tc.keys...); d.Result != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.action, tc.keys, d.Result, tc.want)
		}
	}
	d := ask("dynamodb:Query", "PROC#")
	if why := strings.Join(d.Explanation, ";"); !strings.Contains(why, "PolicyVersions") || !strings.Contains(why, "PROC#") {
		t.Errorf("the denial is explained as %q", why)
	}
	if d := ask("dynamodb:PutItem", "CTRL#y"); !strings.Contains(strings.Join(d.Explanation, ";"), "Deny p/NeverCredentials matched") {
		t.Errorf("the Deny is not named: %q", d.Explanation)
	}
	before := e.Stats()
	ask("dynamodb:Query", "POLICY")
	ask("dynamodb:PutItem", "CTRL#z") // the same question as CTRL#x
	if after := e.Stats(); after.Evaluations != before.Evaluations || after.Decisions != before.Decisions+2 {
		t.Errorf("known answers asked again: %+v then %+v", before, after)
	}
	// A request the action cannot have is an error, not an answer.
	if _, err := e.Decide(ctx, set, "arn:p", Request{Action: "dynamodb:DescribeTable",
		Resource: "arn:aws:dynamodb:us-east-1:000000000000:table/Ops", Context: map[string]any{"dynamodb:LeadingKeys": []string{"POLICY"}}}); err == nil {
		t.Error("a context key DescribeTable does not have was accepted")
	}
}

// A statement with a single-valued condition is explained too.
func TestExplainSingleValue(t *testing.T) {
	e := New(nodeModules(t))
	set, err := NewSet([]Policy{policy(map[string]any{"Sid": "Projected", "Effect": "Allow", "Action": "dynamodb:Query",
		"Resource":  "arn:aws:dynamodb:us-east-1:000000000000:table/Ops",
		"Condition": map[string]any{"StringEquals": map[string]any{"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}})})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(context.Background(), set, "arn:p", Request{Action: "dynamodb:Query",
		Resource: "arn:aws:dynamodb:us-east-1:000000000000:table/Ops", Context: map[string]any{"dynamodb:Select": "ALL_ATTRIBUTES"}})
	if err != nil || d.Result != ImplicitlyDenied || !strings.Contains(strings.Join(d.Explanation, ";"), `StringEquals dynamodb:Select ["SPECIFIC_ATTRIBUTES"]`) {
		t.Fatalf("%+v %v", d, err)
	}
}

// The cost of a decision: one already known (the same class of request),
// and one asked of the evaluator (a new action each time, validated once
// per shape as the gateway asks).
func BenchmarkDecide(b *testing.B) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".tools", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(dir, "@cloud-copilot", "iam-simulate")); err != nil {
		b.Skip("needs @cloud-copilot/iam-simulate")
	}
	e := New(dir)
	set, err := NewSet([]Policy{policy(map[string]any{"Effect": "Allow", "Action": "dynamodb:*",
		"Resource":  "arn:aws:dynamodb:us-east-1:000000000000:table/Ops",
		"Condition": map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []any{"MAIL#*"}}}})})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := func(action, key string) Request {
		return Request{Action: action, Resource: "arn:aws:dynamodb:us-east-1:000000000000:table/Ops",
			Context: map[string]any{"dynamodb:LeadingKeys": []string{key}}}
	}
	b.Run("known", func(b *testing.B) {
		if _, err := e.Decide(ctx, set, "arn:p", req("dynamodb:GetItem", "MAIL#0")); err != nil {
			b.Fatal(err)
		}
		for i := range b.N {
			if _, err := e.Decide(ctx, set, "arn:p", req("dynamodb:GetItem", "MAIL#"+strconv.Itoa(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("asked", func(b *testing.B) {
		if _, err := e.Decide(ctx, set, "arn:p", req("dynamodb:PutItem", "MAIL#0")); err != nil {
			b.Fatal(err)
		}
		for i := range b.N {
			// A principal of its own each time: a new question, of a
			// shape validated already.
			if _, err := e.Decide(ctx, set, "arn:p"+strconv.Itoa(i), req("dynamodb:PutItem", "MAIL#0")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestResourceKind(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:dynamodb:ddblocal:000000000000:table/e1-OpsTable":                   "dynamodb:table:1",
		"arn:aws:dynamodb:ddblocal:000000000000:table/e1-OpsTable/index/by-due":      "dynamodb:table:3",
		"arn:aws:sqs:us-east-1:000000000000:e1-FailureQueue":                         "sqs::0",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:e1-AppSecret-abcdef":   "secretsmanager:secret:1",
		"arn:aws:lambda:us-east-1:000000000000:function:SweepFunction":               "lambda:function:1",
		"arn:aws:ses:us-east-1:000000000000:configuration-set/EmailConfigurationSet": "ses:configuration-set:1",
		"*": "*",
	} {
		if got := resourceKind(arn); got != want {
			t.Errorf("%s: %s, want %s", arn, got, want)
		}
	}
}
