package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
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

// Every identity type of the specification (issue #35 item 1): a record
// carries several identities of any type, kept only as keys; a request
// matches on any of them in any format; several identities of one record
// find it once; another controller's identical identities are untouched;
// bad identities get the specification's error body.
func TestPlatformIdentities(t *testing.T) {
	t.Parallel()
	const window = time.Second
	s, roots, _ := openDSRStack(t, window, nil)
	acme := s.issueController(t, "Acme", roots)
	other := s.issueController(t, "Other", roots)
	u := localtest.Unique()
	idfa := strings.ToUpper(uuid.NewString())
	aaid := uuid.NewString()
	email := "ids-" + u + "@example.com"
	cust1, cust2 := "cust-"+u, "cust2-"+u
	ident := func(typ, format, value string) string {
		return `{"identity_type":"` + typ + `","identity_format":"` + format + `","identity_value":"` + value + `"}`
	}
	put := func(c *controller, id, attrs string, ids ...string) {
		t.Helper()
		body := `{"identities":[` + strings.Join(ids, ",") + `],"attributes":` + attrs + `}`
		if code, _, out := c.call("PUT", "/platform/v1/records/"+id, []byte(body)); code != 201 {
			t.Fatalf("put %s: %d %v", id, code, out)
		}
	}
	// r1: an IDFA (as iOS writes it, upper case) and a customer id; r2:
	// the email among three identities. Other holds the same people
	// under the same identities.
	for _, c := range []*controller{acme, other} {
		put(c, "r1", `{"who":"`+c.id+`-r1"}`, ident("ios_advertising_id", "raw", idfa), ident("controller_customer_id", "raw", cust1))
		put(c, "r2", `{"who":"`+c.id+`-r2"}`, ident("email", "raw", email), ident("android_advertising_id", "raw", aaid),
			ident("controller_customer_id", "raw", cust2))
	}
	// Only keys are kept: no raw identity in any item of the records table.
	for _, it := range s.items(t, "RecordsTable") {
		b := fmtJSON(it)
		for _, v := range []string{idfa, strings.ToLower(idfa), aaid, email, cust1, cust2} {
			if strings.Contains(b, v) {
				t.Fatalf("a raw identity is stored: %s", b)
			}
		}
	}
	if code, _, out := acme.call("GET", "/platform/v1/records/r1", nil); code != 200 ||
		fmtJSON(out["identities"]) != `[{"identity_format":"raw","identity_type":"ios_advertising_id"},{"identity_format":"raw","identity_type":"controller_customer_id"}]` {
		t.Fatalf("get r1: %d %v", code, out)
	}

	// Discovery lists every type in every format, and nothing else.
	_, _, disc := acme.call("GET", "/opendsr/v2/discovery", nil)
	ids, _ := disc["supported_identities"].([]any)
	if len(ids) != 11*4 || !strings.Contains(fmtJSON(ids), `{"identity_format":"md5","identity_type":"roku_publisher_id"}`) {
		t.Fatalf("discovery: %v", disc)
	}

	request := func(c *controller, typ string, identities ...string) string {
		t.Helper()
		id := uuid.NewString()
		body := `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"` + typ + `",` +
			`"submitted_time":"2026-11-28T10:00:00Z","subject_identities":[` + strings.Join(identities, ",") + `]}`
		if code, _, out := c.call("POST", "/opendsr/v2/requests", []byte(body)); code != 201 {
			t.Fatalf("create %s: %d %v", typ, code, out)
		}
		return id
	}
	sha := func(format, v string) string { return privacy.IdentityDigest(format, v) }
	byIDFA := request(acme, "access", ident("ios_advertising_id", "raw", strings.ToLower(idfa)))
	// The IDFA by its sha1 and the customer id: two identities of r1, found once.
	byBoth := request(acme, "access", ident("ios_advertising_id", "sha1", sha("sha1", strings.ToLower(idfa))),
		ident("controller_customer_id", "raw", cust1))
	// The email by its sha256: r2 goes, with its three identities.
	erase := request(acme, "erasure", ident("email", "sha256", sha("sha256", email)))
	time.Sleep(window)
	s.work(t)
	results := func(id string) []string {
		t.Helper()
		code, _, st := acme.call("GET", "/opendsr/v2/requests/"+id, nil)
		if code != 200 || st["request_status"] != "completed" {
			t.Fatalf("status %s: %d %v", id, code, st)
		}
		if st["results_url"] == nil {
			return nil
		}
		code, _, res := acme.call("GET", strings.TrimPrefix(st["results_url"].(string), s.URL), nil)
		if code != 200 {
			t.Fatalf("results %s: %d %v", id, code, res)
		}
		var who []string
		for _, r := range res["records"].([]any) {
			who = append(who, r.(map[string]any)["attributes"].(map[string]any)["who"].(string))
		}
		return who
	}
	for _, id := range []string{byIDFA, byBoth} {
		if got := results(id); len(got) != 1 || got[0] != acme.id+"-r1" {
			t.Errorf("access %s: %v, want acme's r1 once", id, got)
		}
	}
	results(erase)
	for _, k := range []struct {
		c    *controller
		id   string
		code int
	}{{acme, "r1", 200}, {acme, "r2", 404}, {other, "r1", 200}, {other, "r2", 200}} {
		if code, _, _ := k.c.call("GET", "/platform/v1/records/"+k.id, nil); code != k.code {
			t.Errorf("after acme's erasure, %s of %s: %d, want %d", k.id, k.c.id, code, k.code)
		}
	}
	// No lookup of r2 left behind: its keys went with it.
	for _, it := range s.items(t, "RecordsTable") {
		if strings.HasPrefix(str(it, "pk"), "K#"+acme.id+"#") && str(it, "sk") == "C#"+acme.id+"#r2" {
			t.Errorf("a lookup of the erased record is left: %s", str(it, "pk"))
		}
	}

	// Bad identities: 400 with the specification's error body, naming
	// the field and never the value; the records API alike.
	huge := strings.Repeat("z", 300)
	for _, tc := range []struct{ name, ids, reason string }{
		{"an IDFA that is no UUID", ident("ios_advertising_id", "raw", "IDFA-"+u), "InvalidFormat"},
		{"an unknown type", ident("phone_number", "raw", "15550100"), "InvalidValue"},
		{"an unknown format", ident("email", "sha512", sha("sha256", email)), "InvalidValue"},
		{"a digest of the wrong length", ident("android_id", "sha256", sha("md5", "x")), "InvalidFormat"},
		{"an oversized customer id", ident("controller_customer_id", "raw", huge), "InvalidFormat"},
		{"a customer id with a bidi override", ident("controller_customer_id", "raw", `a\u202eb`+u), "InvalidFormat"},
	} {
		body := `{"regulation":"gdpr","subject_request_id":"` + uuid.NewString() + `","subject_request_type":"access",` +
			`"submitted_time":"2026-11-28T10:00:00Z","subject_identities":[` + tc.ids + `]}`
		code, _, out := acme.call("POST", "/opendsr/v2/requests", []byte(body))
		e, _ := out["error"].(map[string]any)
		if code != 400 || e == nil || e["code"] != 400.0 || !strings.Contains(fmtJSON(e["errors"]), `"reason":"`+tc.reason+`"`) ||
			strings.Contains(fmtJSON(out), "IDFA-"+u) || strings.Contains(fmtJSON(out), huge) {
			t.Errorf("request with %s: %d %v", tc.name, code, out)
		}
		code, _, out = acme.call("PUT", "/platform/v1/records/bad", []byte(`{"identities":[`+tc.ids+`],"attributes":{}}`))
		if code != 400 || out["error"] == nil {
			t.Errorf("record with %s: %d %v", tc.name, code, out)
		}
	}
}
