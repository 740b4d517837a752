package rights_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/dynamo/dynamotest"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

type fixture struct {
	store  *dynamo.Store
	h      *rights.Handlers
	desk   *rights.Desk
	clock  *clock
	tokens *token.Signer
	rt     *httpapi.Router
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	svc := localtest.Need(t)
	return newFixtureOn(t, svc, localtest.DynamoDB(svc))
}

// newFixtureOn is newFixture whose store calls DynamoDB through db (a
// test that holds calls at chosen points gives its own).
func newFixtureOn(t *testing.T, svc localtest.Services, db *dynamodb.Client) *fixture {
	t.Helper()
	n := localtest.Tables(t, svc)
	store := dynamo.New(db, dynamo.Tables{
		Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"], Suppression: n["SuppressionTable"],
		Requests: n["RequestsTable"], Ops: n["OpsTable"],
	})
	hasher, err := privacy.NewHasher([]byte("pepper-0123456789-0123456789-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.New([]byte("token-key-0123456789-0123456789-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	c := &clock{t: time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC)}
	f := &rights.Fulfiller{Store: store, Policy: privacy.FixedPolicy("v1"), Log: log}
	h := &rights.Handlers{Store: store, Fulfiller: f, Hasher: hasher, Tokens: tokens,
		Now: c.Now, NewID: uuid.NewString, Log: log, BaseURL: "https://api.example", ExcessPerMonth: 3}
	rt := httpapi.NewRouter(log, httpapi.Site{}, nil)
	h.Routes(rt, nil, "")
	return &fixture{store: store, clock: c, tokens: tokens, h: h, rt: rt,
		desk: &rights.Desk{Store: store, Fulfiller: f, Now: c.Now, NewID: uuid.NewString, By: "arn:aws:iam::1:user/dpo"}}
}

// serve sends ev to route through the handlers' routes, as API Gateway
// does; an error's answer comes back as an *httpapi.Error of its status
// and code.
func (f *fixture) serve(route string, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ev.RouteKey = route
	resp, err := apigw.Handler(f.rt.Serve)(context.Background(), ev)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal([]byte(resp.Body), &body)
	return resp, &httpapi.Error{Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message}
}

// file files a request through the handler and returns its id.
func (f *fixture) file(t *testing.T, body string) string {
	t.Helper()
	resp, err := f.serve("POST /v1/rights-requests", events.APIGatewayV2HTTPRequest{Body: body, Headers: map[string]string{"content-type": "application/json"}})
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("file: %v %+v", err, resp)
	}
	var out struct{ ID string }
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatal(err)
	}
	f.recordReceived(t, out.ID)
	return out.ID
}

