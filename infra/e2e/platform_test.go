package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// The Platform refuses at the door what its contract prohibits (policy
// §6): each kind is answered 422 naming the attribute's path, and nothing
// of the record is stored; a controller's own key names count as well,
// and only for that controller.
func TestPlatformSensitiveData(t *testing.T) {
	t.Parallel()
	s, roots, _ := openDSRStack(t, time.Minute, nil)
	acme := s.issueController(t, "Acme", roots)
	other := s.issueController(t, "Other", roots)
	email := "sensitive-" + localtest.Unique() + "@example.com"
	record := func(attrs string) []byte {
		return []byte(`{"identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + email + `"}],"attributes":` + attrs + `}`)
	}
	if code, _, out := acme.call("PUT", "/platform/v1/sensitive_keys", []byte(`{"key_names":["mother_maiden_name"]}`)); code != 200 {
		t.Fatalf("set key names: %d %v", code, out)
	}
	tests := []struct {
		name, attrs, path, kind string
	}{
		{"card number", `{"billing":{"cards":["4111 1111 1111 1111"]}}`, "attributes.billing.cards[0]", "payment card number"},
		{"SSN", `{"tax":{"id":"078-05-1120"}}`, "attributes.tax.id", "social security number"},
		{"password", `{"login":{"password":"hunter2"}}`, "attributes.login.password", "password"},
		{"credential", `{"aws_credentials":"AKIA..."}`, "attributes.aws_credentials", "password"},
		{"secret", `{"webhook_secret":"s3"}`, "attributes.webhook_secret", "password"},
		{"the controller's own key", `{"profile":{"mother_maiden_name":"Smith"}}`, "attributes.profile.mother_maiden_name", "marked sensitive"},
	}
	for i, tc := range tests {
		id := "sens-" + string(rune('a'+i))
		code, _, out := acme.call("PUT", "/platform/v1/records/"+id, record(tc.attrs))
		msg := fmtJSON(out)
		if code != 422 || !strings.Contains(msg, `"code":422`) || !strings.Contains(msg, tc.path+" holds") ||
			!strings.Contains(msg, tc.kind) || strings.Contains(msg, email) {
			t.Errorf("%s: %d %s", tc.name, code, msg)
		}
		if code, _, _ := acme.call("GET", "/platform/v1/records/"+id, nil); code != 404 {
			t.Errorf("%s: the refused record was stored (%d)", tc.name, code)
		}
	}
	// Nothing of the refused records in the table, and none of their values.
	for _, it := range s.items(t, "RecordsTable") {
		if strings.HasPrefix(str(it, "pk"), "C#"+acme.id+"#") {
			t.Errorf("a refused record was stored: %v", str(it, "pk"))
		}
	}
	// Another controller's key names are not acme's, and acme's are not
	// other's: other stores the same record.
	if code, _, out := other.call("PUT", "/platform/v1/records/r1", record(`{"profile":{"mother_maiden_name":"Smith"}}`)); code != 201 {
		t.Fatalf("another controller's record with acme's key name: %d %v", code, out)
	}
	// An ordinary record goes in.
	if code, _, out := acme.call("PUT", "/platform/v1/records/ok", record(`{"plan":"pro","order":"4111111111111112"}`)); code != 201 {
		t.Fatalf("an ordinary record: %d %v", code, out)
	}
	// Each refusal counted, per controller, as the alarm's metric.
	n := 0
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, `"SensitiveDataRefused":1`) && strings.Contains(l, `"controller_id":"`+acme.id+`"`) {
			n++
		}
		if strings.Contains(l, email) || strings.Contains(l, "hunter2") || strings.Contains(l, "4111 1111") {
			t.Errorf("personal or prohibited data in a log line: %s", l)
		}
	}
	if n != len(tests) {
		t.Errorf("%d refusals counted, want %d", n, len(tests))
	}
}
