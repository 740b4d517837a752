package mailer_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// requestFiler files rights requests through the site's handler into
// store, at the clock's time, and returns each one's item as written:
// the image its stream record carries.
type requestFiler struct {
	store  *dynamo.Store
	db     *dynamodb.Client
	table  string
	hasher *privacy.Hasher
	h      *rights.Handlers
}

func newRequestFiler(t *testing.T, store *dynamo.Store, db *dynamodb.Client, n map[string]string, now func() time.Time) *requestFiler {
	t.Helper()
	hasher, err := privacy.NewHasher([]byte("pepper-0123456789-0123456789-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.New([]byte("token-key-0123456789-0123456789-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return &requestFiler{store: store, db: db, table: n["RequestsTable"], hasher: hasher,
		h: &rights.Handlers{Store: store, Hasher: hasher, Tokens: tokens, Now: now, NewID: uuid.NewString, Log: log, ExcessPerMonth: 3,
			PerIP: rights.DefaultPerIP, PerAddress: rights.DefaultPerAddress,
			Fulfiller: &rights.Fulfiller{Store: store, Policy: privacy.FixedPolicy("v3"), Log: log}}}
}

func (f *requestFiler) file(t *testing.T, in privacy.Input, from privacy.RequestMeta) (privacy.RightsRequest, map[string]types.AttributeValue) {
	t.Helper()
	ctx := context.Background()
	form, err := privacy.ParseRightsRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.h.File(ctx, rights.Filing{Form: form, PolicyVersion: "v3", Lang: "en", From: from})
	if err != nil {
		t.Fatal(err)
	}
	return f.item(t, got.ID)
}

// item is request id as stored now, and its item.
func (f *requestFiler) item(t *testing.T, id string) (privacy.RightsRequest, map[string]types.AttributeValue) {
	t.Helper()
	out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &f.table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "R#" + id}, "sk": &types.AttributeValueMemberS{Value: "REQUEST"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("request %s: %v", id, err)
	}
	r, err := dynamo.DecodeRequest(out.Item)
	if err != nil {
		t.Fatal(err)
	}
	return r, out.Item
}

// replayedImage is item as privacyctl replay leaves it (a MODIFY that
// marks it replayed_at).
func replayedImage(item map[string]types.AttributeValue, at time.Time) map[string]types.AttributeValue {
	out := maps.Clone(item)
	out[dynamo.AttrReplayedAt] = &types.AttributeValueMemberS{Value: at.Format(time.RFC3339Nano)}
	return out
}

// Issue #36 item 1: a site rights request is stored alone; its
// request_received entry is the mailer's, from the request's stream
// record. The replay (twice), the INSERT record and its redelivery write
// one entry, and it is the entry the filing's transaction wrote before
// without the filer's IP and user agent: the same key and attributes,
// the same detail less source_ip and user_agent (the type, the
// regulation, the relationship, those the request names as keyed
// hashes), a digest that the old detail would give under the same salt
// (the metadata was never in it), a hash that verifies, and no
// retention filing (nothing of it is stripped at 90 days).
func TestRequestLedgerEntryFromItsRecord(t *testing.T) {
	t.Parallel()
	store, db, n := ledgerStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 8, 10, 0, 0, 123456789, time.UTC)
	now := at.Add(2 * time.Second)
	f := newRequestFiler(t, store, db, n, func() time.Time { return at })
	m := &mailer.Mailer{Ledger: store, Hasher: f.hasher, Tokens: f.h.Tokens, Markers: store, Requests: store, Sender: &countingSender{},
		Config: notify.Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://example.com/p"},
		Log:    slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return now }, Lease: time.Minute}
	u := localtest.Unique()
	from := privacy.RequestMeta{SourceIP: "192.0.2.7", UserAgent: "Filer/1", ReceivedAt: at}
	for _, c := range []struct {
		name string
		in   privacy.Input
	}{
		{"an agent's request", privacy.Input{"email": "p-" + u + "@example.com", "type": "access", "relationship": "authorized_agent",
			"agent_email": "agent-" + u + "@example.com", "regulation": "ccpa"}},
		{"a portability to a third party", privacy.Input{"email": "q-" + u + "@example.com", "type": "portability",
			"recipient_email": "third-" + u + "@example.com"}},
	} {
		r, item := f.file(t, c.in, from)
		if es, _ := store.LedgerEntries(ctx, r.Subject); len(es) != 0 {
			t.Fatalf("%s: %d ledger entries before the mailer's", c.name, len(es))
		}
		insert := dynamo.DecodeChange(privacy.Change{Seq: "1", Source: "arn:test"}, keysOf(item), nil, item)
		replay := dynamo.DecodeChange(privacy.Change{Seq: "2", Source: "arn:test"}, keysOf(item), item, replayedImage(item, now))
		for i, ch := range []privacy.Change{replay, replay, insert, insert} {
			if failed := m.Handle(ctx, []privacy.Change{ch}); len(failed) != 0 {
				t.Fatalf("%s: record %d: %v failed", c.name, i, failed)
			}
		}
		got, err := store.LedgerEntries(ctx, r.Subject)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %d ledger entries, %v; want 1", c.name, len(got), err)
		}
		if _, filed := got[0]["retention_pk"]; filed {
			t.Errorf("%s: the entry is filed for the sweep: %v", c.name, got[0])
		}

		// The entry the filing's transaction wrote before this change, as
		// shared/rights built it (with the filer's IP and user agent),
		// by the store's sealed put, in tables of its own.
		before, _, _ := ledgerStore(t)
		old := map[string]string{"type": string(r.Type), "regulation": r.Regulation, "source_ip": from.SourceIP, "user_agent": from.UserAgent}
		for k, addr := range map[string]string{"recipient_hash": r.RecipientEmail, "agent_hash": r.AgentEmail, "parent_hash": r.ParentEmail} {
			if addr != "" {
				old[k] = string(f.hasher.Subject(addr))
			}
		}
		if r.Relationship != "" {
			old["relationship"] = string(r.Relationship)
		}
		if err := before.RecordEvent(ctx, privacy.Event{Subject: r.Subject, Name: privacy.EventRequestReceived, At: at, Ref: r.ID,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: "v3", Detail: old}); err != nil {
			t.Fatal(err)
		}
		want, err := before.ScanLedger(ctx)
		if err != nil || len(want) != 1 {
			t.Fatalf("%d entries written the old way, %v", len(want), err)
		}
		var e ledger.Entry
		scan, err := store.ScanLedger(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range scan {
			if s.Attrs["ref"] == "S:"+r.ID {
				e = s
			}
		}
		// The attributes the hash covers (not the seal's, the filing's,
		// the TTL).
		covered := func(a map[string]string) map[string]string {
			a = maps.Clone(a)
			for _, k := range ledger.Excluded() {
				delete(a, k)
			}
			return a
		}
		if !maps.Equal(covered(e.Attrs), covered(want[0].Attrs)) || e.Attrs["expires_at"] != want[0].Attrs["expires_at"] {
			t.Errorf("%s: attributes\n got %v\nwant %v", c.name, e.Attrs, want[0].Attrs)
		}
		typedOld, minusMeta := map[string]string{}, map[string]string{}
		for k, v := range old {
			typedOld[k] = "S:" + v
			if k != "source_ip" && k != "user_agent" {
				minusMeta[k] = "S:" + v
			}
		}
		if !maps.Equal(e.Detail, minusMeta) {
			t.Errorf("%s: detail\n got %v\nwant %v", c.name, e.Detail, minusMeta)
		}
		if ledger.DetailDigest(e.Salt, typedOld) != e.DetailSum {
			t.Errorf("%s: the old detail does not digest to the entry's under its salt", c.name)
		}
		if problem := ledger.Check(e); problem != "" || e.Hash == "" || e.Day != "2026-12-08" {
			t.Errorf("%s: entry %+v: %q", c.name, e, problem)
		}
	}
}

