package local

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Resolver evaluates intrinsic functions against the local stack: parameters
// from their defaults or overrides, tables to their local names and ARNs,
// pseudo parameters to fixed local values.
type Resolver struct {
	Params   map[string]any    // parameter values after overrides
	Refs     map[string]string // logical id -> what Ref returns
	Attrs    map[string]string // "LogicalId.Attr" -> what GetAtt returns
	Pseudo   map[string]string // AWS::Region and friends
	Template *Template
}

// NewResolver prepares parameter values from defaults and overrides.
func NewResolver(t *Template, overrides map[string]string, region string) (*Resolver, error) {
	r := &Resolver{Params: map[string]any{}, Refs: map[string]string{}, Attrs: map[string]string{}, Template: t,
		Pseudo: map[string]string{
			"AWS::Region": region, "AWS::AccountId": "000000000000", "AWS::Partition": "aws",
			"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "local",
		}}
	for name, p := range t.Parameters {
		v, ok := overrides[name]
		if !ok {
			if p["Default"] == nil {
				return nil, fmt.Errorf("parameter %s has no default and no override", name)
			}
			v = asString(p["Default"])
		}
		if strings.Contains(asString(p["Type"]), "List") {
			parts := strings.Split(v, ",")
			l := make([]any, len(parts))
			for i, s := range parts {
				l[i] = strings.TrimSpace(s)
			}
			r.Params[name] = l
		} else {
			r.Params[name] = v
		}
	}
	for name := range overrides {
		if _, ok := t.Parameters[name]; !ok {
			return nil, fmt.Errorf("override of unknown parameter %s", name)
		}
	}
	return r, nil
}

// noValue is what Ref AWS::NoValue resolves to: the property or list
// element holding it is removed, as CloudFormation does.
type noValue struct{}

// Resolve evaluates every intrinsic function inside v.
func (r *Resolver) Resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			rv, err := r.Resolve(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, gone := rv.(noValue); !gone {
				out[k] = rv
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			rv, err := r.Resolve(e)
			if err != nil {
				return nil, err
			}
			if _, gone := rv.(noValue); !gone {
				out = append(out, rv)
			}
		}
		return out, nil
	}
	return v, nil
}

// Condition evaluates a named condition of the template.
func (r *Resolver) Condition(name string) (bool, error) {
	c, ok := r.Template.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	return r.cond(c)
}

// Exists reports whether a resource exists under its Condition.
func (r *Resolver) Exists(id string) (bool, error) {
	res, ok := r.Template.Resources[id]
	if !ok || res.Condition == "" {
		return ok, nil
	}
	return r.Condition(res.Condition)
}

