package processor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What the Platform's contract prohibits a client from handing over
// (policy §6: no sensitive data), found in a record's attributes before
// anything is stored. The checks are pure and look only at the record's
// own bytes.

// Sensitive kinds, as a refusal names them.
const (
	KindCard       = "payment card number"
	KindSSN        = "US social security number"
	KindCredential = "password, credential or secret"
	KindKeyName    = "key name the controller marked sensitive"
)

// Finding is the first prohibited value in a record: where it is (a path
// such as attributes.billing.cards[1]) and what kind it is; never the
// value.
type Finding struct {
	Path, Kind string
}

// credentialWords are key-name fragments that mark a credential, matched
// on the name as squash leaves it. "token" alone is not one: the
// Platform's own identifiers are pseudonymous tokens (policy §4); the
// words below name what authenticates, in English and in the languages of
// the Platform's EEA clients (German, Spanish, French, Dutch, Portuguese,
// Polish, Swedish, Finnish, Norwegian, Danish, Hungarian).
var credentialWords = []string{"password", "passwd", "passphrase", "secret", "credential", "apikey", "accesstoken",
	"refreshtoken", "authtoken", "bearertoken", "sessiontoken", "privatekey", "clientsecret", "pincode", "cvv", "cvc",
	"passwort", "kennwort", "contraseña", "contrasena", "motdepasse", "wachtwoord", "senha", "hasło", "haslo",
	"lösenord", "losenord", "salasana", "passord", "adgangskode", "jelszó", "jelszo"}

// credentialNames are whole names of a credential, too short to be
// fragments ("pass" is in "passport", "pw" in many words).
var credentialNames = []string{"pwd", "pw", "pass", "pswd", "pword"}

// ssnWords are key names that hold a social security number whatever its
// form (nine digits with or without dashes); taxIDWords are names that
// may hold one (or an EIN, a VAT number: only an SSN's shape is refused).
var (
	ssnWords   = []string{"ssn", "socialsecuritynumber", "socialsecurityno", "socialsecuritynum", "socialsecurity"}
	taxIDWords = []string{"taxid", "tin", "itin", "taxpayerid", "taxidentificationnumber"}
)

// squash is a name as it is compared: lower-cased, without "_", "-",
// ".", spaces and dashes of any kind, and without the default-ignorable
// code points (a zero-width space hides "pass\u200bword" otherwise; Go's
// unicode tables: Cf, Other_Default_Ignorable_Code_Point,
// Variation_Selector, as privacy.CheckText refuses them).
func squash(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '.' || unicode.In(r, unicode.Zs, unicode.Pd, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point,
			unicode.Variation_Selector) {
			return -1
		}
		return unicode.ToLower(r)
	}, name)
}

// MaxSensitiveKeys bounds the key names a controller may add.
const MaxSensitiveKeys = 50

var keyName = regexp.MustCompile(`^[A-Za-z0-9_.\- ]{1,64}$`)

// cardRun is a run of 13 to 19 digits, single spaces or hyphens between
// them allowed (how card numbers are written, once plain has mapped the
// other separators to these); ssnSpaced is the written form of an SSN (one
// separator, the same twice, checked by hasSSN).
var (
	cardRun   = regexp.MustCompile(`\d(?:[ -]?\d){12,18}`)
	ssnSpaced = regexp.MustCompile(`(\d{3})([ -])(\d{2})([ -])(\d{4})`)
	nineDigit = regexp.MustCompile(`^(\d{3})[ -]?(\d{2})[ -]?(\d{4})$`)
)

// plain is s as the number checks read it: every decimal digit of any
// script as its ASCII digit (by its Unicode digit value: full-width
// "４" is 4), every space (U+00A0 and the other Zs) and the full stop as a
// space, every dash (Pd) as "-", and default-ignorable code points
// removed (a zero-width space between digits).
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < utf8.RuneSelf && (r == ' ' || r == '-' || isDigit(byte(r))):
			return r
		case unicode.IsDigit(r):
			return '0' + digitValue(r)
		case r == '.' || unicode.Is(unicode.Zs, r):
			return ' '
		case unicode.Is(unicode.Pd, r):
			return '-'
		case unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector):
			return -1
		}
		return r
	}, s)
}

