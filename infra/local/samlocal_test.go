package local

import (
	"reflect"
	"testing"
)

func TestNamesResource(t *testing.T) {
	tpl := &Template{Resources: map[string]Resource{"Table": {Type: "AWS::DynamoDB::Table"}},
		Parameters: map[string]map[string]any{"Stage": {"Type": "String", "Default": "dev"}}}
	for _, tc := range []struct {
		name string
		v    any
		want bool
	}{
		{"a constant", "x", false},
		{"a parameter", map[string]any{"Ref": "Stage"}, false},
		{"a pseudo parameter", map[string]any{"Ref": "AWS::Region"}, false},
		{"a resource", map[string]any{"Ref": "Table"}, true},
		{"an attribute", map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}, true},
		{"Sub of a resource", map[string]any{"Fn::Sub": "${Table.Arn}/index/x"}, true},
		{"Sub of a parameter", map[string]any{"Fn::Sub": "${Stage}-x"}, false},
		{"Sub's variables", map[string]any{"Fn::Sub": []any{"${T}", map[string]any{"T": map[string]any{"Ref": "Table"}}}}, true},
		{"inside a Join", map[string]any{"Fn::Join": []any{",", []any{"a", map[string]any{"Ref": "Table"}}}}, true},
	} {
		if got := NamesResource(tpl, tc.v); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// sam local's precedence: the template, then "Parameters", then the
// function's own entry, for declared variables only; a resource's value
// is not the developer's.
func TestSamLocalEnv(t *testing.T) {
	tpl := &Template{
		Parameters: map[string]map[string]any{"Stage": {"Type": "String", "Default": "dev"}},
		Globals: map[string]any{"Function": map[string]any{"Environment": map[string]any{"Variables": map[string]any{
			"STAGE": map[string]any{"Ref": "Stage"}, "TABLE": map[string]any{"Ref": "Table"}, "LEVEL": "info"}}}},
		Resources: map[string]Resource{
			"Table": {Type: "AWS::DynamoDB::Table"},
			"A":     {Type: "AWS::Serverless::Function"},
			"B": {Type: "AWS::Serverless::Function", Properties: map[string]any{"Environment": map[string]any{
				"Variables": map[string]any{"TABLE": ""}}}},
		},
	}
	r, err := NewResolver(tpl, nil, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := SamLocalEnv(tpl, r, EnvVars{"Parameters": {"LEVEL": "debug", "UNDECLARED": "x"}, "B": {"TABLE": ""}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"A": {"STAGE": "dev", "TABLE": "", "LEVEL": "debug"},
		"B": {"STAGE": "dev", "TABLE": "", "LEVEL": "debug"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	groups := SamLocalGroups(map[string]map[string]string{"A": {"T": "x", "L": "1"}, "B": {"T": ""}, "C": {"L": "1"}})
	if len(groups) != 2 || !reflect.DeepEqual(groups[0].IDs, []string{"A", "C"}) || !reflect.DeepEqual(groups[1].IDs, []string{"B"}) {
		t.Errorf("groups %+v, want A and C apart from B", groups)
	}
}