// cond evaluates a condition expression: Fn::Equals, Fn::Not, Fn::And,
// Fn::Or, or {"Condition": name}.
func (r *Resolver) cond(v any) (bool, error) {
	m := asMap(v)
	if len(m) != 1 {
		return false, fmt.Errorf("a condition is one of Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition")
	}
	for k, arg := range m {
		switch k {
		case "Condition":
			return r.Condition(asString(arg))
		case "Fn::Equals":
			l := asList(arg)
			if len(l) != 2 {
				return false, fmt.Errorf("Fn::Equals needs two values")
			}
			a, err := r.Resolve(l[0])
			if err != nil {
				return false, err
			}
			b, err := r.Resolve(l[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not":
			l := asList(arg)
			if len(l) != 1 {
				return false, fmt.Errorf("Fn::Not needs one condition")
			}
			c, err := r.cond(l[0])
			return !c, err
		case "Fn::And", "Fn::Or":
			and := k == "Fn::And"
			for _, e := range asList(arg) {
				c, err := r.cond(e)
				if err != nil {
					return false, err
				}
				if c != and {
					return c, nil
				}
			}
			return and, nil
		}
		return false, fmt.Errorf("%s is not a condition function", k)
	}
	return false, nil
}

func (r *Resolver) ref(name string) (any, error) {
	if v, ok := r.Params[name]; ok {
		return v, nil
	}
	if v, ok := r.Pseudo[name]; ok {
		return v, nil
	}
	if v, ok := r.Refs[name]; ok {
		return v, nil
	}
	if res, ok := r.Template.Resources[name]; ok {
		if res.Type == "AWS::SNS::Topic" {
			// Ref of a topic is its ARN, as in AWS (the feedback function
			// checks messages against it).
			return fmt.Sprintf("arn:aws:sns:%s:%s:%s", r.Pseudo["AWS::Region"], r.Pseudo["AWS::AccountId"], name), nil
		}
		return name, nil // as sam local does for resources it does not run
	}
	return nil, fmt.Errorf("ref to unknown %s", name)
}

func (r *Resolver) getAtt(id, attr string) (string, error) {
	if v, ok := r.Attrs[id+"."+attr]; ok {
		return v, nil
	}
	res, ok := r.Template.Resources[id]
	if !ok {
		return "", fmt.Errorf("GetAtt of unknown resource %s", id)
	}
	// Anything the local stack does not create gets a well-formed stand-in.
	return fmt.Sprintf("arn:aws:local:%s:000000000000:%s/%s/%s", r.Pseudo["AWS::Region"],
		strings.ReplaceAll(res.Type, "::", "-"), id, attr), nil
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func (r *Resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		if asString(arg) == "AWS::NoValue" {
			return noValue{}, nil
		}
		return r.ref(asString(arg))
	case "Fn::If":
		l := asList(arg)
		if len(l) != 3 {
			return nil, fmt.Errorf("intrinsic If needs [condition, then, else]")
		}
		c, err := r.Condition(asString(l[0]))
		if err != nil {
			return nil, err
		}
		if c {
			return r.Resolve(l[1])
		}
		return r.Resolve(l[2])
	case "Fn::GetAtt":
		l := asList(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("intrinsic GetAtt needs [resource, attribute]")
		}
		return r.getAtt(asString(l[0]), asString(l[1]))
	case "Fn::Sub":
		tmpl, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("intrinsic Sub needs a string or [string, map]")
			}
			tmpl = asString(a[0])
			for k, v := range asMap(a[1]) {
				rv, err := r.Resolve(v)
				if err != nil {
					return nil, err
				}
				vars[k] = rv
			}
		}
		var firstErr error
		out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := vars[name]; ok {
				return asString(v)
			}
			var v any
			var err error
			if id, attr, ok := strings.Cut(name, "."); ok {
				v, err = r.getAtt(id, attr)
			} else {
				v, err = r.ref(name)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return asString(v)
		})
		return strings.ReplaceAll(out, "${!", "${"), firstErr
	case "Fn::Join":
		l := asList(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("intrinsic Join needs [delimiter, list]")
		}
		items, err := r.Resolve(l[1])
		if err != nil {
			return nil, err
		}
		parts := []string{}
		for _, it := range asList(items) {
			parts = append(parts, asString(it))
		}
		return strings.Join(parts, asString(l[0])), nil
	case "Fn::Split":
		l := asList(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("intrinsic Split needs [delimiter, string]")
		}
		s, err := r.Resolve(l[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(asString(s), asString(l[0])) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		l := asList(arg)
		if len(l) != 2 {
			return nil, fmt.Errorf("intrinsic Select needs [index, list]")
		}
		i, err := strconv.Atoi(asString(l[0]))
		if err != nil {
			return nil, fmt.Errorf("intrinsic Select index: %w", err)
		}
		items, err := r.Resolve(l[1])
		if err != nil {
			return nil, err
		}
		list := asList(items)
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("intrinsic Select index %d out of range", i)
		}
		return list[i], nil
	}
	return nil, fmt.Errorf("intrinsic %s is not supported by the local stack", fn)
}