// recordReceived writes a filed request's request_received entry as the
// mailer writes it from the request's stream record (none for a filing
// that stored nothing: a join, a decoy).
func (f *fixture) recordReceived(t *testing.T, id string) {
	t.Helper()
	r, err := f.store.Request(context.Background(), id)
	if errors.Is(err, privacy.ErrNotFound) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.ReceivedFromStream() {
		if err := f.store.RecordEntry(context.Background(), privacy.RequestReceived(r, f.h.Hasher), f.clock.t); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) request(t *testing.T, id string) privacy.RightsRequest {
	t.Helper()
	r, err := f.store.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verify opens the request's current verification link and presses its button.
func (f *fixture) verify(t *testing.T, id string) privacy.Status {
	t.Helper()
	r := f.request(t, id)
	tok, err := f.tokens.Sign(token.Claims{Purpose: token.VerifyRequest, Subject: r.Subject,
		Ref: id + ":" + r.VerifyNonce, Expires: f.clock.t.Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.serve("POST /v1/rights-requests/{id}/verify", events.APIGatewayV2HTTPRequest{PathParameters: map[string]string{"id": id},
		QueryStringParameters: map[string]string{"token": tok}, Headers: map[string]string{}})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var out struct{ Status privacy.Status }
	_ = json.Unmarshal([]byte(resp.Body), &out)
	return out.Status
}

// requests lists the stored requests of an address.
func (f *fixture) requests(t *testing.T, email string) []privacy.RightsRequest {
	t.Helper()
	rs, err := f.store.SubjectRequests(context.Background(), f.h.Hasher.Subject(email), f.clock.t.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestResendVerificationHasACooldownAndKeepsOneRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := `{"email":"resend@example.com","type":"access"}`
	id := f.file(t, body)
	first := f.request(t, id)
	f.clock.t = f.clock.t.Add(5 * time.Minute)
	if again := f.file(t, body); again == id {
		t.Fatal("filing again answered with the open request's id")
	}
	if r := f.request(t, id); r.VerifyNonce != first.VerifyNonce || r.MailDue != first.MailDue {
		t.Fatal("within the cooldown no new link may go out")
	}
	f.clock.t = f.clock.t.Add(6 * time.Minute)
	if again := f.file(t, `{"email":" Resend@Example.com","type":"access"}`); again == id {
		t.Fatal("filing again answered with the open request's id")
	}
	if n := len(f.requests(t, "resend@example.com")); n != 1 {
		t.Fatalf("%d requests stored, want the one", n)
	}
	second := f.request(t, id)
	if second.VerifyNonce == first.VerifyNonce || second.MailDue != privacy.Due(privacy.MailReceived, second.VerifyNonce) ||
		second.DueAt != first.DueAt || second.ReceivedAt != first.ReceivedAt {
		t.Fatalf("after the cooldown a fresh link is due on the same clock: %+v", second)
	}
	// The older link no longer works; the newer does.
	tok, _ := f.tokens.Sign(token.Claims{Purpose: token.VerifyRequest, Subject: privacy.SubjectID(first.Subject),
		Ref: id + ":" + first.VerifyNonce, Expires: f.clock.t.Add(time.Hour)})
	if _, err := f.serve("POST /v1/rights-requests/{id}/verify", events.APIGatewayV2HTTPRequest{PathParameters: map[string]string{"id": id},
		QueryStringParameters: map[string]string{"token": tok}}); httpCode(err) != httpapi.ErrInvalidToken.Code {
		t.Fatalf("replaced link: %v", err)
	}
	if st := f.verify(t, id); st != privacy.RequestCompleted {
		t.Fatalf("verified access request is %q", st)
	}
}

// fileAnswer files a request and returns the answer's fields.
func (f *fixture) fileAnswer(t *testing.T, body string) map[string]any {
	t.Helper()
	resp, err := f.serve("POST /v1/rights-requests", events.APIGatewayV2HTTPRequest{Body: body, Headers: map[string]string{"content-type": "application/json"}})
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("file: %v %+v", err, resp)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A filing is answered exactly as a fresh request whatever the address's
// history: a stranger who types someone's address learns nothing of their
// requests. The owner learns of the join by email only.
func TestFilingRevealsNoOtherRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	open := f.file(t, `{"email":"owner@example.com","type":"objection","scope":"all","details":"stop it"}`)
	if st := f.verify(t, open); st != privacy.RequestAwaitingReview {
		t.Fatalf("verified objection: %q", st)
	}
	before := f.request(t, open)
	f.clock.t = f.clock.t.Add(20 * 24 * time.Hour)
	stranger := f.fileAnswer(t, `{"email":"owner@example.com","type":"objection","scope":"all","details":"stop it"}`)
	unknown := f.fileAnswer(t, `{"email":"nobody-`+uuid.NewString()+`@example.com","type":"objection","scope":"all","details":"x"}`)
	for name, a := range map[string]map[string]any{"join": stranger, "unknown": unknown} {
		if len(a) != 3 || a["status"] != string(privacy.RequestIdentityUnverified) || a["id"] == open || a["id"] == "" {
			t.Errorf("%s answered %v", name, a)
		}
		want := privacy.DueAt(privacy.RegulationGDPR, f.clock.t).Format(time.RFC3339)
		if a["due_at"] != want {
			t.Errorf("%s: due_at %v, want %s counted from now", name, a["due_at"], want)
		}
	}
	if _, err := f.store.Request(context.Background(), stranger["id"].(string)); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("the joined filing's id names a stored request: %v", err)
	}
	after := f.request(t, open)
	if after.Status != before.Status || after.DueAt != before.DueAt || after.MailDue.Kind != privacy.MailJoined {
		t.Fatalf("the owner's request after a join: %+v", after)
	}
	// Within the cooldown a second join emails nothing more.
	f.clock.t = f.clock.t.Add(time.Minute)
	f.fileAnswer(t, `{"email":"owner@example.com","type":"objection","scope":"all","details":"stop it"}`)
	if again := f.request(t, open); again.MailDue != after.MailDue {
		t.Fatal("a second join within the cooldown made another email due")
	}
	if n := len(f.requests(t, "owner@example.com")); n != 1 {
		t.Fatalf("%d requests stored for the owner, want 1", n)
	}
}

// Only the site's own requests are joined: an OpenDSR request of a
// controller for the same person is not the person's.
func TestFilingDoesNotJoinOpenDSRRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	subject := f.h.Hasher.Subject("odsr@example.com")
	now := f.clock.t
	err := f.store.CreateRequest(context.Background(), privacy.RightsRequest{ID: uuid.NewString(), Subject: subject, Type: privacy.RightAccess, Regulation: "gdpr", Status: privacy.RequestPending,
		ReceivedAt: now, DueAt: now.AddDate(0, 1, 0), Source: privacy.SourceOpenDSR},
		privacy.Event{Subject: subject, Name: "request_received", At: now, Ref: "x"})
	if err != nil {
		t.Fatal(err)
	}
	id := f.file(t, `{"email":"odsr@example.com","type":"access"}`)
	if r := f.request(t, id); r.Source != "" || r.Status != privacy.RequestIdentityUnverified {
		t.Fatalf("the person's own request was not stored as their own: %+v", r)
	}
}

func TestExcessiveRequestWaitsForTheTeam(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A stranger's junk filings, never verified, count for nothing.
	for i := 0; i < 5; i++ {
		f.file(t, `{"email":"many@example.com","type":"restriction"}`)
		f.clock.t = f.clock.t.Add(11 * time.Minute)
	}
	for _, typ := range []string{"objection", "rectification\",\"details\":\"x", "portability"} {
		id := f.file(t, `{"email":"many@example.com","type":"`+typ+`"}`)
		f.verify(t, id)
		if r := f.request(t, id); r.Excessive {
			t.Fatalf("request %s flagged with fewer than 4 verified requests", r.Type)
		}
	}
	id := f.file(t, `{"email":"many@example.com","type":"access"}`)
	if r := f.request(t, id); r.Excessive {
		t.Fatal("an unverified filing cannot be excessive: it may be a stranger's")
	}
	f.clock.t = f.clock.t.Add(time.Hour)
	if st := f.verify(t, id); st != privacy.RequestPending {
		t.Fatalf("a flagged request is fulfilled only when the team approves; got %q", st)
	}
	if r := f.request(t, id); !r.Excessive || r.MailDue.Kind != privacy.MailReview {
		t.Fatalf("the 4th verified request in 30 days must be flagged for the team's review: %+v", r)
	}
	if _, err := f.desk.Approve(context.Background(), "no-such-request"); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("approve unknown: %v", err)
	}
	f.clock.t = f.clock.t.Add(time.Hour)
	st, err := f.desk.Approve(context.Background(), id)
	if err != nil || st != privacy.RequestCompleted {
		t.Fatalf("approve: %q %v", st, err)
	}
	r := f.request(t, id)
	if r.Status != privacy.RequestCompleted || r.MailDue.Kind != privacy.MailReady {
		t.Fatalf("approved access: %+v", r)
	}
	if _, err := f.desk.Approve(context.Background(), id); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("approving twice: %v", err)
	}
	_, ledger, err := f.desk.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range ledger {
		events = append(events, string(e.Name))
	}
	if got := strings.Join(events, ","); got != "request_received,request_verified,access_done" {
		t.Fatalf("ledger of the request: %s", got)
	}
}

func TestDeskDecisions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// Received 31 January 2027 10:00 UTC: due 28 February (no 31st).
	gdpr := f.file(t, `{"email":"gdpr@example.com","type":"objection"}`)
	fix := f.file(t, `{"email":"fix@example.com","type":"rectification","details":"my name is Ann, not Anne"}`)
	if r := f.request(t, gdpr); r.DueAt.Format(time.RFC3339) != "2027-02-28T10:00:00Z" {
		t.Fatalf("GDPR due %s", r.DueAt)
	}

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"deny needs a reason", func() error { return f.desk.Deny(ctx, gdpr, "  ") }, rights.ErrReasonRequired},
		{"a reason hides nothing", func() error { return f.desk.Deny(ctx, gdpr, "Denied\u202e.tpecca\u202c") }, rights.ErrBadText},
		{"an extension's reason hides nothing", func() error { _, err := f.desk.Extend(ctx, gdpr, "slow\u200b", time.Time{}); return err }, rights.ErrBadText},
		{"extend needs a reason", func() error { _, err := f.desk.Extend(ctx, gdpr, "", time.Time{}); return err }, rights.ErrReasonRequired},
		{"lift needs a reason", func() error { return f.desk.Lift(ctx, gdpr, "") }, rights.ErrReasonRequired},
		{"complete only a rectification under review", func() error { return f.desk.Complete(ctx, fix, "done") }, rights.ErrWrongStatus},
		{"lift only a restriction", func() error { return f.desk.Lift(ctx, gdpr, "why") }, rights.ErrWrongStatus},
		{"approve only after verification", func() error { _, err := f.desk.Approve(ctx, gdpr); return err }, rights.ErrWrongStatus},
	}
	for _, tc := range tests {
		if err := tc.do(); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if r := f.request(t, gdpr); r.Status != privacy.RequestIdentityUnverified || r.Reason != "" || !r.ExtendedUntil.IsZero() {
		t.Fatalf("refused decisions changed the request: %+v", r)
	}

	// Only a verified request is extended: the extension is emailed, and
	// nobody proved an unverified one's address (a stranger may have
	// named it).
	if _, err := f.desk.Extend(ctx, gdpr, "complex", time.Time{}); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("an unverified request's extension: %v", err)
	}
	objection := gdpr
	gdpr = f.file(t, `{"email":"gdpr-fix@example.com","type":"rectification","details":"my name is Bo, not Bob"}`)
	// (Rectifications: an erasure's deadline is the policy's 30 days,
	// TestErasureDueInThirtyDays, and a verified one stays open for the
	// team.)
	ccpa := f.file(t, `{"email":"ccpa-fix@example.com","type":"rectification","regulation":"ccpa","details":"my name is Cy"}`)
	for _, id := range []string{gdpr, ccpa} {
		if st := f.verify(t, id); st != privacy.RequestAwaitingReview {
			t.Fatalf("verified rectification is %q", st)
		}
	}

	// Extensions: at most two more months (GDPR) of the first deadline.
	if _, err := f.desk.Extend(ctx, gdpr, "complex", time.Date(2027, 4, 29, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("an extension past 28 April 2027 was accepted")
	}
	until, err := f.desk.Extend(ctx, gdpr, "we need the archive", time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC))
	if err != nil || !until.Equal(time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("extend: %v %v", until, err)
	}
	until, err = f.desk.Extend(ctx, gdpr, "still waiting for the archive", time.Time{})
	if err != nil || until.Format(time.RFC3339) != "2027-04-28T10:00:00Z" {
		t.Fatalf("second extension goes to the limit of the first deadline: %v %v", until, err)
	}
	r := f.request(t, gdpr)
	if r.DueAt.Format(time.RFC3339) != "2027-04-28T10:00:00Z" || r.OriginalDueAt.Format(time.RFC3339) != "2027-02-28T10:00:00Z" || !r.ExtendedUntil.Equal(r.DueAt) ||
		r.ExtensionReason != "still waiting for the archive" || r.MailDue.Kind != privacy.MailExtended ||
		r.DecidedBy != "arn:aws:iam::1:user/dpo" {
		t.Fatalf("extended request: %+v", r)
	}
	if _, err := f.desk.Extend(ctx, gdpr, "more", time.Time{}); err == nil {
		t.Fatal("an extension beyond the limit was accepted")
	}
	// CCPA: 45 more days of the first deadline.
	if until, err := f.desk.Extend(ctx, ccpa, "volume", time.Time{}); err != nil ||
		!until.Equal(f.clock.t.AddDate(0, 0, 90)) {
		t.Fatalf("CCPA extension: %v %v", until, err)
	}
	// Only within the first deadline (GDPR Art. 12(3)): one day late, an
	// extension is refused and changes nothing; the request shows overdue.
	// (Verified: an unverified request is never overdue, privacy.Overdue.)
	late := f.file(t, `{"email":"late@example.com","type":"rectification","details":"my name is Ann, not Anne"}`)
	if st := f.verify(t, late); st != privacy.RequestAwaitingReview {
		t.Fatalf("verified rectification is %q", st)
	}
	first := f.request(t, late).DueAt
	saved := f.clock.t
	f.clock.t = first.Add(24 * time.Hour)
	if _, err := f.desk.Extend(ctx, late, "too late", time.Time{}); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("a late extension: %v", err)
	}
	if r := f.request(t, late); !r.ExtendedUntil.IsZero() || !privacy.Overdue(r, f.clock.t) {
		t.Fatalf("a refused late extension changed the request: %+v", r)
	}
	if err := f.desk.Deny(ctx, late, "Answered by post."); err != nil {
		t.Fatal(err)
	}
	f.clock.t = saved

	// Overdue: visible once the (extended) deadline passes, for a request
	// whose address is proven; one never verified is not overdue
	// (privacy.Overdue): nobody can act on it.
	f.clock.t = time.Date(2027, 4, 29, 0, 0, 0, 0, time.UTC)
	if st := f.verify(t, fix); st != privacy.RequestAwaitingReview {
		t.Fatalf("rectification after verification: %q", st)
	}
	overdue, err := f.desk.List(ctx, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range overdue {
		ids = append(ids, o.ID)
		if !privacy.Overdue(o, f.clock.t) {
			t.Errorf("listed as overdue but not: %s", o.ID)
		}
	}
	// The rectification was due 28 February, the other one extended to 28
	// April; the objection (due 28 February) is still unverified; the
	// CCPA request (extended to 1 May) is not overdue yet.
	if got, want := strings.Join(ids, ","), fix+","+gdpr; got != want {
		t.Fatalf("overdue on 29 April: %s, want %s (not the unverified %s)", got, want, objection)
	}

	// Deny: the reason is kept for the requester and the status shows it.
	if err := f.desk.Deny(ctx, gdpr, "We hold no data under this address."); err != nil {
		t.Fatal(err)
	}
	r = f.request(t, gdpr)
	if r.Status != privacy.RequestDenied || r.Reason != "We hold no data under this address." || r.CompletedAt.IsZero() ||
		r.MailDue.Kind != privacy.MailDenied {
		t.Fatalf("denied: %+v", r)
	}
	if err := f.desk.Deny(ctx, gdpr, "again"); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("denying a closed request: %v", err)
	}

	// Rectification: verified (above), reviewed, completed with a note.
	if err := f.desk.Complete(ctx, fix, "Name corrected to Ann."); err != nil {
		t.Fatal(err)
	}
	if r := f.request(t, fix); r.Status != privacy.RequestCompleted || r.MailDue.Kind != privacy.MailCorrected {
		t.Fatalf("completed rectification: %+v", r)
	}
}

