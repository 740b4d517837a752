package opendsr

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The identity types of OpenDSR 2.0 §5.1 (the same in OpenGDPR 1.0 and
// mParticle's DSR API v3), and how each is normalised before it is
// digested or matched. The specification leaves normalisation and the
// digest's encoding open (../shared/reference/opendsr.md §3.3); ours is
// documented in docs/api.md ("Identities").
const (
	TypeCustomerID = "controller_customer_id"
	TypeEmail      = "email"
)

// uuidTypes are the identity types whose values are UUIDs, written by
// their platforms in either case and, for Microsoft's, sometimes in
// braces: the IDFA and IDFV (Apple), the Google and Amazon (Fire)
// advertising ids, Microsoft's advertising and publisher ids (GUIDs) and
// Roku's RIDA and publisher id.
var uuidTypes = []string{"ios_advertising_id", "ios_vendor_id", "android_advertising_id", "fire_advertising_id",
	"microsoft_advertising_id", "microsoft_publisher_id", "roku_advertising_id", "roku_publisher_id"}

// IdentityTypes returns every identity type of the specification, which
// this processor supports.
func IdentityTypes() []string {
	return append([]string{TypeCustomerID, TypeEmail, "android_id"}, uuidTypes...)
}

// Formats returns the identity formats of the specification (§5.2); every
// type is accepted in each: raw, or the digest of the normalised raw value
// as lowercase hex.
func Formats() []string { return slices.Clone(formats) }

// MaxIdentityValue bounds a raw identity value (bytes): longer is refused,
// whatever its type.
const MaxIdentityValue = 256

var (
	uuidAny   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	androidID = regexp.MustCompile(`^[0-9a-fA-F]{16}$`)
	// emailShape is a plain address (as privacy.ValidEmail takes it), here
	// only to refuse what is not one at the door.
	emailShape = regexp.MustCompile(`^[^\s@<>()",;:\\]+@[^\s@<>()",;:\\]+\.[^\s@<>()",;:\\]+$`)
)

// NormalizeIdentity returns the canonical form of a raw identity value of
// type typ, and false when the value has not the shape of its type:
//   - email: trimmed, lower-cased, a plain address;
//   - the advertising and vendor ids: a UUID, lower-cased, braces removed;
//   - android_id: the 64-bit ANDROID_ID as 16 hex digits, lower-cased;
//   - controller_customer_id: the controller's own id, trimmed, printable,
//     case kept (it is the controller's).
func NormalizeIdentity(typ, value string) (string, bool) {
	if len(value) > MaxIdentityValue || !utf8.ValidString(value) {
		return "", false
	}
	v := strings.TrimSpace(value)
	switch {
	case typ == TypeEmail:
		v = strings.ToLower(v)
		return v, emailShape.MatchString(v)
	case typ == "android_id":
		return strings.ToLower(v), androidID.MatchString(v)
	case slices.Contains(uuidTypes, typ):
		if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
			v = v[1 : len(v)-1]
		}
		return strings.ToLower(v), uuidAny.MatchString(v)
	case typ == TypeCustomerID:
		return v, v != "" && !strings.ContainsFunc(v, func(r rune) bool {
			return !unicode.IsPrint(r) || unicode.Is(unicode.Bidi_Control, r)
		})
	}
	return "", false
}

// CheckIdentity returns what is wrong with one identity (field names the
// place in the request), or nothing.
func CheckIdentity(field string, id Identity) []FieldError {
	var errs []FieldError
	add := func(f, reason, msg string) {
		errs = append(errs, FieldError{Domain: "Validation", Reason: reason, Message: f + " " + msg})
	}
	typeOK := slices.Contains(IdentityTypes(), id.Type)
	if !typeOK {
		add(field+".identity_type", "InvalidValue", "must be one of the specification's identity types (see discovery)")
	}
	if !slices.Contains(formats, id.Format) {
		add(field+".identity_format", "InvalidValue", "must be one of "+strings.Join(formats, ", "))
	}
	switch n, hashed := hexLen[id.Format]; {
	case id.Value == "":
		add(field+".identity_value", "Required", "field is required")
	case hashed && (len(id.Value) != n || !lowerHex.MatchString(id.Value)):
		add(field+".identity_value", "InvalidFormat", "must be the "+id.Format+" digest as lowercase hex digits")
	case id.Format == "raw" && typeOK:
		if _, ok := NormalizeIdentity(id.Type, id.Value); !ok {
			add(field+".identity_value", "InvalidFormat", "must be a valid "+id.Type+" (see docs: "+shapeOf(id.Type)+")")
		}
	}
	return errs
}

func shapeOf(typ string) string {
	switch {
	case typ == TypeEmail:
		return "a plain address"
	case typ == "android_id":
		return "16 hex digits"
	case slices.Contains(uuidTypes, typ):
		return "a UUID"
	}
	return "1 to 256 printable characters"
}

// placeholders are the identity values of type typ that name no one: what a platform
// hands every user who refused tracking, or every device of a broken
// build. Matched, they would join strangers' records into one person's
// access or erasure.
//   - The zeroed advertising id: Apple's advertisingIdentifier "returns
//     either a unique UUID, or all zeros" without tracking consent, and
//     Google's AdvertisingIdClient.Info.getId (android.adservices AdId
//     ZERO_OUT) is the same zeros when the user limited ad tracking.
//   - ANDROID_ID 9774d56d682e549c, the constant of many Android 2.2
//     devices (Android Developers Blog, "Identifying App Installations",
//     2011), and the all-zero value.
func placeholders(typ string) []string {
	switch {
	case typ == "android_id":
		return []string{"9774d56d682e549c", "0000000000000000"}
	case slices.Contains(uuidTypes, typ):
		return []string{"00000000-0000-0000-0000-000000000000"}
	}
	return nil
}

// NamesNoOne reports whether a well-formed identity (CheckIdentity found
// nothing wrong) is a placeholder of its type, raw or as its digest in
// any format.
func NamesNoOne(id Identity) bool {
	for _, p := range placeholders(id.Type) {
		if id.Format == "raw" {
			if v, _ := NormalizeIdentity(id.Type, id.Value); v == p {
				return true
			}
			continue
		}
		if d := privacy.IdentityDigest(id.Format, p); d != "" && id.Value == d {
			return true
		}
	}
	return false
}

// Identifying returns ids without those that name no one (NamesNoOne),
// in their order.
func Identifying(ids []Identity) []Identity {
	return slices.DeleteFunc(slices.Clone(ids), NamesNoOne)
}

// NoOne is the message of identities that all name no one.
const NoOne = "name no one: each is a placeholder its platform gives every user (the zeroed advertising id, ANDROID_ID 9774d56d682e549c); send an identity of the person"