// The edge: a request's record replayed after its address went (an
// unverified request's expiry, the strip after its last email, an
// erasure: each removes the addresses with StripRequestAddress) before
// its entry was written. The entry is written (the request was received)
// without a detail: no hash of an address the strip removed, nothing an
// erasure would have redacted, is written back. The record's image from
// before the strip (its INSERT) would have carried them.
func TestRequestLedgerEntryAfterItsAddressWent(t *testing.T) {
	t.Parallel()
	store, db, n := ledgerStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 8, 11, 0, 0, 0, time.UTC)
	f := newRequestFiler(t, store, db, n, func() time.Time { return at })
	u := localtest.Unique()
	r, _ := f.file(t, privacy.Input{"email": "s-" + u + "@example.com", "type": "access", "relationship": "authorized_agent",
		"agent_email": "sagent-" + u + "@example.com"}, privacy.RequestMeta{SourceIP: "192.0.2.8", UserAgent: "Filer/1", ReceivedAt: at})
	if err := store.StripRequestAddress(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	stripped, item := f.item(t, r.ID)
	if stripped.Email != "" || stripped.AgentEmail != "" {
		t.Fatalf("the strip left %+v", stripped)
	}
	later := at.Add(15 * 24 * time.Hour)
	m := &mailer.Mailer{Ledger: store, Hasher: f.hasher, Tokens: f.h.Tokens, Markers: store, Requests: store, Sender: &countingSender{},
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return later }, Lease: time.Minute}
	if failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "5", Source: "arn:test"}, keysOf(item), item,
		replayedImage(item, later))}); len(failed) != 0 {
		t.Fatalf("replay: %v failed", failed)
	}
	es, err := store.LedgerEntries(ctx, r.Subject)
	if err != nil || len(es) != 1 {
		t.Fatalf("%d ledger entries, %v; want 1", len(es), err)
	}
	for _, a := range []string{ledger.AttrDetail, ledger.AttrSalt, ledger.AttrDetailSum} {
		if _, ok := es[0][a]; ok {
			t.Errorf("the entry carries %s after the address went: %v", a, es[0])
		}
	}
	scan, err := store.ScanLedger(ctx)
	if err != nil || len(scan) != 1 {
		t.Fatalf("scan: %d, %v", len(scan), err)
	}
	// Sealed with the day it is written; its time the request's.
	if problem := ledger.Check(scan[0]); problem != "" || scan[0].Day != "2026-12-23" || scan[0].Attrs["at"] != "S:2026-12-08T11:00:00.000000000Z" {
		t.Fatalf("entry %+v: %q", scan[0], problem)
	}
}