func TestRestrictionUntilLifted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.file(t, `{"email":"restrict@example.com","type":"restriction"}`)
	subject := privacy.SubjectID(f.request(t, id).Subject)
	if by, err := f.store.Restriction(ctx, subject); err != nil || len(by) != 0 {
		t.Fatalf("restricted before verification: %q %v", by, err)
	}
	if st := f.verify(t, id); st != privacy.RequestCompleted {
		t.Fatalf("restriction after verification: %q", st)
	}
	if by, err := f.store.Restriction(ctx, subject); err != nil || !slices.Equal(by, []string{id}) {
		t.Fatalf("restriction in place: %q %v", by, err)
	}
	if r := f.request(t, id); r.MailDue.Kind != privacy.MailRestricted {
		t.Fatalf("the requester is told: %+v", r)
	}
	if err := f.desk.Lift(ctx, id, "The accuracy check is finished."); err != nil {
		t.Fatal(err)
	}
	if by, _ := f.store.Restriction(ctx, subject); len(by) != 0 {
		t.Fatal("still restricted after lifting")
	}
	if r := f.request(t, id); r.MailDue.Kind != privacy.MailLifted || r.Reason != "The accuracy check is finished." {
		t.Fatalf("lift notice: %+v", r)
	}
	if err := f.desk.Lift(ctx, id, "again"); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("lifting twice: %v", err)
	}
	// A new restriction, then an erasure: the erasure ends it too.
	id2 := f.file(t, `{"email":"restrict@example.com","type":"restriction"}`)
	f.verify(t, id2)
	er := f.file(t, `{"email":"restrict@example.com","type":"erasure"}`)
	if st := f.verify(t, er); st != privacy.RequestCompleted {
		t.Fatalf("erasure: %q", st)
	}
	if by, _ := f.store.Restriction(ctx, subject); len(by) != 0 {
		t.Fatal("an erasure leaves no restriction behind")
	}
}

