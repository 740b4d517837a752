package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

const recordAt, resultsAt = "/platform/v1/records/{record_id}", "/platform/v1/requests/{id}/results"

func recordBody(email, attrs string) string {
	return `{"identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + email + `"}],"attributes":` + attrs + `}`
}

func requestBody(id, typ, format, value string) string {
	return `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"` + typ + `","submitted_time":"2026-03-01T08:00:00Z",` +
		`"subject_identities":[{"identity_type":"email","identity_value":"` + value + `","identity_format":"` + format + `"}]}`
}

// Two controllers and the site hold data about the same person. Each
// controller's request acts on that controller's records and on nothing
// else: not the other controller's, not the site's inquiry, its ledger or
// its suppression list; results need the controller's credentials.
func TestControllerRequestsActOnTheirRecordsOnly(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	const ann, bob = "ann@example.com", "bob@example.com"
	as := func(who, method, route, id, body string) (int, map[string]any) {
		t.Helper()
		a.as = who
		code, _, out := a.call(method, route, id, body)
		return code, out
	}
	// The site's own inquiry from ann: the company is its controller.
	site := a.hasher.Subject(ann)
	inq := privacy.NewInquiry("inq-ann", site, privacy.ContactForm{Name: "Ann", Email: ann, Topic: "demo",
		Message: "SITE-INQUIRY-TEXT"}, "v", privacy.RequestMeta{ReceivedAt: a.t0.Add(-time.Hour)})
	if err := a.store.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	ledgerBefore, _ := a.store.LedgerEntries(ctx, site)

	// acme hands over two records about ann and one about bob; beta one
	// about ann under the same record id.
	for _, p := range []struct{ who, id, email, attrs string }{
		{"acme", "a-1", ann, `{"plan":"ACME-PRO"}`}, {"acme", "a-2", " ANN@example.com", `{"notes":"ACME-NOTE"}`},
		{"acme", "a-3", bob, `{}`}, {"beta", "a-1", ann, `{"plan":"BETA-BASIC"}`},
	} {
		if code, out := as(p.who, "PUT", recordAt, p.id, recordBody(p.email, p.attrs)); code != 201 || out["record_id"] != p.id ||
			out["controller_id"] != p.who {
			t.Fatalf("put %s %s: %d %v", p.who, p.id, code, out)
		}
	}
	code, first := as("acme", "GET", recordAt, "a-1", "")
	if code != 200 || fmt.Sprint(first["attributes"]) != "map[plan:ACME-PRO]" {
		t.Fatalf("get: %d %v", code, first)
	}
	a.t0 = a.t0.Add(time.Minute)
	if code, again := as("acme", "PUT", recordAt, "a-1", recordBody(ann, `{"plan":"ACME-PRO"}`)); code != 200 ||
		again["created_at"] != first["created_at"] || again["updated_at"] == first["updated_at"] {
		t.Fatalf("replace: %d %v, first %v", code, again, first)
	}
	if code, b := as("beta", "GET", recordAt, "a-1", ""); code != 200 || fmt.Sprint(b["attributes"]) != "map[plan:BETA-BASIC]" {
		t.Fatalf("beta's own record under the same id: %d %v", code, b)
	}
	if code, _ := as("", "GET", recordAt, "a-1", ""); code != 401 {
		t.Fatalf("a record without credentials: %d", code)
	}

	// Bad input: a clear 4xx, nothing stored.
	for _, tc := range []struct {
		name, id, body string
		code           int
	}{
		{"attributes not an object", "bad-1", recordBody(ann, `[1,2]`), 400},
		{"attributes too large", "bad-2", recordBody(ann, `{"x":"`+strings.Repeat("x", processor.MaxAttributes)+`"}`), 400},
		{"body too large", "bad-3", recordBody(ann, `{"x":"`+strings.Repeat("x", 2*processor.MaxAttributes)+`"}`), 413},
		{"more identities than a record holds", "bad-4", `{"identities":[` + strings.Repeat(`{"identity_type":"email","identity_format":"raw","identity_value":"`+ann+`"},`, processor.MaxRecordIdentities) +
			`{"identity_type":"email","identity_format":"raw","identity_value":"` + bob + `"}],"attributes":{}}`, 400},
		{"a digest of the wrong length", "bad-5", `{"identities":[{"identity_type":"email","identity_format":"sha256","identity_value":"` +
			privacy.EmailDigest("md5", ann) + `"}],"attributes":{}}`, 400},
		{"an IDFA that is no UUID", "bad-9", `{"identities":[{"identity_type":"ios_advertising_id","identity_format":"raw","identity_value":"not-a-uuid"}],"attributes":{}}`, 400},
		{"an unknown identity type", "bad-10", `{"identities":[{"identity_type":"phone","identity_format":"raw","identity_value":"1"}],"attributes":{}}`, 400},
		{"not an address", "bad-6", recordBody("ann at example", `{}`), 400},
		{"unknown field", "bad-7", `{"identities":[],"attributes":{},"extra":1}`, 400},
		{"bad record id", "a/b", recordBody(ann, `{}`), 400},
		{"not JSON", "bad-8", `{"identities":`, 400},
	} {
		if code, out := as("acme", "PUT", recordAt, tc.id, tc.body); code != tc.code || out["error"] == nil ||
			strings.Contains(fmt.Sprint(out), ann) {
			t.Errorf("%s: %d %v, want %d", tc.name, code, out, tc.code)
		}
		if _, err := a.store.GetRecord(ctx, "acme", tc.id); err == nil {
			t.Errorf("%s: stored", tc.name)
		}
	}

	w := &processor.Worker{Store: a.store, Lease: 10 * time.Minute, Now: func() time.Time { return a.t0 }, Log: a.svc.Log}
	fulfil := func(who, typ, format, value string) (string, map[string]any) {
		t.Helper()
		id := uuid.NewString()
		if code, out := as(who, "POST", requests, "", requestBody(id, typ, format, value)); code != 201 {
			t.Fatalf("create %s: %d %v", typ, code, out)
		}
		a.t0 = a.t0.Add(16 * time.Minute)
		if _, err := w.Run(ctx); err != nil {
			t.Fatal(err)
		}
		code, st := as(who, "GET", one, id, "")
		if code != 200 || st["request_status"] != "completed" {
			t.Fatalf("%s: %d %v", typ, code, st)
		}
		return id, st
	}

	// acme's access: ann's two acme records, by raw address and by md5.
	id, st := fulfil("acme", "access", "raw", ann)
	if st["results_count"] != 2.0 || st["results_url"] != "https://privacy.example.com/platform/v1/requests/"+id+"/results" {
		t.Fatalf("access: %v", st)
	}
	code, res := as("acme", "GET", resultsAt, id, "")
	got, _ := json.Marshal(res["records"])
	if code != 200 || !strings.Contains(string(got), "ACME-PRO") || !strings.Contains(string(got), "ACME-NOTE") ||
		strings.Contains(string(got), "BETA") || strings.Contains(string(got), "SITE-INQUIRY") || strings.Contains(string(got), bob) {
		t.Fatalf("results: %d %s", code, got)
	}
	if code, _ := as("beta", "GET", resultsAt, id, ""); code != 404 {
		t.Fatalf("another controller's results: %d", code)
	}
	if code, _ := as("", "GET", resultsAt, id, ""); code != 401 {
		t.Fatalf("results without credentials: %d", code)
	}
	if _, st := fulfil("acme", "access", "md5", privacy.EmailDigest("md5", ann)); st["results_count"] != 2.0 {
		t.Fatalf("access by md5: %v", st)
	}
	if _, st := fulfil("beta", "portability", "sha1", privacy.EmailDigest("sha1", ann)); st["results_count"] != 1.0 {
		t.Fatalf("beta's portability by sha1: %v", st)
	}

	// A person acme never handed over: completed, nothing found, nothing changed.
	for _, typ := range []string{"access", "erasure"} {
		if _, st := fulfil("acme", typ, "raw", "never@example.com"); st["results_count"] != 0.0 {
			t.Fatalf("%s for someone never handed over: %v", typ, st)
		}
	}
	if _, st := fulfil("acme", "erasure", "sha1", privacy.EmailDigest("sha1", "never@example.com")); st["results_count"] != 0.0 {
		t.Fatalf("erasure by an unmatched digest: %v", st)
	}

	// acme's erasure: exactly ann's acme records go.
	if _, st := fulfil("acme", "erasure", "sha256", privacy.EmailDigest("sha256", ann)); st["results_count"] != 2.0 {
		t.Fatalf("erasure: %v", st)
	}
	for _, k := range []struct {
		who, id string
		kept    bool
	}{{"acme", "a-1", false}, {"acme", "a-2", false}, {"acme", "a-3", true}, {"beta", "a-1", true}} {
		if _, err := a.store.GetRecord(ctx, k.who, k.id); (err == nil) != k.kept {
			t.Errorf("%s's %s after acme's erasure of ann: kept %v, want %v", k.who, k.id, err == nil, k.kept)
		}
	}
	// The site's data is untouched: the inquiry, its ledger, no suppression.
	items, _ := a.store.SubjectItems(ctx, site)
	if msg, _ := items[0]["message"].(*types.AttributeValueMemberS); len(items) != 1 || msg == nil || msg.Value != "SITE-INQUIRY-TEXT" {
		t.Fatalf("the site's data after a controller's erasure: %v", items)
	}
	if after, _ := a.store.LedgerEntries(ctx, site); len(after) != len(ledgerBefore) {
		t.Fatalf("site ledger: %d entries, before %d", len(after), len(ledgerBefore))
	}
	for _, sub := range []privacy.SubjectID{site, privacy.SubjectID(a.hasher.IdentityKeys("acme", "email", ann)[2])} {
		if sup, _ := a.store.Suppressions(ctx, sub); len(sup) != 0 {
			t.Fatalf("a suppression was written: %v", sup)
		}
		if l, _ := a.store.LedgerEntries(ctx, sub); sub != site && len(l) != 0 {
			t.Fatalf("ledger entries for a controller's requests: %d", len(l))
		}
	}
	// The earlier access's results now list nothing: they are read live.
	if code, res := as("acme", "GET", resultsAt, id, ""); code != 200 || len(res["records"].([]any)) != 0 {
		t.Fatalf("results after the erasure: %d %v", code, res)
	}
	// And after seven days they are gone.
	a.t0 = a.t0.Add(processor.ResultsValidity)
	if code, _ := as("acme", "GET", resultsAt, id, ""); code != 410 {
		t.Fatalf("results after 7 days: %d", code)
	}
	// DELETE of a record: once, then 404.
	for _, want := range []int{200, 404} {
		if code, _ := as("acme", "DELETE", recordAt, "a-3", ""); code != want {
			t.Fatalf("delete: %d, want %d", code, want)
		}
	}
}

func TestParseRecordKeepsNoPlaceholder(t *testing.T) {
	const zero = `{"identity_type":"ios_advertising_id","identity_format":"raw","identity_value":"00000000-0000-0000-0000-000000000000"}`
	email := `{"identity_type":"email","identity_format":"raw","identity_value":"ann@example.com"}`
	tests := []struct {
		name, ids string
		want      []string // identity types kept; nil: refused 400
	}{
		{"an email and the zeroed IDFA", email + "," + zero, []string{"email"}},
		{"the zeroed IDFA alone", zero, nil},
		{"the Android 2.2 ANDROID_ID alone", `{"identity_type":"android_id","identity_format":"raw","identity_value":"9774D56D682E549C"}`, nil},
		{"an email", email, []string{"email"}},
	}
	for _, tc := range tests {
		ids, _, err := processor.ParseRecord([]byte(`{"identities":[` + tc.ids + `],"attributes":{}}`))
		var got []string
		for _, id := range ids {
			got = append(got, id.Type)
		}
		var e *opendsr.Error
		if tc.want == nil && !(errors.As(err, &e) && e.Code == 400) || tc.want != nil && (err != nil || !slices.Equal(got, tc.want)) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
