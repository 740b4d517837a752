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

// Seventh hostile review, of the Platform (issue #35 items 1, 2 and 5:
// every OpenDSR identity type, sensitive data refused at the door, DSR API
// v3). The attacker is a registered controller with its own credentials,
// or a person who files a request with a controller that forwards it.
// Each test asserts what the project promises; a failure is the finding.

// r7Ident is one OpenDSR identity of a record or a v2 request.
func r7Ident(typ, format, value string) string {
	return `{"identity_type":"` + typ + `","identity_format":"` + format + `","identity_value":"` + value + `"}`
}

// r7Request creates a v2 request of c and returns its id.
func r7Request(t *testing.T, c *controller, typ string, identities ...string) string {
	t.Helper()
	id := uuid.NewString()
	body := `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"` + typ + `",` +
		`"submitted_time":"2026-11-28T10:00:00Z","subject_identities":[` + strings.Join(identities, ",") + `]}`
	if code, _, out := c.call("POST", "/opendsr/v2/requests", []byte(body)); code != 201 {
		t.Fatalf("create %s: %d %v", typ, code, out)
	}
	return id
}

// R7-1. The zeroed advertising id joins strangers. An IDFA is
// 00000000-0000-0000-0000-000000000000 for every iOS user who did not
// allow tracking (Apple, ASIdentifierManager.advertisingIdentifier: it
// "returns either a unique UUID, or all zeros"), and Google's advertising
// id is the same zeros when the user limited ad tracking
// (AdvertisingIdClient.Info.getId; android.adservices AdId.ZERO_OUT); an
// SDK hands it over as it gets it.
// NormalizeIdentity takes it as any UUID, so every record carrying it
// shares one lookup key: the access request of one person who is opted
// out returns the records of every other opted-out person (and an erasure
// would erase them all). Each record here carries its person's email and
// the zeroed IDFA, as a controller's SDK would send them.
func TestAbuseReview7ZeroAdvertisingIDJoinsStrangers(t *testing.T) {
	t.Parallel()
	const window = time.Second
	s, roots, _ := openDSRStack(t, window, nil)
	acme := s.issueController(t, "Acme", roots)
	u := localtest.Unique()
	const zero = "00000000-0000-0000-0000-000000000000"
	ann, bob := "ann-"+u+"@example.com", "bob-"+u+"@example.com"
	for _, r := range []struct{ id, email string }{{"ann", ann}, {"bob", bob}} {
		body := `{"identities":[` + r7Ident("email", "raw", r.email) + `,` + r7Ident("ios_advertising_id", "raw", zero) +
			`],"attributes":{"who":"` + r.id + `"}}`
		if code, _, out := acme.call("PUT", "/platform/v1/records/"+r.id, []byte(body)); code != 201 {
			t.Fatalf("put %s: %d %v", r.id, code, out)
		}
	}
	// Ann asks the controller for her data; it forwards her identities.
	id := r7Request(t, acme, "access", r7Ident("email", "raw", ann), r7Ident("ios_advertising_id", "raw", zero))
	time.Sleep(window)
	s.work(t)
	code, _, st := acme.call("GET", "/opendsr/v2/requests/"+id, nil)
	if code != 200 || st["request_status"] != "completed" || st["results_url"] == nil {
		t.Fatalf("status: %d %v", code, st)
	}
	code, _, res := acme.call("GET", strings.TrimPrefix(st["results_url"].(string), s.URL), nil)
	if code != 200 {
		t.Fatalf("results: %d %v", code, res)
	}
	var who []string
	for _, r := range res["records"].([]any) {
		who = append(who, r.(map[string]any)["attributes"].(map[string]any)["who"].(string))
	}
	if len(who) != 1 || who[0] != "ann" {
		t.Errorf("Ann's access results hold %v: another person's record joined by the zeroed IDFA, want [ann]", who)
	}
}