// digitValue is the value of a decimal digit (Nd) of any script: the
// Unicode Standard encodes each script's digits as one run of ten, zero
// first (§4.6), and unicode.Nd's ranges are such runs put together.
func digitValue(r rune) rune {
	for _, g := range unicode.Nd.R16 {
		if rune(g.Lo) <= r && r <= rune(g.Hi) {
			return (r - rune(g.Lo)) % 10
		}
	}
	for _, g := range unicode.Nd.R32 {
		if rune(g.Lo) <= r && r <= rune(g.Hi) {
			return (r - rune(g.Lo)) % 10
		}
	}
	return 0
}

// numberDigits is a JSON number as the checks read it: its literal, or,
// when written with a fraction or an exponent (4.111111111111111e15), the
// integer it is, if it is one of at most 21 digits; "" for any other.
func numberDigits(n json.Number) string {
	x := n.String()
	if !strings.ContainsAny(x, ".eE") {
		return x
	}
	f, _, err := big.ParseFloat(x, 10, 128, big.ToNearestEven)
	if err != nil || !f.IsInt() || f.MantExp(nil) > 70 {
		return ""
	}
	return f.Text('f', 0)
}

// luhn reports whether the digits pass the Luhn check (ISO/IEC 7812-1),
// which every payment card number does.
func luhn(digits string) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// hasCard reports whether s (plain) holds a run of 13-19 digits (not part
// of a longer run of digits) that passes the Luhn check and is not all
// one digit (0000 0000 0000 0000 passes).
func hasCard(s string) bool {
	for _, loc := range cardRun.FindAllStringIndex(s, -1) {
		if loc[0] > 0 && isDigit(s[loc[0]-1]) || loc[1] < len(s) && isDigit(s[loc[1]]) {
			continue
		}
		d := strings.NewReplacer(" ", "", "-", "").Replace(s[loc[0]:loc[1]])
		if strings.Count(d, d[:1]) != len(d) && luhn(d) {
			return true
		}
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// validSSN reports whether the area, group and serial form an SSN as the
// SSA issues them: area not 000, 666 or 900-999; group not 00; serial
// not 0000.
func validSSN(area, group, serial string) bool {
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// hasSSN reports whether s (plain) holds an SSN written 078-05-1120 or
// 078 05 1120, not part of a longer run of digit groups (a phone number).
func hasSSN(s string) bool {
	for _, m := range ssnSpaced.FindAllStringSubmatchIndex(s, -1) {
		sep := s[m[4]:m[5]]
		if sep != s[m[8]:m[9]] || grouped(s, m[0], m[1]) {
			continue
		}
		if validSSN(s[m[2]:m[3]], s[m[6]:m[7]], s[m[10]:m[11]]) {
			return true
		}
	}
	return false
}

// grouped reports whether s[i:j] touches more digits: directly, or across
// one separator.
func grouped(s string, i, j int) bool {
	before := strings.TrimRight(s[:i], " -")
	after := strings.TrimLeft(s[j:], " -")
	return before != "" && i-len(before) <= 1 && isDigit(before[len(before)-1]) ||
		after != "" && len(s)-j-len(after) <= 1 && isDigit(after[0])
}

// KindDuplicateName is the refusal of an object naming one attribute
// twice: a decoder keeps one of the two values, and the other would be
// stored unchecked.
const KindDuplicateName = "name given twice in one object"

// CheckSensitive returns the first prohibited value in attributes (a JSON
// object), visiting each object's names in sorted order so the answer is
// the same for the same record: a name given twice in one object; a key
// named as a credential or SSN, or one of extra (the controller's own key
// names, compared as credential words are); a string, number or key name
// that holds a Luhn-valid card number or an SSN's written form. ok is
// false when there is none. A path names each attribute by its name,
// except a name that itself trips the check, which is named by its
// position in its object ("attributes.<name 0>"): a refusal never repeats
// what it refuses.
func CheckSensitive(attributes json.RawMessage, extra []string) (Finding, bool) {
	dec := json.NewDecoder(bytes.NewReader(attributes))
	dec.UseNumber()
	v, dup, err := decode(dec, "attributes")
	if dup != "" {
		return Finding{Path: dup, Kind: KindDuplicateName}, true
	}
	if err != nil {
		return Finding{}, false
	}
	marked := make([]string, 0, len(extra))
	for _, k := range extra {
		marked = append(marked, squash(k))
	}
	return walk("attributes", "", v, marked)
}

// member is one name and value of a JSON object, in the order sent.
type member struct {
	name  string
	value any
}

// decode reads one JSON value of dec: objects as []member, arrays as
// []any, numbers as json.Number. dup is the path of the first name given
// twice in one object.
func decode(dec *json.Decoder, path string) (v any, dup string, err error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, "", err
	}
	switch tok {
	case json.Delim('{'):
		var obj []member
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, "", err
			}
			name, _ := t.(string)
			p := step(path, name, len(obj))
			if seen[name] {
				return nil, p, nil
			}
			seen[name] = true
			v, dup, err := decode(dec, p)
			if dup != "" || err != nil {
				return nil, dup, err
			}
			obj = append(obj, member{name, v})
		}
		_, err = dec.Token()
		return obj, "", err
	case json.Delim('['):
		var arr []any
		for dec.More() {
			v, dup, err := decode(dec, fmt.Sprintf("%s[%d]", path, len(arr)))
			if dup != "" || err != nil {
				return nil, dup, err
			}
			arr = append(arr, v)
		}
		_, err = dec.Token()
		return arr, "", err
	}
	return tok, "", nil
}

