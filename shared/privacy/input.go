package privacy

import (
	"net/url"
	"strings"
)

// Input is a decoded request body before validation: JSON objects decode to
// their natural Go types, HTML form posts to strings (or []string for a field
// given more than once). Reading a field of the wrong type records a field
// error instead of failing the whole request, so a caller learns every
// mistake at once.
type Input map[string]any

// InputFromForm turns a form post into an Input.
func InputFromForm(v url.Values) Input {
	in := make(Input, len(v))
	for k, vals := range v {
		if len(vals) == 1 {
			in[k] = vals[0]
		} else {
			in[k] = append([]string(nil), vals...)
		}
	}
	return in
}

// String returns the field as a string; absent or null is "".
func (in Input) String(errs FieldErrors, name string) string {
	switch v := in[name].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		errs.Add(name, Fault(FieldNotString))
		return ""
	}
}

// Bool returns the field as a bool. Form posts send checkboxes as "on" or
// "true"; absent, null and "" are false.
func (in Input) Bool(errs FieldErrors, name string) bool {
	switch v := in[name].(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "false", "off", "0", "no":
			return false
		case "true", "on", "1", "yes":
			return true
		}
	}
	errs.Add(name, Fault(FieldNotBool))
	return false
}

// Strings returns a list field. A form post may repeat the field or send it
// once; a JSON body must send an array of strings.
func (in Input) Strings(errs FieldErrors, name string) []string {
	switch v := in[name].(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				errs.Add(name, Fault(FieldNotStringList))
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	errs.Add(name, Fault(FieldNotStringList))
	return nil
}

// Honeypot reports whether the hidden "website" field that only bots fill in
// holds anything. Such requests are answered as usual and dropped.
func (in Input) Honeypot() bool {
	switch v := in["website"].(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(v) != ""
	default:
		return true
	}
}