// The entry is written before anything that holds the request's emails
// back or fails them: the acknowledgement held past its mailbox's limit,
// a restriction of processing, a suppression, a send that fails. The
// mailer writes none for a request whose entry is not its own (a
// controller's, one the team entered, the person's own opt-out of sale,
// written with theirs) nor for a change that is not the request's first
// write or a replay.
func TestRequestLedgerEntryWhateverHoldsTheEmail(t *testing.T) {
	t.Parallel()
	store, db, n := ledgerStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	f := newRequestFiler(t, store, db, n, func() time.Time { return at })
	for _, c := range []struct {
		name       string
		held       bool
		restrict   restricted
		suppress   suppressed
		sendErr    error
		wantFailed bool
	}{
		{name: "acknowledgement held", held: true},
		{name: "processing restricted", restrict: restricted{"req-r"}},
		{name: "address suppressed", suppress: suppressed{privacy.SuppressUnsubscribed}},
		{name: "send fails, the record fails", sendErr: errors.New("injected: connection reset"), wantFailed: true},
	} {
		u := localtest.Unique()
		r, item := f.file(t, privacy.Input{"email": "h-" + u + "@example.com", "type": "erasure"}, privacy.RequestMeta{SourceIP: "192.0.2.9", ReceivedAt: at})
		if c.held {
			item["mail_held"] = &types.AttributeValueMemberSS{Value: []string{privacy.RoleRequester}}
		}
		m := &mailer.Mailer{Ledger: store, Hasher: f.hasher, Markers: store, Requests: store, Sender: &countingSender{fail: c.sendErr},
			Tokens: f.h.Tokens, Config: notify.Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://example.com/p",
				BaseURL: "https://api.example"},
			Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return at }, Lease: time.Minute}
		if c.restrict != nil {
			m.Restrictions = c.restrict
		}
		if c.suppress != nil {
			m.Suppressions = c.suppress
		}
		failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "9", Source: "arn:test"}, keysOf(item), nil, item)})
		if (len(failed) != 0) != c.wantFailed {
			t.Errorf("%s: failed %v", c.name, failed)
		}
		if es, err := store.LedgerEntries(ctx, r.Subject); err != nil || len(es) != 1 {
			t.Errorf("%s: %d ledger entries, %v; want 1", c.name, len(es), err)
		}
	}

	// None of the mailer's: each of these is a request as stored, its
	// image given as an INSERT.
	m := &mailer.Mailer{Ledger: store, Hasher: f.hasher, Tokens: f.h.Tokens, Markers: store, Requests: store, Sender: &countingSender{},
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return at }, Lease: time.Minute}
	u := localtest.Unique()
	base := privacy.RightsRequest{Subject: privacy.SubjectID("subj-" + u), Email: "n-" + u + "@example.com", Type: privacy.RightAccess,
		Regulation: privacy.RegulationGDPR, Status: privacy.RequestIdentityUnverified, ReceivedAt: at, DueAt: at.AddDate(0, 1, 0)}
	controllers, entered, optOut := base, base, base
	controllers.ID, controllers.Source = "ctl-"+u, privacy.SourceOpenDSR
	entered.ID, entered.Channel = "ent-"+u, privacy.ChannelEmail
	optOut.ID, optOut.Type, optOut.Status = "opt-"+u, privacy.RightOptOutOfSale, privacy.RequestCompleted
	for _, r := range []privacy.RightsRequest{controllers, entered, optOut} {
		if err := store.CreateRequest(ctx, r, privacy.Event{}); err != nil {
			t.Fatal(err)
		}
		_, item := f.item(t, r.ID)
		if failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "11", Source: "arn:test"}, keysOf(item), nil, item)}); len(failed) != 0 {
			t.Fatalf("%s: %v failed", r.ID, failed)
		}
	}
	// A site request's change that is neither its first write nor a replay.
	site := base
	site.ID = "site-" + u
	if err := store.CreateRequest(ctx, site, privacy.Event{}); err != nil {
		t.Fatal(err)
	}
	_, item := f.item(t, site.ID)
	if failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "12", Source: "arn:test"}, keysOf(item), item, item)}); len(failed) != 0 {
		t.Fatalf("modify: %v failed", failed)
	}
	if es, err := store.LedgerEntries(ctx, base.Subject); err != nil || len(es) != 0 {
		t.Fatalf("%d ledger entries written for requests whose entry is not the mailer's, %v", len(es), err)
	}
}