// An erasure is due within the policy's 30 days (§7), shorter than the
// law's month: the answer says so, the stored request keeps it, and a
// joined or honeypot filing is answered with the same deadline.
func TestErasureDueInThirtyDays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.t = time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)
	want := "2026-04-09T09:30:00Z"
	first := f.fileAnswer(t, `{"email":"erase-me@example.com","type":"erasure"}`)
	if first["due_at"] != want {
		t.Fatalf("erasure due %v, want %s (30 days)", first["due_at"], want)
	}
	if r := f.request(t, first["id"].(string)); r.DueAt.Format(time.RFC3339) != want {
		t.Fatalf("stored due %s, want %s", r.DueAt, want)
	}
	again := f.fileAnswer(t, `{"email":"erase-me@example.com","type":"erasure"}`)
	trap := f.fileAnswer(t, `{"email":"bot@example.com","type":"erasure","website":"spam"}`)
	access := f.fileAnswer(t, `{"email":"erase-me@example.com","type":"access"}`)
	if again["due_at"] != want || trap["due_at"] != want || access["due_at"] != "2026-04-10T09:30:00Z" {
		t.Fatalf("joined %v, honeypot %v, access %v", again["due_at"], trap["due_at"], access["due_at"])
	}
}

// A correction of the address: the team may apply it only once the new
// address confirmed it, and only after the old address, told then, had
// AddressChangeWait to stop it; never onto an address that holds someone's
// data (that would merge two people's records).
func TestAddressChangeWaitsAndNeverMerges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.desk.Hasher, f.desk.AddressChangeWait = f.h.Hasher, 72*time.Hour
	id := f.file(t, `{"email":"old@example.com","type":"rectification","field":"email","value":"new@example.com"}`)
	if st := f.verify(t, id); st != privacy.RequestAwaitingReview {
		t.Fatalf("verified: %q", st)
	}
	if r := f.request(t, id); r.MailDue.Kind != privacy.MailConfirmAddress {
		t.Fatalf("the new address is not asked first: %+v", r.MailDue)
	}
	if _, err := f.desk.Approve(ctx, id); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("approved before the new address confirmed: %v", err)
	}
	if err := f.store.ConfirmNewAddress(ctx, id, "once", privacy.Event{Subject: f.request(t, id).Subject, Name: "new_address_confirmed", At: f.clock.t}); err != nil {
		t.Fatal(err)
	}
	if r := f.request(t, id); r.MailDue.Kind != privacy.MailAddressConfirmed || r.NewAddressConfirmedAt.IsZero() {
		t.Fatalf("after the new address confirmed: %+v", r)
	}
	f.clock.t = f.clock.t.Add(71 * time.Hour)
	if _, err := f.desk.Approve(ctx, id); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("approved within the old address's time to stop it: %v", err)
	}
	// Someone's data under the new address meanwhile: no merge.
	other := f.file(t, `{"email":"new@example.com","type":"access"}`)
	f.clock.t = f.clock.t.Add(2 * time.Hour)
	if _, err := f.desk.Approve(ctx, id); !errors.Is(err, rights.ErrWrongStatus) || f.request(t, id).Status != privacy.RequestAwaitingReview {
		t.Fatalf("approved a move onto an address that holds data: %v", err)
	}
	if err := f.desk.Deny(ctx, other, "test: clear the way"); err != nil {
		t.Fatal(err)
	}
	// (The other request stays on record under the new address: still
	// no merge. A correction to a fresh address goes through.)
	id2 := f.file(t, `{"email":"old2@example.com","type":"rectification","field":"email","value":"fresh@example.com"}`)
	f.verify(t, id2)
	if err := f.store.ConfirmNewAddress(ctx, id2, "once", privacy.Event{Subject: f.request(t, id2).Subject, Name: "new_address_confirmed", At: f.clock.t}); err != nil {
		t.Fatal(err)
	}
	f.clock.t = f.clock.t.Add(73 * time.Hour)
	if st, err := f.desk.Approve(ctx, id2); err != nil || st != privacy.RequestCompleted {
		t.Fatalf("approve after the wait: %q %v", st, err)
	}
}

