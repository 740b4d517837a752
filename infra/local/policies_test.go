package local

import (
	"encoding/json"
	"strings"
	"testing"
)

// The identity policies of a role are what the transformed template says:
// its inline policies, the AWS managed policies it names (as AWS publishes
// them), the template's managed policies and policies attached to it,
// resolved for the stack. What the gateway cannot read, it refuses: an AWS
// managed policy it does not know, a role that is not the template's.
func TestLoadIdentities(t *testing.T) {
	doc := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	tpl := &Template{Parameters: map[string]map[string]any{}, Resources: map[string]Resource{"T": {Type: "AWS::DynamoDB::Table"}}}
	r, err := NewResolver(tpl, nil, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	r.Attrs["T.Arn"] = "arn:aws:dynamodb:us-east-1:000000000000:table/x-T"
	role := func(managed ...string) map[string]any {
		arns := []any{}
		for _, m := range managed {
			if strings.HasPrefix(m, "arn:") {
				arns = append(arns, m)
			} else {
				arns = append(arns, map[string]any{"Ref": m})
			}
		}
		return map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{"ManagedPolicyArns": arns,
			"Policies": []any{map[string]any{"PolicyName": "inline", "PolicyDocument": doc(
				`{"Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":{"Fn::GetAtt":["T","Arn"]}}]}`)}}}}
	}
	fn := func(roleID string) map[string]any {
		return map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{"Role": map[string]any{"Fn::GetAtt": []any{roleID, "Arn"}}}}
	}
	resources := map[string]map[string]any{
		"F": fn("FRole"), "FRole": role("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "Team"),
		"Team": {"Type": "AWS::IAM::ManagedPolicy", "Properties": map[string]any{"PolicyDocument": doc(
			`{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]}`)}},
		"Extra": {"Type": "AWS::IAM::Policy", "Properties": map[string]any{"Roles": []any{map[string]any{"Ref": "FRole"}},
			"PolicyDocument": doc(`{"Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`)}},
	}
	ids, err := loadIdentities(resources, r, []*Function{{ID: "F"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ids.roles["FRole"].Policies())
	for _, want := range []string{`"name":"FRole/inline"`, `"Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/x-T"`,
		`"name":"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"`, `"logs:CreateLogGroup"`,
		`"name":"Team"`, `"execute-api:Invoke"`, `"name":"Extra"`, `"sqs:SendMessage"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("FRole's policies lack %s:\n%s", want, b)
		}
	}
	if ids.roleOf["F"] != "FRole" || ids.managed["Team"] == nil {
		t.Errorf("roleOf %v, managed %v", ids.roleOf, ids.managed)
	}

	for name, tc := range map[string]struct {
		resources map[string]map[string]any
		want      string
	}{
		"an AWS managed policy the gateway does not know": {map[string]map[string]any{"F": fn("FRole"),
			"FRole": role("arn:aws:iam::aws:policy/AdministratorAccess")}, "AdministratorAccess is not known to the local stack"},
		"a managed policy that is neither AWS's nor the template's": {map[string]map[string]any{"F": fn("FRole"),
			"FRole": role("arn:aws:iam::123456789012:policy/Theirs")}, "neither the template's nor AWS's"},
		"a role outside the template": {map[string]map[string]any{"F": {"Type": "AWS::Lambda::Function",
			"Properties": map[string]any{"Role": "arn:aws:iam::123456789012:role/Theirs"}}}, "not an AWS::IAM::Role of the template"},
		"a Ref to something that is not a managed policy": {map[string]map[string]any{"F": fn("FRole"), "FRole": role("T")},
			"not a managed policy of the template"},
	} {
		if _, err := loadIdentities(tc.resources, r, []*Function{{ID: "F"}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}
