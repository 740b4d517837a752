package privacy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// singleLine checks a one-line free-text field: trimmed, at most max runes,
// no CR, LF or other control characters, and no format characters or line
// separators that would hide or reorder text (hidesText). It returns the
// trimmed value.
func singleLine(errs FieldErrors, field, v string, required bool, max int) string {
	if !utf8.ValidString(v) {
		errs.Add(field, Fault(FieldInvalidUTF8))
		return ""
	}
	hidden := hidesTextOutsideEmoji(v, false) // before trimming, which drops U+2028
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required && !hidden:
		errs.Add(field, Fault(FieldRequired))
	case hidden || strings.IndexFunc(v, unicode.IsControl) >= 0:
		errs.Add(field, Fault(FieldNotSingleLine))
	case utf8.RuneCountInString(v) > max:
		errs.Add(field, TooLong(max))
	}
	return v
}

// multiLine checks a free-text field that may hold line breaks and tabs but
// no other control characters, and nothing that hides or reorders text
// (hidesText: a direction override can make the team read a message
// other than the one stored) but a zero-width joiner inside an emoji
// sequence. The value is kept exactly as given.
func multiLine(errs FieldErrors, field, v string, required bool, max int) string {
	if !utf8.ValidString(v) {
		errs.Add(field, Fault(FieldInvalidUTF8))
		return ""
	}
	switch {
	case strings.TrimSpace(v) == "" && required:
		errs.Add(field, Fault(FieldRequired))
	case strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}) >= 0:
		errs.Add(field, Fault(FieldControlCharacters))
	case hidesTextOutsideEmoji(v, true):
		errs.Add(field, Fault(FieldFormatCharacters))
	case utf8.RuneCountInString(v) > max:
		errs.Add(field, TooLong(max))
	}
	return v
}

// hidesTextOutsideEmoji reports a rune of v that hidesText, but for the
// presentation selectors an emoji is written with (U+FE0E, U+FE0F right
// after a symbol or a keycap's digit: ❤️, 1️⃣) and, with joins, a
// zero-width joiner (U+200D) between two parts of an emoji: people write
// 👨‍👩‍👧 and ❤️‍🔥 in messages, and a joiner between two symbols draws one
// emoji of them; it hides or reorders no letter. Next to a letter, or at
// either end, each is as invisible as any other.
func hidesTextOutsideEmoji(v string, joins bool) bool {
	rs := []rune(v)
	for i, r := range rs {
		if !hidesText(r) {
			continue
		}
		if (r == '\ufe0e' || r == '\ufe0f') && i > 0 && (unicode.Is(unicode.So, rs[i-1]) || strings.ContainsRune("0123456789#*", rs[i-1])) {
			continue
		}
		if joins && r == '\u200d' && i > 0 && i+1 < len(rs) && emojiPart(rs[i-1]) && unicode.Is(unicode.So, rs[i+1]) {
			continue
		}
		return true
	}
	return false
}

// CheckText reports whether v, free text the team writes for people to
// read (a denial's reason, a policy's summary), is fit to show: valid
// UTF-8, no control characters but line breaks and tabs, nothing that
// hides or reorders text, at most max characters. Its error is a
// *ValidationError naming field.
func CheckText(field, v string, max int) error {
	errs := FieldErrors{}
	multiLine(errs, field, v, false, max)
	return errs.Err()
}

// CheckLine reports whether v is one line of text fit to show and to put
// in an email's text (a processor's name, a reason that goes with a
// change): valid UTF-8, no CR, LF or other control characters, nothing
// that hides or reorders text, at most max characters once trimmed. Its
// error is a *ValidationError naming field.
func CheckLine(field, v string, max int) error {
	errs := FieldErrors{}
	singleLine(errs, field, v, false, max)
	return errs.Err()
}

// emojiPart is what an emoji sequence's joiner may follow: a symbol (the
// emoji), its presentation selector U+FE0F, or a skin-tone modifier.
func emojiPart(r rune) bool {
	return unicode.Is(unicode.So, r) || r == '\ufe0f' || (r >= 0x1F3FB && r <= 0x1F3FF)
}
