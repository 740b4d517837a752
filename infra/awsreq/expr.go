package awsreq

import (
	"fmt"
	"strings"
)

// token is one lexeme of a DynamoDB expression.
type token struct {
	kind byte // 'n' a name (identifier or #placeholder), 'v' a :placeholder, 'o' anything else
	text string
}

func tokens(expr string) ([]token, error) {
	var out []token
	word := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':' || word(c):
			j := i + 1
			for j < len(expr) && word(expr[j]) {
				j++
			}
			kind := byte('n')
			if c == ':' {
				kind = 'v'
			}
			if (c == '#' || c == ':') && j == i+1 {
				return nil, fmt.Errorf("expression %q: a bare %c", expr, c)
			}
			out = append(out, token{kind, expr[i:j]})
			i = j
		case strings.ContainsRune(".[](),=<>+-", rune(c)):
			j := i + 1
			if (c == '<' || c == '>') && j < len(expr) && (expr[j] == '=' || expr[j] == '>') {
				j++
			}
			out = append(out, token{'o', expr[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("expression %q: unexpected %q", expr, c)
		}
	}
	return out, nil
}

// keywords of the expression grammars, which are not attribute names
// (the DynamoDB developer guide, "Using expressions in DynamoDB").
var keywords = map[string]bool{"SET": true, "REMOVE": true, "ADD": true, "DELETE": true, "AND": true, "OR": true,
	"NOT": true, "BETWEEN": true, "IN": true}

// topNames are the top-level attribute names expr uses: the first element
// of every document path (a.b[1].c is a), placeholders resolved through
// names; function names, keywords, values and list indexes are not names.
func topNames(expr string, names map[string]string) ([]string, error) {
	toks, err := tokens(expr)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, t := range toks {
		if t.kind != 'n' {
			continue
		}
		if i > 0 && toks[i-1].text == "." {
			continue // a nested element
		}
		if i+1 < len(toks) && toks[i+1].text == "(" {
			continue // a function
		}
		if t.text[0] >= '0' && t.text[0] <= '9' {
			continue // a list index
		}
		if t.text[0] != '#' && keywords[strings.ToUpper(t.text)] {
			continue
		}
		name := t.text
		if name[0] == '#' {
			n, ok := names[name]
			if !ok {
				return nil, fmt.Errorf("expression %q: %s is not in ExpressionAttributeNames", expr, name)
			}
			name = n
		}
		out = append(out, name)
	}
	return out, nil
}

// withNames appends to attrs the top-level names expr uses ("" adds none).
func withNames(attrs []string, expr string, names map[string]string) ([]string, error) {
	if expr == "" {
		return attrs, nil
	}
	more, err := topNames(expr, names)
	return append(attrs, more...), err
}

// partitionValue is the value a key condition requires of the partition
// key pk: the operand of its equality "pk = :v" (or ":v = pk").
func partitionValue(keyCond, pk string, names map[string]string, values item) (string, error) {
	toks, err := tokens(keyCond)
	if err != nil {
		return "", err
	}
	isPK := func(t token) bool {
		if t.kind != 'n' {
			return false
		}
		if t.text[0] == '#' {
			return names[t.text] == pk
		}
		return t.text == pk
	}
	for i := 1; i+1 < len(toks); i++ {
		if toks[i].text != "=" {
			continue
		}
		l, r := toks[i-1], toks[i+1]
		if isPK(r) {
			l, r = r, l
		}
		if isPK(l) && r.kind == 'v' && (i < 2 || toks[i-2].text != ".") {
			av, ok := values[r.text]
			if !ok {
				return "", fmt.Errorf("key condition %q: %s is not in ExpressionAttributeValues", keyCond, r.text)
			}
			return value(av), nil
		}
	}
	return "", fmt.Errorf("key condition %q: no equality on the partition key %s", keyCond, pk)
}
