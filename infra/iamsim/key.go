package iamsim

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

// What a set's conditions can tell apart. A decision depends on the
// principal, the action, the resource and the context keys its policies'
// conditions name, and on nothing else; and a string condition
// (StringEquals, StringLike and their negations, alone or under
// ForAllValues/ForAnyValue, with or without IfExists) sees a value only
// through which of the condition's values it equals and which of its
// patterns it matches. So two requests whose values match the same of the
// set's values, key by key, get the same answer: a subject hash "S#1f…"
// and "S#9a…" are one question to a set whose only LeadingKeys conditions
// are "POLICY", "CTRL#*" and "PROC#*". Keys under any other operator (or a
// value with a policy variable) are compared as they are.

// keyUse is how a set's conditions use one context key.
type keyUse struct {
	raw    bool     // compared as it is
	values []string // every value a string condition gives the key
}

// stringOps are the operators under which a value matters only through
// its matches (IAM's StringLike: '*' any run of characters, '?' one; both
// case-sensitive, as StringEquals).
var stringOps = map[string]bool{"stringequals": true, "stringnotequals": true, "stringlike": true, "stringnotlike": true}

func (s *Set) addConditions(cond any) {
	ops, _ := cond.(map[string]any)
	for op, keys := range ops {
		base := strings.ToLower(op)
		if _, after, ok := strings.Cut(base, ":"); ok { // ForAllValues:, ForAnyValue:
			base = after
		}
		base = strings.TrimSuffix(base, "ifexists")
		for k, v := range asMap(keys) {
			k = strings.ToLower(k)
			use := s.keys[k]
			if use == nil {
				use = &keyUse{}
				s.keys[k] = use
			}
			if base == "null" {
				continue // only whether the key is present, which key tells
			}
			for _, val := range asStrings(v) {
				if !stringOps[base] || strings.Contains(val, "${") {
					use.raw = true
				}
				if !slices.Contains(use.values, val) {
					use.values = append(use.values, val)
				}
			}
		}
	}
}

// key returns the cache key of a request for principal, and the request's
// context reduced to the keys the set's conditions name.
func (s *Set) key(principal string, req Request) (string, map[string]any) {
	var b strings.Builder
	b.WriteString(s.id)
	for _, part := range []string{principal, req.Action, req.Resource} {
		b.WriteByte(0)
		b.WriteString(part)
	}
	names := make([]string, 0, len(req.Context))
	for k := range req.Context {
		if s.keys[strings.ToLower(k)] != nil {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	used := make(map[string]any, len(names))
	for _, k := range names {
		v := req.Context[k]
		used[k] = v
		b.WriteByte(0)
		b.WriteString(strings.ToLower(k))
		b.WriteByte('=')
		b.WriteString(s.keys[strings.ToLower(k)].class(v))
	}
	return b.String(), used
}

// class is what of v the conditions on a key can tell apart: for each
// value, which of the conditions' values it equals and which it matches
// as a pattern; for a list, the set of those (ForAllValues and ForAnyValue
// ask only whether all or any member matches). A single value and a list
// are told apart.
func (u *keyUse) class(v any) string {
	if u.raw {
		b, _ := json.Marshal(v)
		return string(b)
	}
	one := func(x string) string {
		bits := make([]byte, 0, 2*len(u.values))
		for _, p := range u.values {
			bits = append(bits, bit(x == p), bit(like(p, x)))
		}
		return string(bits)
	}
	switch x := v.(type) {
	case string:
		return "s" + one(x)
	case []string:
		classes := make([]string, 0, len(x))
		for _, e := range x {
			if c := one(e); !slices.Contains(classes, c) {
				classes = append(classes, c)
			}
		}
		slices.Sort(classes)
		return "l" + strings.Join(classes, ",")
	}
	b, _ := json.Marshal(v)
	return "r" + string(b)
}

func bit(b bool) byte {
	if b {
		return '1'
	}
	return '0'
}

// like is IAM's StringLike: '*' matches any run of characters (none
// included), '?' any one character; nothing else is special.
func like(pattern, s string) bool {
	// path.Match treats '[' and '\\' as special and '*' as stopping at
	// '/': escape the first two, and match '/' as an ordinary character by
	// replacing it on both sides.
	p := likeEscaper.Replace(pattern)
	ok, err := path.Match(p, strings.ReplaceAll(s, "/", likeSlash))
	return err == nil && ok
}

// likeSlash stands for '/' on both sides of like's path.Match, and
// likeEscaper escapes a pattern for it (built once: a Replacer is safe for
// concurrent use, and building one per call was a tenth of the e2e test
// binary's CPU).
const likeSlash = "\x00"

var likeEscaper = strings.NewReplacer(`\`, `\\`, "[", `\[`, "/", likeSlash)

// shape is what the evaluator validates once (the action exists, the
// resource is of a type it takes, the context keys apply to it), which
// depends on neither the policies nor the resource's names: the action,
// the kind of resource and the names of the context keys. Every stack of
// a test binary has tables of its own; they share one validation.
func shape(req Request) string {
	names := make([]string, 0, len(req.Context))
	for k := range req.Context {
		names = append(names, k)
	}
	slices.Sort(names)
	return req.Action + "\x00" + resourceKind(req.Resource) + "\x00" + strings.Join(names, ",")
}

// resourceKind is an ARN without its names: the service, the type that
// begins its resource part (table, secret, function, identity...) and how
// many parts follow ("table/T/index/I" and "table/T" differ).
func resourceKind(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return arn // "*"
	}
	res := parts[5]
	typ, _, _ := strings.Cut(res, "/")
	typ, _, _ = strings.Cut(typ, ":")
	if typ == res {
		typ = "" // a name alone (an SQS queue)
	}
	return fmt.Sprintf("%s:%s:%d", parts[2], typ, strings.Count(res, "/")+strings.Count(res, ":"))
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
		return out
	case []string:
		return x
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}
