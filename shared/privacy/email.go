package privacy

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// NormalizeEmail is the one place addresses are normalised: trimmed,
// lower-cased, and an internationalised domain written in its ASCII
// (punycode) form, the form SES sends to. Every comparison, every subject
// hash and every digest goes through it, so "zoe@Bücher.example" and
// "zoe@xn--bcher-kva.example" are one person. A domain that is not a valid
// IDN is left as it is, and ValidEmail refuses it.
func NormalizeEmail(s string) string {
	if strings.IndexFunc(s, hidesText) >= 0 {
		// Left for ValidEmail to refuse: trimming or IDNA mapping would
		// quietly drop a U+2028 or a zero-width space.
		return s
	}
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at < 0 || isASCII(s[at+1:]) {
		return s
	}
	domain, err := idna.Lookup.ToASCII(s[at+1:])
	if err != nil {
		return s
	}
	return s[:at+1] + domain
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ValidEmail reports whether s (already normalised) is a plain address
// local@domain that SES can deliver to and that hides nothing: ASCII only
// (an internationalised domain arrives here as punycode; a non-ASCII local
// part is refused, as SES cannot send to it), no display name, no comments,
// no control or format characters, no address literal ("a@[192.0.2.1]"),
// within the lengths SMTP allows, and a domain of valid labels with at
// least one dot.
func ValidEmail(s string) bool {
	if s == "" || len(s) > 254 || !isASCII(s) {
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
	if strings.ContainsAny(domain, "[]:") {
		return false // an address literal, not a domain
	}
	if _, err := idna.Lookup.ToUnicode(domain); err != nil {
		return false // not a valid (or a forged punycode) domain
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// checkEmail validates and normalises a required address field.
func checkEmail(errs FieldErrors, field, v string) string {
	n := NormalizeEmail(v)
	switch {
	case n == "":
		errs.Add(field, Fault(FieldRequired))
	case !ValidEmail(n):
		errs.Add(field, Fault(FieldInvalidEmail))
	}
	return n
}

// hidesText reports a rune that changes or hides how text reads without
// being seen: Unicode format characters (category Cf: zero-width spaces
// and joiners, bidirectional overrides such as U+202E, the byte-order
// mark), the line and paragraph separators U+2028 and U+2029, and every
// other default-ignorable code point.
func hidesText(r rune) bool {
	switch {
	case unicode.Is(unicode.Cf, r), r == '\u2028', r == '\u2029':
		return true
	case unicode.Is(unicode.Variation_Selector, r):
		// Variation selectors (U+FE00-FE0F, U+E0100-E01EF, the Mongolian
		// U+180B-180D and U+180F): one after a letter draws nothing, and a
		// run of them can carry a whole hidden message ("emoji smuggling").
		return true
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		// The rest of what Unicode says a renderer draws as nothing
		// (Default_Ignorable_Code_Point, DerivedCoreProperties.txt): the
		// combining grapheme joiner U+034F, the Khmer inherent vowels, the
		// Hangul fillers, and the unassigned tags U+E0080-E00FF (which map
		// onto ASCII as the tag characters do: "ASCII smuggling") and
		// U+E01F0-E0FFF. (Fourth review.)
		return true
	case r == '\u115F', r == '\u1160', r == '\u3164', r == '\uFFA0', r == '\u2800':
		// Fillers (Hangul, braille blank) that draw nothing: a name or a
		// message of them looks empty, or hides what follows.
		return true
	}
	return false
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