// Filings that name a mailbox (as agent, parent, recipient or new
// address) spend at most half of its daily budget, and a filing past that
// half spends none of the rest: the person's own filings are mailed.
func TestNamedFilingsLeaveThePersonsOwnBudget(t *testing.T) {
	f := newFixture(t)
	f.h.PerAddress = limit.Rule{Name: "rights_address", Max: 4, Window: 24 * time.Hour}
	named := "named-" + uuid.NewString()[:8] + "@example.com"
	var heldAgent int
	for i := range 6 {
		id := f.file(t, fmt.Sprintf(`{"email":"p%d-%s","type":"access","relationship":"authorized_agent","agent_email":"%s"}`, i, named[6:], named))
		if f.request(t, id).Held(privacy.RoleAgent) {
			heldAgent++
		}
	}
	if heldAgent != 4 {
		t.Errorf("%d of 6 filings naming the mailbox were held from it, want 4 (half of 4 mailed)", heldAgent)
	}
	for i := range 2 {
		typ := []string{"access", "erasure"}[i]
		id := f.file(t, `{"email":"`+named+`","type":"`+typ+`"}`)
		if r := f.request(t, id); r.Held(privacy.RoleRequester) {
			t.Errorf("the person's own filing %d was held: %v", i+1, r.MailHeld)
		}
	}
	id := f.file(t, `{"email":"`+named+`","type":"objection","details":"marketing"}`)
	if r := f.request(t, id); !r.Held(privacy.RoleRequester) {
		t.Errorf("the person's fifth mail of the day (2 named, 2 own, this) was not held: the budget is 4")
	}
}

