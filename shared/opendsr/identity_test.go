package opendsr

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNormalizeIdentity(t *testing.T) {
	tests := []struct {
		typ, value, want string // want "": refused
	}{
		{"email", "  Ann@Example.COM ", "ann@example.com"},
		{"email", "ann at example", ""},
		{"ios_advertising_id", "6D92078A-8246-4BA4-AE5B-76104861E7DC", "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
		{"microsoft_advertising_id", "{6D92078A-8246-4BA4-AE5B-76104861E7DC}", "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
		{"android_advertising_id", "38400000-8cf0-11bd-b23e-10b96e40000d", "38400000-8cf0-11bd-b23e-10b96e40000d"},
		{"roku_publisher_id", "6d92078a82464ba4ae5b76104861e7dc", ""},
		{"fire_advertising_id", "not-a-uuid", ""},
		{"android_id", "9774D56D682E549C", "9774d56d682e549c"},
		{"android_id", "9774d56d682e549", ""},
		{"controller_customer_id", " Cust-42 ", "Cust-42"},
		{"controller_customer_id", "a\u202eb", ""}, // a bidi override
		{"controller_customer_id", "a\nb", ""},
		{"controller_customer_id", strings.Repeat("x", MaxIdentityValue+1), ""},
		{"controller_customer_id", "\xff", ""},
		{"phone", "123", ""},
	}
	for _, tc := range tests {
		got, ok := NormalizeIdentity(tc.typ, tc.value)
		if ok != (tc.want != "") || got != tc.want && ok {
			t.Errorf("NormalizeIdentity(%s, %q) = %q, %v; want %q", tc.typ, tc.value, got, ok, tc.want)
		}
	}
	if n := len(IdentityTypes()); n != 11 {
		t.Errorf("%d identity types, the specification has 11", n)
	}
}

func TestParseIdentities(t *testing.T) {
	base := `{"regulation":"gdpr","subject_request_id":"7a9e3b1c-1c2d-4e5f-8a9b-0c1d2e3f4a5b","subject_request_type":"erasure",` +
		`"submitted_time":"2026-11-28T10:00:00Z","subject_identities":`
	tests := []struct {
		name, ids, reason string // reason "": accepted
	}{
		{"an IDFA and a customer id", `[{"identity_type":"ios_advertising_id","identity_format":"raw","identity_value":"6D92078A-8246-4BA4-AE5B-76104861E7DC"},` +
			`{"identity_type":"controller_customer_id","identity_format":"raw","identity_value":"c-1"}]`, ""},
		{"an md5 android id", `[{"identity_type":"android_id","identity_format":"md5","identity_value":"` + strings.Repeat("a", 32) + `"}]`, ""},
		{"an IDFA that is no UUID", `[{"identity_type":"ios_advertising_id","identity_format":"raw","identity_value":"abc"}]`, "InvalidFormat"},
		{"an unknown type", `[{"identity_type":"phone","identity_format":"raw","identity_value":"1"}]`, "InvalidValue"},
		{"an unknown format", `[{"identity_type":"email","identity_format":"sha512","identity_value":"x"}]`, "InvalidValue"},
		{"an oversized value", `[{"identity_type":"controller_customer_id","identity_format":"raw","identity_value":"` + strings.Repeat("x", 300) + `"}]`, "InvalidFormat"},
		{"only the zeroed IDFA", `[{"identity_type":"ios_advertising_id","identity_format":"raw","identity_value":"00000000-0000-0000-0000-000000000000"}]`, "InvalidValue"},
		{"too many", "[" + strings.Repeat(`{"identity_type":"email","identity_format":"raw","identity_value":"a@b.c"},`, MaxIdentities) +
			`{"identity_type":"email","identity_format":"raw","identity_value":"a@b.c"}]`, "TooMany"},
	}
	for _, tc := range tests {
		_, err := Parse(V2, []byte(base+tc.ids+"}"), Policy{})
		e, _ := err.(*Error)
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.reason != "" && (e == nil || e.Code != 400 || e.Errors[0].Reason != tc.reason || strings.Contains(string(e.Body()), "xxxxxxxx")):
			t.Errorf("%s: %v, want 400 %s without the value", tc.name, err, tc.reason)
		}
	}
}

func TestParseV3(t *testing.T) {
	base := `{"regulation":"gdpr","subject_request_id":"7a9e3b1c-1c2d-4e5f-8a9b-0c1d2e3f4a5b","subject_request_type":"erasure",` +
		`"submitted_time":"2026-11-28T10:00:00Z","skip_waiting_period":true,`
	tests := []struct {
		name, rest, reason string // reason "": accepted
	}{
		{"as mParticle's docs show it", `"group_id":"g-1","subject_identities":{"email":{"value":"a@b.c","encoding":"raw"},` +
			`"ios_advertising_id":{"value":"6D92078A-8246-4BA4-AE5B-76104861E7DC","encoding":"raw"}}}`, ""},
		{"no group", `"subject_identities":{"android_id":{"value":"9774d56d682e549d","encoding":"raw"}}}`, ""},
		{"an odd group id", `"group_id":"<b>","subject_identities":{"email":{"value":"a@b.c","encoding":"raw"}}}`, "InvalidFormat"},
		{"an unknown encoding", `"subject_identities":{"email":{"value":"a@b.c","encoding":"base64"}}}`, "InvalidValue"},
		{"an unknown type", `"subject_identities":{"mpid":{"value":"1","encoding":"raw"}}}`, "InvalidValue"},
		{"identities as v2's array", `"subject_identities":[{"identity_type":"email","identity_format":"raw","identity_value":"a@b.c"}]}`, "MalformedJSON"},
	}
	for _, tc := range tests {
		r, err := Parse(V3, []byte(base+tc.rest), Policy{})
		e, _ := err.(*Error)
		switch {
		case tc.reason == "" && (err != nil || !r.SkipWaiting || len(r.Identities) == 0 || r.Identities[0].Format != "raw"):
			t.Errorf("%s: %+v, %v", tc.name, r, err)
		case tc.reason != "" && (e == nil || e.Errors[0].Reason != tc.reason):
			t.Errorf("%s: %v, want %s", tc.name, err, tc.reason)
		}
	}
	if r, _ := Parse(V3, []byte(base+tests[0].rest), Policy{}); r.GroupID != "g-1" || r.Identities[0].Type != "email" ||
		r.Identities[1].Type != "ios_advertising_id" {
		t.Errorf("v3 as the common form: %+v", r)
	}
}

func TestNamesNoOne(t *testing.T) {
	const zero = "00000000-0000-0000-0000-000000000000"
	md5z, sha1z, sha256z := md5.Sum([]byte(zero)), sha1.Sum([]byte(zero)), sha256.Sum256([]byte(zero))
	tests := []struct {
		id   Identity
		want bool
	}{
		{Identity{Type: "ios_advertising_id", Format: "raw", Value: zero}, true},
		{Identity{Type: "microsoft_advertising_id", Format: "raw", Value: "{" + zero + "}"}, true},
		{Identity{Type: "android_advertising_id", Format: "md5", Value: hex.EncodeToString(md5z[:])}, true},
		{Identity{Type: "roku_advertising_id", Format: "sha1", Value: hex.EncodeToString(sha1z[:])}, true},
		{Identity{Type: "ios_vendor_id", Format: "sha256", Value: hex.EncodeToString(sha256z[:])}, true},
		{Identity{Type: "android_id", Format: "raw", Value: "9774D56D682E549C"}, true},
		{Identity{Type: "android_id", Format: "raw", Value: "0000000000000000"}, true},
		{Identity{Type: "ios_advertising_id", Format: "raw", Value: "6D92078A-8246-4BA4-AE5B-76104861E7DC"}, false},
		{Identity{Type: "android_id", Format: "raw", Value: "9774d56d682e549d"}, false},
		{Identity{Type: "android_advertising_id", Format: "md5", Value: strings.Repeat("a", 32)}, false},
		{Identity{Type: "controller_customer_id", Format: "raw", Value: zero}, false}, // the controller's own id
		{Identity{Type: "email", Format: "raw", Value: "a@b.c"}, false},
	}
	for _, tc := range tests {
		if got := NamesNoOne(tc.id); got != tc.want {
			t.Errorf("NamesNoOne(%+v) = %v, want %v", tc.id, got, tc.want)
		}
	}
	// A request keeps its other identities.
	body := `{"regulation":"gdpr","subject_request_id":"7a9e3b1c-1c2d-4e5f-8a9b-0c1d2e3f4a5b","subject_request_type":"access",` +
		`"submitted_time":"2026-11-28T10:00:00Z","subject_identities":[` +
		`{"identity_type":"email","identity_format":"raw","identity_value":"a@b.c"},` +
		`{"identity_type":"ios_advertising_id","identity_format":"raw","identity_value":"` + zero + `"}]}`
	if r, err := Parse(V2, []byte(body), Policy{}); err != nil || len(r.Identities) != 1 || r.Identities[0].Type != "email" {
		t.Errorf("an email and the zeroed IDFA: %+v, %v; want the email alone", r.Identities, err)
	}
}
