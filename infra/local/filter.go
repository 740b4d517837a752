package local

import (
	"encoding/json"
	"fmt"
	"strings"
)

// filter is one Lambda event-filtering pattern. It supports what DynamoDB
// stream filters use: nested keys, lists of literal values, exists, prefix,
// anything-but and numeric equality. A record matches a set of patterns
// when it matches any one of them.
type filter map[string]any

func parseFilters(v any) ([]filter, error) {
	var out []filter
	for _, f := range asList(asMap(v)["Filters"]) {
		var p filter
		if err := json.Unmarshal([]byte(asString(asMap(f)["Pattern"])), &p); err != nil {
			return nil, fmt.Errorf("filter pattern: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

func matchAny(filters []filter, record map[string]any) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if matchObject(f, record) {
			return true
		}
	}
	return false
}

func matchObject(pattern map[string]any, v any) bool {
	obj, _ := v.(map[string]any)
	for key, want := range pattern {
		got, present := obj[key]
		switch w := want.(type) {
		case map[string]any:
			if !present || !matchObject(w, got) {
				return false
			}
		case []any:
			if !matchValues(w, got, present) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func matchValues(rules []any, got any, present bool) bool {
	for _, rule := range rules {
		if m, ok := rule.(map[string]any); ok {
			if matchRule(m, got, present) {
				return true
			}
			continue
		}
		if present && equal(rule, got) {
			return true
		}
	}
	return false
}

func matchRule(rule map[string]any, got any, present bool) bool {
	for op, arg := range rule {
		switch op {
		case "exists":
			return present == (arg == true)
		case "prefix":
			s, ok := got.(string)
			return present && ok && strings.HasPrefix(s, asString(arg))
		case "anything-but":
			if !present {
				return false
			}
			list, ok := arg.([]any)
			if !ok {
				list = []any{arg}
			}
			for _, a := range list {
				if equal(a, got) {
					return false
				}
			}
			return true
		case "numeric":
			l := asList(arg)
			if len(l) == 2 && asString(l[0]) == "=" {
				return present && asString(got) == asString(l[1])
			}
			return false
		}
	}
	return false
}

func equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return asString(a) == asString(b)
}
