package privacy

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// NormalizeEmail is the one place addresses are normalised: trimmed and
// lower-cased, as the API contract says. Every comparison and every subject
// hash goes through it.
func NormalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// ValidEmail reports whether s (already normalised) is a plain address
// local@domain: no display name, no comments, no control characters, within
// the lengths SMTP allows, and a domain with at least one dot.
func ValidEmail(s string) bool {
	if s == "" || len(s) > 254 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 || at == len(s)-1 {
		return false
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// checkEmail validates and normalises a required address field.
func checkEmail(errs FieldErrors, field, v string) string {
	n := NormalizeEmail(v)
	switch {
	case n == "":
		errs.Add(field, msgRequired)
	case !ValidEmail(n):
		errs.Add(field, msgEmail)
	}
	return n
}

// MaskEmail shows enough of an address for its owner to recognise it and
// little for anyone else: "j***@example.com".
func MaskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "***" + s[at:]
}