// step is the path of the attribute name at position i of the object at
// path: by its name, or by its position when the name itself holds
// prohibited data.
func step(path, name string, i int) string {
	if _, bad := valueKind("", "", name); bad {
		return fmt.Sprintf("%s.<name %d>", path, i)
	}
	return path + "." + name
}

func walk(path, key string, v any, marked []string) (Finding, bool) {
	switch x := v.(type) {
	case []member:
		order := make([]int, len(x))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(x[a].name, x[b].name) })
		for _, i := range order {
			m := x[i]
			p := step(path, m.name, i)
			if f, ok := valueKind(p, "", m.name); ok {
				return f, true
			}
			if kind := keyKind(m.name, marked); kind != "" && !empty(m.value) {
				return Finding{Path: p, Kind: kind}, true
			}
			if f, ok := walk(p, m.name, m.value, marked); ok {
				return f, true
			}
		}
	case []any:
		for i, e := range x {
			if f, ok := walk(fmt.Sprintf("%s[%d]", path, i), key, e, marked); ok {
				return f, true
			}
		}
	case string:
		return valueKind(path, key, x)
	case json.Number:
		return valueKind(path, key, numberDigits(x))
	}
	return Finding{}, false
}

// empty reports whether a value holds nothing (null, "", {}, []): a form
// that sends "password": "" discloses nothing.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []member:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func keyKind(key string, marked []string) string {
	k := squash(key)
	switch {
	case slices.Contains(ssnWords, k):
		return KindSSN
	case slices.Contains(credentialNames, k) ||
		slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(k, w) }):
		return KindCredential
	case slices.Contains(marked, k):
		return KindKeyName
	}
	return ""
}

func valueKind(path, key, s string) (Finding, bool) {
	s = plain(s)
	switch {
	case hasCard(s):
		return Finding{Path: path, Kind: KindCard}, true
	case hasSSN(s):
		return Finding{Path: path, Kind: KindSSN}, true
	}
	if k := squash(key); slices.Contains(ssnWords, k) || slices.Contains(taxIDWords, k) {
		if m := nineDigit.FindStringSubmatch(strings.TrimSpace(s)); m != nil && validSSN(m[1], m[2], m[3]) {
			return Finding{Path: path, Kind: KindSSN}, true
		}
	}
	return Finding{}, false
}

// ParseSensitiveKeys validates a controller's own sensitive key names: at
// most MaxSensitiveKeys, each 1-64 letters, digits, spaces or _ . -;
// duplicates (as compared) dropped.
func ParseSensitiveKeys(names []string) ([]string, error) {
	if len(names) > MaxSensitiveKeys {
		return nil, invalid("key_names", "TooMany", "may list at most "+strconv.Itoa(MaxSensitiveKeys)+" names")
	}
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for i, n := range names {
		if !keyName.MatchString(n) || squash(n) == "" {
			return nil, invalid(fmt.Sprintf("key_names[%d]", i), "InvalidValue", "must be 1 to 64 letters, digits, spaces or _ . -")
		}
		if k := squash(n); !seen[k] {
			seen[k] = true
			out = append(out, n)
		}
	}
	return out, nil
}
