package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The seventh role-versus-code review (the Platform's changes of issue
// #35 items 1, 2, 5), through the local stack with IAM evaluated on every
// call: the rare branches the other Platform tests do not take, each
// under the function's own role (a refusal fails the test).

// TestIAMReview7PlatformRareBranches takes a record rewritten without one
// of its identities (the transaction's Delete of a stale lookup), a
// record deleted with its lookups, a v3 erasure sent twice with the same
// identities (409 from the by-subject index), the sensitive key names
// read, a grouped listing, a cancel of a v3 erasure in its waiting
// period, and the worker. It passed on the code under review: no call
// was refused.
func TestIAMReview7PlatformRareBranches(t *testing.T) {
	t.Parallel()
	s, roots, _ := openDSRStack(t, time.Second, nil)
	acme := s.issueController(t, "Acme", roots)
	u := localtest.Unique()
	email, idfa := "r7-"+u+"@example.com", uuid.NewString()
	ident := func(typ, value string) string {
		return `{"identity_type":"` + typ + `","identity_format":"raw","identity_value":"` + value + `"}`
	}
	put := func(id string, want int, ids ...string) {
		t.Helper()
		body := `{"identities":[` + strings.Join(ids, ",") + `],"attributes":{"plan":"r7"}}`
		if code, _, out := acme.call("PUT", "/platform/v1/records/"+id, []byte(body)); code != want {
			t.Fatalf("put %s: %d %v, want %d", id, code, out, want)
		}
	}
	lookups := func(id string) int {
		n := 0
		for _, it := range s.items(t, "RecordsTable") {
			if strings.HasPrefix(str(it, "pk"), "K#"+acme.id+"#") && str(it, "sk") == "C#"+acme.id+"#"+id {
				n++
			}
		}
		return n
	}
	put("r1", 201, ident("email", email), ident("ios_advertising_id", idfa))
	if n := lookups("r1"); n != 6 {
		t.Fatalf("r1 has %d lookups, want 6 (two raw identities, three digests each)", n)
	}
	put("r1", 200, ident("ios_advertising_id", idfa))
	if n := lookups("r1"); n != 3 {
		t.Errorf("r1 rewritten without its email has %d lookups, want 3", n)
	}
	put("r2", 201, ident("controller_customer_id", "c-"+u))
	if code, _, out := acme.call("DELETE", "/platform/v1/records/r2", nil); code != 200 {
		t.Fatalf("delete r2: %d %v", code, out)
	}
	if n := lookups("r2"); n != 0 {
		t.Errorf("r2 deleted, %d lookups left", n)
	}
	if code, _, out := acme.call("GET", "/platform/v1/sensitive_keys", nil); code != 200 {
		t.Errorf("sensitive keys: %d %v", code, out)
	}

	group := "r7-" + u
	v3 := func(id string) []byte {
		return []byte(`{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"erasure",` +
			`"submitted_time":"2026-12-07T10:00:00Z","skip_waiting_period":false,"group_id":"` + group + `",` +
			`"subject_identities":{"ios_advertising_id":{"value":"` + idfa + `","encoding":"raw"}},"api_version":"3.0"}`)
	}
	first := uuid.NewString()
	if code, _, out := acme.call("POST", "/opendsr/v3/requests", v3(first)); code != 201 {
		t.Fatalf("v3 erasure: %d %v", code, out)
	}
	if code, _, out := acme.call("POST", "/opendsr/v3/requests", v3(uuid.NewString())); code != 409 {
		t.Errorf("a second erasure of the same identities in flight: %d %v, want 409", code, out)
	}
	if l := acme.callList("/opendsr/v3/requests?group_id=" + group); len(l) != 1 {
		t.Errorf("the group lists %d requests, want 1", len(l))
	}
	if code, _, out := acme.call("DELETE", "/opendsr/v3/requests/"+first, nil); code != 202 {
		t.Errorf("cancel in the waiting period: %d %v", code, out)
	}
	s.work(t)
	if code, _, _ := acme.call("GET", "/platform/v1/records/r1", nil); code != 200 {
		t.Errorf("r1 after its cancelled erasure: %d, want 200", code)
	}
}

// Finding (noticed, not IAM), high: a record written before #35 is out of
// reach of every OpenDSR request. 2ea1028's PutRecord wrote one item per
// record keyed for the by-subject, by-md5 and by-sha1 indexes
// (subject_key, lookup_md5, lookup_sha1) and kept the raw address in
// "email"; the new code finds records only through "K#" lookup items,
// which such a record has none of, and no migration writes them. An
// erasure by that address completes ("completed", results 0) and the
// record, with the raw address, stays until the controller's retention
// (if it set one). The same holds for access (no results), for requests
// created before the deploy (no identity_keys: the worker finds nothing)
// and for reapply-erasures of them. This test writes an item as 2ea1028
// wrote it and asks for its erasure: it fails on the code under review.
func TestIAMReview7ErasureReachesARecordWrittenBeforeIssue35(t *testing.T) {
	t.Parallel()
	const window = time.Second
	s, roots, _ := openDSRStack(t, window, nil)
	acme := s.issueController(t, "Acme", roots)
	email := "r7-old-" + localtest.Unique() + "@example.com"
	now := time.Now().UTC().Format(time.RFC3339Nano)
	av := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	// The item as shared/dynamo.Store.PutRecord wrote it at 2ea1028, its
	// keys as privacy.Hasher.ControllerKeys made them (the upgrade carries
	// them over as the record's lookups).
	key := func(format string) string {
		return acme.id + "#" + s.hasher.IdentityKey(acme.id, "email", format, privacy.EmailDigest(format, email))
	}
	old := map[string]types.AttributeValue{"pk": av("C#" + acme.id + "#old-1"), "sk": av("RECORD"), "kind": av("controller_record"),
		"controller_id": av(acme.id), "record_id": av("old-1"), "email": av(email), "attributes": av(`{"plan":"before #35"}`),
		"subject_key": av(key("sha256")), "lookup_md5": av(key("md5")), "lookup_sha1": av(key("sha1")),
		"updated_at": av(now), "created_at": av(now)}
	if _, err := s.DB().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(s.Tables["RecordsTable"]), Item: old}); err != nil {
		t.Fatal(err)
	}
	// The upgrade's step (docs/deploy.md), under the maintenance policy.
	if out, err := s.privacyctl(t, "platform", "upgrade-records"); err != nil || !strings.Contains(out, `"records_upgraded":1`) {
		t.Fatalf("upgrade-records: %v %s", err, out)
	}
	id := uuid.NewString()
	body := `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"erasure",` +
		`"submitted_time":"2026-12-07T10:00:00Z","subject_identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + email + `"}]}`
	if code, _, out := acme.call("POST", "/opendsr/v2/requests", []byte(body)); code != 201 {
		t.Fatalf("erasure: %d %v", code, out)
	}
	time.Sleep(window)
	s.work(t)
	_, _, st := acme.call("GET", "/opendsr/v2/requests/"+id, nil)
	for _, it := range s.items(t, "RecordsTable") {
		if str(it, "pk") == "C#"+acme.id+"#old-1" {
			t.Errorf("the erasure of the record's address is %v (results_count %v), and the record written before #35 stays, "+
				"its raw address with it", st["request_status"], st["results_count"])
		}
	}
}
