package processor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
// on the lower-cased name with "_", "-", "." and spaces removed. "token"
// alone is not one: the Platform's own identifiers are pseudonymous
// tokens (policy §4); the words below name what authenticates.
var credentialWords = []string{"password", "passwd", "passphrase", "secret", "credential", "apikey", "accesstoken",
	"refreshtoken", "authtoken", "bearertoken", "sessiontoken", "privatekey", "clientsecret", "pincode", "cvv", "cvc"}

// ssnWords are key names that hold a social security number whatever its
// form (nine digits with or without dashes).
var ssnWords = []string{"ssn", "socialsecuritynumber", "socialsecurityno", "socialsecurity"}

func squash(name string) string {
	return strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(strings.ToLower(name))
}

// MaxSensitiveKeys bounds the key names a controller may add.
const MaxSensitiveKeys = 50

var keyName = regexp.MustCompile(`^[A-Za-z0-9_.\- ]{1,64}$`)

// cardRun is a run of 13 to 19 digits, single spaces or hyphens between
// them allowed (how card numbers are written); ssnDashed is the written
// form of an SSN.
var (
	cardRun   = regexp.MustCompile(`\d(?:[ -]?\d){12,18}`)
	ssnDashed = regexp.MustCompile(`(?:^|[^0-9-])(\d{3})-(\d{2})-(\d{4})(?:$|[^0-9-])`)
	nineDigit = regexp.MustCompile(`^(\d{3})-?(\d{2})-?(\d{4})$`)
)

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

// hasCard reports whether s holds a run of 13-19 digits (not part of a
// longer run of digits) that passes the Luhn check and is not all one
// digit (0000 0000 0000 0000 passes).
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

func hasSSN(s string) bool {
	for _, m := range ssnDashed.FindAllStringSubmatch(s, -1) {
		if validSSN(m[1], m[2], m[3]) {
			return true
		}
	}
	return false
}

// CheckSensitive returns the first prohibited value in attributes (a JSON
// object), visiting keys in sorted order so the answer is the same for the
// same record: a key named as a credential or SSN, or one of extra (the
// controller's own key names, compared as credential words are); a string
// or number that holds a Luhn-valid card number or a dashed SSN. ok is
// false when there is none.
func CheckSensitive(attributes json.RawMessage, extra []string) (Finding, bool) {
	dec := json.NewDecoder(bytes.NewReader(attributes))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Finding{}, false
	}
	marked := make([]string, 0, len(extra))
	for _, k := range extra {
		marked = append(marked, squash(k))
	}
	return walk("attributes", "", v, marked)
}

func walk(path, key string, v any, marked []string) (Finding, bool) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := path + "." + k
			if kind := keyKind(k, marked); kind != "" && !empty(x[k]) {
				return Finding{Path: p, Kind: kind}, true
			}
			if f, ok := walk(p, k, x[k], marked); ok {
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
		return valueKind(path, key, x.String())
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
	case map[string]any:
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
	case slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(k, w) }):
		return KindCredential
	case slices.Contains(marked, k):
		return KindKeyName
	}
	return ""
}

func valueKind(path, key, s string) (Finding, bool) {
	switch {
	case hasCard(s):
		return Finding{Path: path, Kind: KindCard}, true
	case hasSSN(s):
		return Finding{Path: path, Kind: KindSSN}, true
	}
	if slices.Contains(ssnWords, squash(key)) {
		if m := nineDigit.FindStringSubmatch(s); m != nil && validSSN(m[1], m[2], m[3]) {
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
