package template_test

import (
	"encoding/json"
	"testing"
)

// R9L-3. The region rule's escape hatch opens every region to every area.
// PlatformAWSRegions is documented as the AWS regions "allowed for
// PlatformRegion beyond its own" (eu-west-2 for an eu stack once London is
// accepted for the EEA's data), but the rule's third branch,
// Fn::Contains [PlatformAWSRegions, AWS::Region], is not tied to
// PlatformRegion nor kept out of the other area: an eu stack deploys in
// us-east-1 (the EU clients' data kept in the United States, policy §7)
// when the parameter names us-east-1, a value a deployer copies from the
// us stack's parameters without an error, and a us stack in eu-west-1
// likewise. The rule's own point (the data stays in the area its client
// chose) is undone by a parameter meant to widen an area, not to swap it.
func TestReview9RegionRuleOverrideCannotSwapTheArea(t *testing.T) {
	var tpl struct {
		Rules map[string]struct {
			RuleCondition any
			Assertions    []struct{ Assert any }
		}
	}
	if err := json.Unmarshal(transformedJSON(t), &tpl); err != nil {
		t.Fatal(err)
	}
	rule, ok := tpl.Rules["PlatformRegionMatchesTheAWSRegion"]
	if !ok {
		t.Fatal("no rule PlatformRegionMatchesTheAWSRegion")
	}
	for _, tc := range []struct {
		platform, awsRegion string
		extra               []string
	}{
		{"eu", "us-east-1", []string{"us-east-1"}},              // the us stack's own region, named for an eu stack
		{"eu", "us-west-2", []string{"eu-west-2", "us-west-2"}}, // London accepted, and a US region slipped in
		{"us", "eu-west-1", []string{"eu-west-1"}},              // a us stack in Ireland
		{"us", "eu-central-1", []string{"ca-central-1", "eu-central-1"}},
	} {
		params := map[string]any{"PlatformRegion": tc.platform, "AWS::Region": tc.awsRegion, "PlatformAWSRegions": tc.extra}
		deploys := true
		for _, a := range rule.Assertions {
			ok, err := evalRule(a.Assert, params)
			if err != nil {
				t.Fatal(err)
			}
			deploys = deploys && ok
		}
		if deploys {
			t.Errorf("PlatformRegion %s deploys in %s, the other area's region, when PlatformAWSRegions names it (%q)",
				tc.platform, tc.awsRegion, tc.extra)
		}
	}
}
