// Package local runs the stack that template.yaml defines on one machine
// with no Docker: tables in DynamoDB Local, every function's real bootstrap
// under the Lambda Runtime Interface Emulator, the HTTP API's routes served
// as payload-2.0 events, table streams replayed to their functions, and
// schedules fired. It reads the template, so a route, table or function
// added there is served here with no other change.
package local

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is the part of a SAM template the local stack needs, with
// intrinsic functions still in their long form ({"Ref": ...}).
type Template struct {
	Parameters map[string]map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	// Conditions are the template's named conditions (Fn::Equals and
	// friends), evaluated by a Resolver.
	Conditions map[string]any
}

// Resource is one template resource.
type Resource struct {
	Type                                string
	Properties                          map[string]any
	DeletionPolicy, UpdateReplacePolicy string
	// Condition names the condition the resource exists under ("": always).
	Condition string
}

// ReadTemplate parses a SAM template, turning short-form intrinsic tags
// (!Ref, !GetAtt, !Sub, ...) into their long form.
func ReadTemplate(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	v, err := decodeNode(&root)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: top level is not a mapping")
	}
	t := &Template{Parameters: map[string]map[string]any{}, Resources: map[string]Resource{}}
	for name, p := range asMap(doc["Parameters"]) {
		t.Parameters[name] = asMap(p)
	}
	t.Globals = asMap(doc["Globals"])
	t.Conditions = asMap(doc["Conditions"])
	for name, r := range asMap(doc["Resources"]) {
		rm := asMap(r)
		t.Resources[name] = Resource{Type: asString(rm["Type"]), Properties: asMap(rm["Properties"]),
			DeletionPolicy: asString(rm["DeletionPolicy"]), UpdateReplacePolicy: asString(rm["UpdateReplacePolicy"]),
			Condition: asString(rm["Condition"])}
	}
	return t, nil
}

// ResourcesOfType returns the logical ids of the resources of one type, sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

var shortTags = map[string]string{
	"!Ref": "Ref", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals",
	"!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap",
	"!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
	"!Condition": "Condition",
}

func decodeNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return decodeNode(n.Content[0])
	case yaml.AliasNode:
		return decodeNode(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := decodeNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := decodeNode(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		if isCustomTag(n.Tag) && shortTags[n.Tag] == "" {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		if isCustomTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, err
		}
	}
	long, ok := shortTags[n.Tag]
	if !ok {
		return v, nil
	}
	if long == "Fn::GetAtt" {
		if s, ok := v.(string); ok {
			id, attr, _ := strings.Cut(s, ".")
			v = []any{id, attr}
		}
	}
	return map[string]any{long: v}, nil
}

func isCustomTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	default:
		return fmt.Sprint(s)
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