// R7-2. A duplicated attribute name smuggles prohibited data past the
// check. CheckSensitive decodes the attributes into a map (the last of
// two equal names wins), while the record stores the attributes' bytes as
// sent (json.Compact keeps both): the card number or password under the
// first name is never looked at, and is stored and answered back.
func TestAbuseReview7SensitiveDuplicateKey(t *testing.T) {
	t.Parallel()
	s, roots, _ := openDSRStack(t, time.Minute, nil)
	acme := s.issueController(t, "Acme", roots)
	email := "dup-" + localtest.Unique() + "@example.com"
	for i, attrs := range []string{
		`{"note":"paid with 4111 1111 1111 1111","note":"ok"}`,
		`{"login":{"password":"hunter2","password":""}}`,
	} {
		id := "dup-" + string(rune('a'+i))
		body := `{"identities":[` + r7Ident("email", "raw", email) + `],"attributes":` + attrs + `}`
		code, _, out := acme.call("PUT", "/platform/v1/records/"+id, []byte(body))
		if code != 422 {
			t.Errorf("%s: %d %v, want 422", attrs, code, out)
		}
		if code, _, _ := acme.call("GET", "/platform/v1/records/"+id, nil); code != 404 {
			t.Errorf("%s: the record is stored (%d)", attrs, code)
		}
	}
	// What the table holds: the refused values themselves.
	for _, it := range s.items(t, "RecordsTable") {
		if a := str(it, "attributes"); strings.Contains(a, "4111 1111 1111 1111") || strings.Contains(a, "hunter2") {
			t.Errorf("prohibited data stored in %s: %s", str(it, "pk"), a)
		}
	}
}

// R7-3. Prohibited data in forms the check does not read: a card number
// as a JSON number written with an exponent (the same number; the check
// looks at the literal's digits), as an attribute's name, or with other
// separators than one space or hyphen; a password under the names people
// and frameworks use beside "password" (pwd, pass, German and Spanish
// names: the Platform stores data of EEA clients) or with an invisible
// character in the name. Each is stored.
func TestAbuseReview7SensitiveDisguised(t *testing.T) {
	t.Parallel()
	s, roots, _ := openDSRStack(t, time.Minute, nil)
	acme := s.issueController(t, "Acme", roots)
	email := "disguised-" + localtest.Unique() + "@example.com"
	tests := []struct{ name, attrs string }{
		{"a card as a number with an exponent", `{"card":4.111111111111111e15}`},
		{"a card as an attribute name", `{"4111 1111 1111 1111":"visa"}`},
		{"a card with dots", `{"card":"4111.1111.1111.1111"}`},
		{"a card with no-break spaces", `{"card":"4111\u00a01111\u00a01111\u00a01111"}`},
		{"a card in full-width digits", `{"card":"\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"}`},
		{"a password as pwd", `{"login":{"pwd":"hunter2"}}`},
		{"a password as pass", `{"login":{"pass":"hunter2"}}`},
		{"a password in German", `{"login":{"passwort":"hunter2"}}`},
		{"a password in Spanish", `{"login":{"contrase\u00f1a":"hunter2"}}`},
		{"a password with a zero-width space in its name", `{"login":{"pass\u200bword":"hunter2"}}`},
	}
	for i, tc := range tests {
		id := "disguised-" + string(rune('a'+i))
		body := `{"identities":[` + r7Ident("email", "raw", email) + `],"attributes":` + tc.attrs + `}`
		if code, _, out := acme.call("PUT", "/platform/v1/records/"+id, []byte(body)); code != 422 {
			t.Errorf("%s: %d %v, want 422", tc.name, code, out)
		}
	}
}

// R7-4. A refusal repeats what it refuses. The 422 names the attribute's
// path, and a path is made of the attribute names the controller sent: a
// card number written as a name above the credential is sent back in the
// answer (which the controller's client logs as an error), though the
// refusal's promise is "never the value".
func TestAbuseReview7SensitiveRefusalEchoesValue(t *testing.T) {
	t.Parallel()
	s, roots, _ := openDSRStack(t, time.Minute, nil)
	acme := s.issueController(t, "Acme", roots)
	email := "echo-" + localtest.Unique() + "@example.com"
	body := `{"identities":[` + r7Ident("email", "raw", email) + `],"attributes":{"4111 1111 1111 1111":{"password":"hunter2"}}}`
	code, _, out := acme.call("PUT", "/platform/v1/records/echo", []byte(body))
	if code != 422 {
		t.Fatalf("%d %v, want 422", code, out)
	}
	if b := fmtJSON(out); strings.Contains(b, "4111 1111 1111 1111") {
		t.Errorf("the refusal repeats the card number: %s", b)
	}
}

