package template_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
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

// internetFacing lists the functions behind an HTTP API route.
func internetFacing(tpl *local.Template) []string {
	var out []string
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, e := range events {
			if em, _ := e.(map[string]any); em["Type"] == "HttpApi" {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// No function a stranger can reach may write a controller credential: each
// carries a Deny of every write action on the ops table under the
// credentials' key prefix (dynamodb:LeadingKeys), whatever its Allow
// statements grant.
func TestInternetFacingFunctionsCannotWriteCredentials(t *testing.T) {
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
			if covers && strings.Contains(string(res), "OpsTable") && slices.Contains(keys, dynamo.ControllerPrefix+"*") {
				denied = true
			}
		}
		if !denied {
			t.Errorf("%s: no Deny of writes to OpsTable under dynamodb:LeadingKeys %q*", fn, dynamo.ControllerPrefix)
		}
	}
}

// What holds keys or undelivered data outlives the stack.
func TestRetainedResources(t *testing.T) {
	tpl := read(t)
	for _, id := range []string{"AppSecret", "OpenDSRSigningKey", "FeedbackDeadLetterQueue", "SubjectsTable", "LedgerTable",
		"SuppressionTable", "RequestsTable", "OpsTable"} {
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
