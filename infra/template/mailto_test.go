package template_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The mailto: unsubscribe (#34 item 7): SES's receipt rule invokes the
// function asynchronously for the unsubscribe domain's mail, with the
// spam scan on; SES may invoke it for this account's rule alone; and the
// function is granted the calls of an unsubscription (its reads named; IAM
// cannot hold the sort keys it writes: docs/security.md, "Left open").
func TestUnsubscribeMailIsReceivedBySESAlone(t *testing.T) {
	tpl := read(t)
	rule := tpl.Resources["UnsubscribeMailRule"]
	if rule.Type != "AWS::SES::ReceiptRule" || rule.Condition != "ReceivesUnsubscribeMail" {
		t.Fatalf("UnsubscribeMailRule %+v", rule)
	}
	r := rule.Properties["Rule"]
	action := path(firstOf(path(r, "Actions")), "LambdaAction")
	if refTo(path(action, "FunctionArn")) != "UnsubscribeMailFunction" || path(action, "InvocationType") != "Event" {
		t.Errorf("the rule's action %s: want UnsubscribeMailFunction invoked with InvocationType Event", js(action))
	}
	if path(r, "ScanEnabled") != true || path(r, "Enabled") != true {
		t.Errorf("the rule is not enabled with its spam scan: %s", js(r))
	}
	// The rule takes the unsubscribe domain's mail alone, never every
	// verified domain's (a rule without Recipients matches them all), nor
	// the sender's (it would take privacy@ and every reply); and it is off
	// until a domain is named (an address SES does not yet receive is not
	// advertised).
	if recipients := js(path(r, "Recipients")); recipients != `[{"Ref":"UnsubscribeMailDomain"}]` {
		t.Errorf("the rule's recipients %s: want the unsubscribe domain alone", recipients)
	}
	param := tpl.Parameters["UnsubscribeMailDomain"]
	pattern, _ := param["AllowedPattern"].(string)
	if param["Default"] != "none" || regexp.MustCompile(pattern).MatchString("") {
		t.Errorf("UnsubscribeMailDomain: default %v, pattern %q: want none by default and a domain of its own when on", param["Default"], pattern)
	}
	if !slices.Contains(strs(transformed(t)["UnsubscribeMailRule"]["DependsOn"]), "UnsubscribeMailPermission") {
		t.Error("the rule must wait for the permission: SES checks it may invoke the function when the rule is made")
	}

	perm := tpl.Resources["UnsubscribeMailPermission"].Properties
	if refTo(perm["FunctionName"]) != "UnsubscribeMailFunction" || perm["Principal"] != "ses.amazonaws.com" ||
		perm["Action"] != "lambda:InvokeFunction" || !strings.Contains(js(perm["SourceAccount"]), "AWS::AccountId") ||
		!strings.Contains(js(perm["SourceArn"]), ":receipt-rule-set/privacykeeper-${Id}:receipt-rule/unsubscribe-${Id}") {
		t.Errorf("UnsubscribeMailPermission %s: want ses.amazonaws.com for this account's rule alone", js(perm))
	}
	// The names the permission's SourceArn names, within SES's 64
	// characters whatever the stack's name: "privacykeeper-" or
	// "unsubscribe-" and the stack id's UUID (36).
	uuid := `{"Fn::Select":[2,{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}]}`
	for _, n := range []struct{ got, prefix string }{
		{js(path(r, "Name")), "unsubscribe"}, {js(tpl.Resources["UnsubscribeMailRuleSet"].Properties["RuleSetName"]), "privacykeeper"},
	} {
		if n.got != `{"Fn::Join":["-",["`+n.prefix+`",`+uuid+`]]}` || len(n.prefix)+1+36 > 64 {
			t.Errorf("name %s: want %s- and the stack id's UUID", n.got, n.prefix)
		}
	}
	if !strings.Contains(js(perm["SourceArn"]), uuid) {
		t.Errorf("the permission's SourceArn %s does not name the stack id's UUID", js(perm["SourceArn"]))
	}

	// Least privilege: the grants of an unsubscription (dynamo.Store
	// Forward and Unsubscribe), the policy versions, the secret, the
	// failure queue; no mail sent, no request read, no scan.
	fn := tpl.Resources["UnsubscribeMailFunction"]
	var grants []string
	for _, st := range statements(fn) {
		if st["Effect"] != "Allow" {
			continue
		}
		for _, a := range strs(st["Action"]) {
			grants = append(grants, a+" "+refTo(st["Resource"]))
		}
	}
	slices.Sort(grants)
	want := []string{"dynamodb:GetItem SubjectsTable", "dynamodb:PutItem LedgerTable", "dynamodb:Query OpsTable",
		"dynamodb:UpdateItem SubjectsTable", "dynamodb:UpdateItem SuppressionTable", "secretsmanager:GetSecretValue AppSecret",
		"sqs:SendMessage FailureQueue"}
	if !slices.Equal(grants, want) {
		t.Errorf("UnsubscribeMailFunction is granted\n%s\nwant\n%s", strings.Join(grants, "\n"), strings.Join(want, "\n"))
	}
	for _, st := range statements(fn) {
		if strings.HasPrefix(js(st["Action"]), `["dynamodb:GetItem"`) || js(st["Action"]) == `"dynamodb:UpdateItem"` {
			if st["Condition"] == nil {
				t.Errorf("statement %s has no condition on the attributes or keys it reaches", st["Sid"])
			}
		}
	}
	if js(path(fn.Properties, "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination")) == "null" {
		t.Error("SES invokes asynchronously: what Lambda gives up on must reach the failure queue")
	}
}