// R7-5. Records written before issue #35 are out of reach of every
// request. They were kept with their email and its keys in subject_key,
// lookup_md5 and lookup_sha1 (found through the by-subject, by-md5 and
// by-sha1 indexes); the new code looks records up only through K# lookup
// items, which no upgrade step writes for them (template.yaml: "nothing
// reads them now"). An erasure of the person is reported completed while
// the record, and the raw email in it, stay.
func TestAbuseReview7LegacyRecordsSurviveErasure(t *testing.T) {
	t.Parallel()
	const window = time.Second
	s, roots, _ := openDSRStack(t, window, nil)
	acme := s.issueController(t, "Acme", roots)
	email := "legacy-" + localtest.Unique() + "@example.com"
	// The item as the code before b4992c2 wrote it (dynamo.Store.PutRecord
	// at 2ea1028): the record and its keys in one item, no lookups.
	key := func(format string) string {
		return acme.id + "#" + s.hasher.IdentityKey(acme.id, "email", format, privacy.EmailDigest(format, email))
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	_, err := s.DB().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(s.Tables["RecordsTable"]),
		Item: map[string]types.AttributeValue{"pk": sv("C#" + acme.id + "#old-1"), "sk": sv("RECORD"), "kind": sv("controller_record"),
			"controller_id": sv(acme.id), "record_id": sv("old-1"), "email": sv(email), "attributes": sv(`{"who":"old"}`),
			"subject_key": sv(key("sha256")), "lookup_md5": sv(key("md5")), "lookup_sha1": sv(key("sha1")),
			"updated_at": sv(now), "created_at": sv(now)}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, out := acme.call("GET", "/platform/v1/records/old-1", nil); code != 200 {
		t.Fatalf("the record of before the upgrade: %d %v", code, out)
	}
	// The erasure is in flight at the deploy: filed before it, as the old
	// code kept it (the person's sha256 key at the controller in subject,
	// no identity_keys, in the site's requests table).
	id := r7Request(t, acme, "erasure", r7Ident("email", "raw", email))
	reqKey := map[string]types.AttributeValue{"pk": sv("R#" + id), "sk": sv("REQUEST")}
	got, err := s.DB().GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.Tables["PlatformRequestsTable"]),
		Key: reqKey, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Fatalf("the request: %v %v", err, got)
	}
	got.Item["subject"] = sv(key("sha256"))
	delete(got.Item, "identity_keys")
	if _, err := s.DB().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(s.Tables["RequestsTable"]), Item: got.Item}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(s.Tables["PlatformRequestsTable"]), Key: reqKey}); err != nil {
		t.Fatal(err)
	}
	// The upgrade's step (docs/deploy.md), run twice: the second finds nothing.
	for i, want := range []string{`"records_upgraded":1,"requests_upgraded":1`, `"records_upgraded":0,"requests_upgraded":0`} {
		out, err := s.privacyctl(t, "platform", "upgrade-records")
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("upgrade-records (run %d): %v %s, want %s", i+1, err, out, want)
		}
	}
	time.Sleep(window)
	s.work(t)
	if code, _, st := acme.call("GET", "/opendsr/v2/requests/"+id, nil); code != 200 || st["request_status"] != "completed" {
		t.Fatalf("erasure: %d %v", code, st)
	}
	if code, _, out := acme.call("GET", "/platform/v1/records/old-1", nil); code != 404 {
		t.Errorf("after the person's erasure was reported completed, their record of before the upgrade is still served: %d %v", code, out)
	}
	for _, it := range s.items(t, "RecordsTable") {
		if str(it, "email") == email {
			t.Errorf("the erased person's raw email is still stored in %s", str(it, "pk"))
		}
	}
}