// Filing the same request again within the resend cooldown joins it and
// sends nothing, so it spends nothing of the mailbox's budget: the
// person's next, different request is still mailed.
func TestJoinsWithoutMailSpendNoBudget(t *testing.T) {
	f := newFixture(t)
	f.h.PerAddress = limit.Rule{Name: "rights_address", Max: 2, Window: 24 * time.Hour}
	addr := "joins-" + uuid.NewString()[:8] + "@example.com"
	first := f.file(t, `{"email":"`+addr+`","type":"access"}`)
	for range 5 {
		f.file(t, `{"email":"`+addr+`","type":"access"}`)
	}
	if n := len(f.requests(t, addr)); n != 1 {
		t.Fatalf("%d requests stored, want the first alone (the rest joined it)", n)
	}
	if r := f.request(t, first); r.Held(privacy.RoleRequester) {
		t.Fatalf("the first filing was held: %v", r.MailHeld)
	}
	other := f.file(t, `{"email":"`+addr+`","type":"erasure"}`)
	if r := f.request(t, other); r.Held(privacy.RoleRequester) {
		t.Errorf("the person's second request was held: the joins within the cooldown spent the budget of 2")
	}
}

// answerLink signs the token of a question's link: for request id, the
// subject and the question's nonce given.
func (f *fixture) answerLink(t *testing.T, id string, subject privacy.SubjectID, nonce string) string {
	t.Helper()
	tok, err := f.tokens.Sign(token.Claims{Purpose: token.AnswerQuestion, Subject: subject, Ref: id + ":" + nonce,
		Expires: f.clock.t.Add(14 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// answer posts an answer by the link of tok to request id.
func (f *fixture) answer(id, tok, contentType, body string) (events.APIGatewayV2HTTPResponse, error) {
	return f.serve("POST /v1/rights-requests/{id}/answer", events.APIGatewayV2HTTPRequest{
		PathParameters: map[string]string{"id": id}, QueryStringParameters: map[string]string{"token": tok},
		Headers: map[string]string{"content-type": contentType}, Body: body, RawPath: "/v1/rights-requests/" + id + "/answer"})
}

func httpCode(err error) string {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he.Code
	}
	return ""
}

func httpStatus(err error) int {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// The team asks a verified requester for more (policy §8): the request
// waits for the answer with its deadline unchanged, the question is
// emailed (mail_due), and the answer by the question's link returns the
// request to the status it was asked in. What the desk and the link refuse
// changes nothing.
func TestDeskAsksAndTheRequesterAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	fix := f.file(t, `{"email":"asked@example.com","type":"rectification","details":"my name is wrong"}`)
	unverified := f.file(t, `{"email":"unverified@example.com","type":"access"}`)
	other := f.file(t, `{"email":"other@example.com","type":"rectification","details":"my phone is wrong"}`)
	if st := f.verify(t, fix); st != privacy.RequestAwaitingReview {
		t.Fatalf("rectification after verification: %q", st)
	}
	if st := f.verify(t, other); st != privacy.RequestAwaitingReview {
		t.Fatalf("rectification after verification: %q", st)
	}
	// A controller's request, and a verified one held as pending.
	subject := f.h.Hasher.Subject("pending@example.com")
	for id, source := range map[string]string{"r-pending": "", "r-opendsr": privacy.SourceOpenDSR} {
		if err := f.store.CreateRequest(ctx, privacy.RightsRequest{ID: id, Subject: subject, Email: "pending@example.com", Type: privacy.RightAccess,
			Regulation: privacy.RegulationGDPR, Status: privacy.RequestPending, Source: source, ReceivedAt: f.clock.t,
			DueAt: f.clock.t.AddDate(0, 1, 0), VerifiedAt: f.clock.t}, privacy.Event{Subject: subject, Name: "request_received", At: f.clock.t, Ref: id}); err != nil {
			t.Fatal(err)
		}
	}
	before := f.request(t, fix)

	for _, tc := range []struct {
		name, id, question string
		want               error
	}{
		{"a question is required", fix, "  ", rights.ErrReasonRequired},
		{"a question hides nothing", fix, "Which \u202eaccount\u202c?", rights.ErrBadText},
		{"a question within its length", fix, strings.Repeat("a", privacy.MaxQuestion+1), rights.ErrBadText},
		{"nothing is mailed to an unverified address", unverified, "Which account?", rights.ErrWrongStatus},
		{"a controller's requester is the controller's", "r-opendsr", "Which account?", rights.ErrWrongStatus},
		{"no such request", "no-such-request", "Which account?", privacy.ErrNotFound},
	} {
		if err := f.desk.Ask(ctx, tc.id, tc.question); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if r := f.request(t, fix); r.Status != privacy.RequestAwaitingReview || r.Question != "" || r.MailDue != before.MailDue {
		t.Fatalf("a refused question changed the request: %+v", r)
	}
	if r := f.request(t, unverified); r.Status != privacy.RequestIdentityUnverified || r.Question != "" {
		t.Fatalf("a refused question changed the unverified request: %+v", r)
	}

	f.clock.t = f.clock.t.Add(time.Hour)
	if err := f.desk.Ask(ctx, fix, "Which name should we use?\nAs on your contract."); err != nil {
		t.Fatal(err)
	}
	asked := f.request(t, fix)
	if asked.Status != privacy.RequestWaitingForInformation || asked.AskedFrom != privacy.RequestAwaitingReview ||
		asked.Question != "Which name should we use?\nAs on your contract." || !asked.AskedAt.Equal(f.clock.t) ||
		asked.MailDue.Kind != privacy.MailQuestion || asked.MailDue.Ref == "" || asked.MailDue.Ref != asked.AskNonce ||
		!asked.DueAt.Equal(before.DueAt) || asked.DecidedBy != "arn:aws:iam::1:user/dpo" {
		t.Fatalf("asked: %+v", asked)
	}
	// The clock does not stop: past the deadline it is overdue.
	if !privacy.Overdue(asked, asked.DueAt.Add(time.Minute)) {
		t.Fatal("a request waiting for the requester is not overdue past its deadline")
	}
	if err := f.desk.Ask(ctx, fix, "And another?"); !errors.Is(err, rights.ErrWrongStatus) {
		t.Fatalf("asking again while waiting: %v", err)
	}

	good := f.answerLink(t, fix, asked.Subject, asked.AskNonce)
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, id, tok, contentType, body string
		status                           int
	}{
		{"a link of another request", other, good, form, "answer=Ann", 400},
		{"a link of another person", fix, f.answerLink(t, fix, f.request(t, other).Subject, asked.AskNonce), form, "answer=Ann", 400},
		{"a link of another question", fix, f.answerLink(t, fix, asked.Subject, "0123456789abcdef"), form, "answer=Ann", 409},
		{"a link of no question", fix, f.answerLink(t, fix, asked.Subject, ""), form, "answer=Ann", 400},
		{"a verification link", fix, func() string {
			tok, _ := f.tokens.Sign(token.Claims{Purpose: token.VerifyRequest, Subject: asked.Subject, Ref: fix + ":" + asked.AskNonce,
				Expires: f.clock.t.Add(time.Hour)})
			return tok
		}(), form, "answer=Ann", 400},
		{"an empty answer", fix, good, form, "answer=+", 400},
		{"a bidi override", fix, good, form, "answer=Ann%E2%80%AE", 400},
		{"a zero-width space", fix, good, "application/json", `{"answer":"An\u200bn"}`, 400},
		{"an answer too long", fix, good, form, "answer=" + strings.Repeat("a", privacy.MaxAnswer+1), 400},
	} {
		if _, err := f.answer(tc.id, tc.tok, tc.contentType, tc.body); httpStatus(err) != tc.status {
			t.Errorf("%s: %v, want %d", tc.name, err, tc.status)
		}
	}
	if r := f.request(t, fix); r.Status != privacy.RequestWaitingForInformation || r.Answer != "" || r.MailDue != asked.MailDue {
		t.Fatalf("a refused answer changed the request: %+v", r)
	}

	// A request whose address an erasure took since (the person's own
	// erasure strips their other requests) has nobody left to answer it:
	// its link is refused, nothing is stored.
	if err := f.desk.Ask(ctx, other, "Which phone?"); err != nil {
		t.Fatal(err)
	}
	otherAsked := f.request(t, other)
	if err := f.store.StripRequestAddress(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := f.answer(other, f.answerLink(t, other, otherAsked.Subject, otherAsked.AskNonce), form, "answer=555"); httpStatus(err) != 409 {
		t.Errorf("an answer to a request whose address was erased: %v, want 409", err)
	}
	if r := f.request(t, other); r.Answer != "" || r.Status != privacy.RequestWaitingForInformation {
		t.Fatalf("an answer to an erased request was kept: %+v", r)
	}

	f.clock.t = f.clock.t.Add(time.Hour)
	resp, err := f.answer(fix, good, form, "answer=Ann+Smith%2C+as+on+the+contract.%0AThanks")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, string(privacy.RequestAwaitingReview)) {
		t.Fatalf("answer: %v %+v", err, resp)
	}
	r := f.request(t, fix)
	if r.Status != privacy.RequestAwaitingReview || r.Answer != "Ann Smith, as on the contract.\nThanks" || r.AnsweredAt.IsZero() ||
		r.MailDue.Kind != privacy.MailAnswered || !r.DueAt.Equal(before.DueAt) || r.DecidedBy != asked.DecidedBy {
		t.Fatalf("answered: %+v", r)
	}
	// Once: the same link again changes nothing.
	if _, err := f.answer(fix, good, form, "answer=Something+else"); httpStatus(err) != 409 {
		t.Fatalf("a second answer: %v", err)
	}
	if again := f.request(t, fix); again.Answer != r.Answer || again.Status != r.Status || again.MailDue != r.MailDue {
		t.Fatalf("a second answer changed the request: %+v", again)
	}
	_, ledger, err := f.desk.Show(ctx, fix)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range ledger {
		events = append(events, string(e.Name))
	}
	if got := strings.Join(events, ","); got != "request_received,request_verified,review_requested,information_requested,information_provided" {
		t.Fatalf("ledger of the request: %s", got)
	}

	// A request asked while pending returns to pending (the team's approve
	// still applies); a decision while waiting closes the question.
	if err := f.desk.Ask(ctx, "r-pending", "Which of your two accounts?"); err != nil {
		t.Fatal(err)
	}
	p := f.request(t, "r-pending")
	if _, err := f.answer("r-pending", f.answerLink(t, "r-pending", subject, p.AskNonce), "application/json", `{"answer":"The older one"}`); err != nil {
		t.Fatal(err)
	}
	if p = f.request(t, "r-pending"); p.Status != privacy.RequestPending || p.Answer != "The older one" {
		t.Fatalf("answered from pending: %+v", p)
	}
	if err := f.desk.Ask(ctx, "r-pending", "And the year you opened it?"); err != nil {
		t.Fatal(err)
	}
	p = f.request(t, "r-pending")
	if err := f.desk.Deny(ctx, "r-pending", "We found no such account."); err != nil {
		t.Fatal(err)
	}
	if _, err := f.answer("r-pending", f.answerLink(t, "r-pending", subject, p.AskNonce), "application/json", `{"answer":"2019"}`); httpStatus(err) != 409 {
		t.Fatalf("an answer to a denied request: %v", err)
	}
	if p = f.request(t, "r-pending"); p.Status != privacy.RequestDenied || p.Answer != "The older one" {
		t.Fatalf("an answer to a denied request changed it: %+v", p)
	}
}

// emailProcessor registers Drift, a processor told by email, and returns it.
func (f *fixture) emailProcessor(t *testing.T) privacy.Processor {
	t.Helper()
	proc := privacy.Processor{ID: "p1", Name: "Drift", Contact: "privacy@drift.example", IdentityFormat: "raw",
		Types: recipients.EmailTypes()}
	if err := dynamotest.PutProcessor(context.Background(), f.store, proc, privacy.Event{Subject: privacy.TeamSubject, Name: "processor_added",
		At: f.clock.t, Ref: proc.ID, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	return proc
}
