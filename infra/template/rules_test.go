package template_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestPlatformRegionMatchesTheAWSRegion reads the template's rule tying
// PlatformRegion to the stack's AWS region (issue #35: the Platform's
// data kept in the area its client chose) and evaluates it as
// CloudFormation does before a create or an update, for each pair: us
// only in a US region, eu only in an EEA one (not London or Zurich),
// unless PlatformAWSRegions names the AWS region.
func TestPlatformRegionMatchesTheAWSRegion(t *testing.T) {
	var tpl struct {
		Rules map[string]struct {
			RuleCondition any
			Assertions    []struct {
				Assert            any
				AssertDescription string
			}
		}
	}
	if err := json.Unmarshal(transformedJSON(t), &tpl); err != nil {
		t.Fatal(err)
	}
	rule, ok := tpl.Rules["PlatformRegionMatchesTheAWSRegion"]
	if !ok || len(rule.Assertions) == 0 {
		t.Fatalf("no rule PlatformRegionMatchesTheAWSRegion: %s", js(tpl.Rules))
	}
	for _, a := range rule.Assertions {
		if d := a.AssertDescription; !strings.Contains(d, "PlatformRegion") || !strings.Contains(d, "PlatformAWSRegions") {
			t.Errorf("the assertion's description does not say what to do: %q", d)
		}
	}
	for _, tc := range []struct {
		platform, awsRegion string
		extra               []string
		ok                  bool
	}{
		{"us", "us-east-1", nil, true},
		{"us", "us-west-2", nil, true},
		{"us", "us-gov-west-1", nil, true},
		{"eu", "eu-west-1", nil, true},
		{"eu", "eu-central-1", nil, true},
		{"eu", "eu-north-1", nil, true},
		{"eu", "us-east-1", nil, false},
		{"us", "eu-west-1", nil, false},
		{"us", "ap-southeast-2", nil, false},
		{"eu", "ap-southeast-2", nil, false},
		{"eu", "eu-west-2", nil, false},    // London: not in the EEA
		{"eu", "eu-central-2", nil, false}, // Zurich: not in the EEA
		{"eu", "eu-west-2", []string{"eu-west-2"}, true},
		{"eu", "eu-central-2", []string{"eu-west-2"}, false},
		{"us", "ca-central-1", []string{"ca-central-1", "us-east-1"}, true},
	} {
		params := map[string]any{"PlatformRegion": tc.platform, "AWS::Region": tc.awsRegion,
			"PlatformAWSRegions": cmpOr(tc.extra, []string{""})}
		applies := true
		if rule.RuleCondition != nil {
			var err error
			if applies, err = evalRule(rule.RuleCondition, params); err != nil {
				t.Fatal(err)
			}
		}
		got := true
		for _, a := range rule.Assertions {
			ok, err := evalRule(a.Assert, params)
			if err != nil {
				t.Fatal(err)
			}
			got = got && (!applies || ok)
		}
		if got != tc.ok {
			t.Errorf("PlatformRegion %s in %s (PlatformAWSRegions %q): deploys %v, want %v", tc.platform, tc.awsRegion, tc.extra, got, tc.ok)
		}
	}
}

func cmpOr(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// evalRule evaluates a rule's condition or assertion (the rule functions
// the template uses: Fn::And, Fn::Or, Fn::Not, Fn::Equals, Fn::Contains,
// Ref to a parameter or AWS::Region) with params; any other function is
// an error, so a rule the evaluator cannot read fails the test.
func evalRule(v any, params map[string]any) (bool, error) {
	b, err := evalValue(v, params)
	if err != nil {
		return false, err
	}
	ok, isBool := b.(bool)
	if !isBool {
		return false, fmt.Errorf("rule: %s is not true or false", js(v))
	}
	return ok, nil
}

func evalValue(v any, params map[string]any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, err := evalValue(e, params)
			if err != nil {
				return nil, err
			}
			str, ok := s.(string)
			if !ok {
				return nil, fmt.Errorf("rule: a list of %s", js(s))
			}
			out = append(out, str)
		}
		return out, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("rule: %s", js(x))
		}
		for fn, arg := range x {
			args, _ := arg.([]any)
			switch fn {
			case "Ref":
				p, ok := params[arg.(string)]
				if !ok {
					return nil, fmt.Errorf("rule: Ref %v has no value here", arg)
				}
				return p, nil
			case "Fn::And", "Fn::Or":
				all := fn == "Fn::And"
				for _, a := range args {
					b, err := evalRule(a, params)
					if err != nil {
						return nil, err
					}
					if b != all {
						return !all, nil
					}
				}
				return all, nil
			case "Fn::Not":
				b, err := evalRule(args[0], params)
				return !b, err
			case "Fn::Equals", "Fn::Contains":
				if len(args) != 2 {
					return nil, fmt.Errorf("rule: %s takes two arguments: %s", fn, js(arg))
				}
				a, err := evalValue(args[0], params)
				if err != nil {
					return nil, err
				}
				b, err := evalValue(args[1], params)
				if err != nil {
					return nil, err
				}
				if fn == "Fn::Equals" {
					return a == b, nil
				}
				list, ok := a.([]string)
				s, isString := b.(string)
				if !ok || !isString {
					return nil, fmt.Errorf("rule: Fn::Contains of %s", js(arg))
				}
				return slices.Contains(list, s), nil
			}
			return nil, fmt.Errorf("rule: %s is not read here", fn)
		}
	}
	return nil, fmt.Errorf("rule: %s", js(v))
}
