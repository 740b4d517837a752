package sweep_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sweep"
)

// now is the sweep's clock: two hours ahead of the real one, so that every
// seeded expires_at, even one the sweep must find past, is still in the
// future for DynamoDB Local's own TTL, which would otherwise delete items
// before the sweep sees them.
var now = time.Now().UTC().Truncate(time.Second).Add(2 * time.Hour)

type env struct {
	db     *dynamodb.Client
	tables map[privacy.Table]string
}

func newEnv(t *testing.T) env {
	t.Helper()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	return env{db: localtest.DynamoDB(svc), tables: map[privacy.Table]string{
		privacy.TableSubjects: n["SubjectsTable"], privacy.TableLedger: n["LedgerTable"],
		privacy.TableRequests: n["RequestsTable"], privacy.TableOps: n["OpsTable"],
		privacy.TablePlatformRequests: n["PlatformRequestsTable"], privacy.TableSuppression: n["SuppressionTable"]}}
}

func (e env) sweeper(db dynamo.SweepAPI) *sweep.Sweeper {
	return &sweep.Sweeper{Store: &dynamo.Sweep{DB: db, Tables: e.tables}, Classes: privacy.RetentionClasses(), Workers: 3, PageSize: 7,
		Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func N(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

type seeded struct {
	table   privacy.Table
	item    map[string]types.AttributeValue
	expect  string // "kept", "deleted", "stripped" or "checked"
	removed []string
	set     map[string]string
}

// seedClass writes, for one class, an item just inside its period and one
// just past it.
func seedClass(c privacy.Class, pk string) []seeded {
	var out []seeded
	for _, past := range []bool{false, true} {
		offset := time.Hour
		if past {
			offset = -time.Hour
		}
		var clock types.AttributeValue
		if c.Clock == privacy.ClockExpiry {
			clock = N(now.Add(offset).Unix())
		} else {
			clock = S(now.AddDate(0, 0, -c.Days).Add(offset).Format(time.RFC3339Nano))
		}
		item := map[string]types.AttributeValue{"pk": S(pk), "sk": S(fmt.Sprintf("%s#%v", c.Name, past)), c.Clock: clock}
		if len(c.SortKeys) > 0 { // a suppression: its reason is its sort key, since before the sweep's stamp
			item["pk"], item["sk"] = S(fmt.Sprintf("%s%v", pk, past)), S(c.SortKeys[0])
			item["since"] = S(now.AddDate(0, 0, -c.Days-1).Format(time.RFC3339Nano))
		}
		if c.Kind != "" {
			item["kind"] = S(c.Kind)
		}
		if c.Status != "" {
			item["status"] = S(c.Status)
		}
		if c.Has != "" && c.Has != c.Clock && !strings.Contains(c.Has, ".") {
			item[c.Has] = S("x")
		}
		for _, r := range c.Remove {
			if r == "detail.source_ip" || r == "detail.user_agent" {
				item["detail"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"source_ip": S("203.0.113.1"), "user_agent": S("UA"), "consent_text_version": S("v1")}}
			} else {
				item[r] = S("x")
			}
		}
		if c.Table == privacy.TableLedger && c.Clock != "at" {
			item["at"] = S(now.Format(time.RFC3339Nano)) // keep the ledger_entry class out of it
		}
		s := seeded{table: c.Table, item: item, expect: "kept"}
		if past && !c.TTLOnly { // a TTL-only class is DynamoDB TTL's alone
			s.expect = map[privacy.Action]string{privacy.Delete: "deleted", privacy.Strip: "stripped", privacy.EndSubscription: "checked"}[c.Action]
			s.removed, s.set = c.Remove, c.Set
		}
		out = append(out, s)
	}
	return out
}

func (e env) put(t *testing.T, s seeded) {
	t.Helper()
	if _, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.tables[s.table]), Item: s.item}); err != nil {
		t.Fatal(err)
	}
}

// backfill files the seeded items in the retention index, as privacyctl
// retention backfill does after an upgrade: they were written raw.
func (e env) backfill(t *testing.T) {
	t.Helper()
	if _, err := dynamo.BackfillRetention(context.Background(), e.db, e.tables); err != nil {
		t.Fatal(err)
	}
}

// unfiled is an item without its retention index attributes.
func unfiled(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := maps.Clone(item)
	delete(out, "retention_pk")
	delete(out, "retention_at")
	return out
}

func (e env) get(t *testing.T, s seeded) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.tables[s.table]),
		Key: map[string]types.AttributeValue{"pk": s.item["pk"], "sk": s.item["sk"]}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func (e env) all(t *testing.T) map[privacy.Table][]map[string]types.AttributeValue {
	t.Helper()
	out := map[privacy.Table][]map[string]types.AttributeValue{}
	for role, name := range e.tables {
		p := dynamodb.NewScanPaginator(e.db, &dynamodb.ScanInput{TableName: aws.String(name)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out[role] = append(out[role], page.Items...)
		}
	}
	return out
}

func TestExactRetentionForEveryClass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var items []seeded
	for _, c := range privacy.RetentionClasses() {
		pk := "S#" + c.Name
		if c.Table == privacy.TableOps || c.Table == privacy.TableRequests || c.Table == privacy.TablePlatformRequests {
			pk = "X#" + c.Name
		}
		for _, s := range seedClass(c, pk) {
			e.put(t, s)
			items = append(items, s)
		}
	}
	// A legal hold protects a subject's expired data.
	held := seedClass(privacy.Retention().Inquiry, "S#held")[1]
	held.expect = "kept"
	e.put(t, held)
	e.put(t, seeded{table: privacy.TableSubjects, item: map[string]types.AttributeValue{"pk": S("S#held"), "sk": S(privacy.HoldLegal),
		"list_pk": S(privacy.HoldsList), "list_sk": S("S#held")}})
	items = append(items, held)
	// A legal hold that has ended (its -until has passed) protects nothing.
	ended := seedClass(privacy.Retention().Inquiry, "S#hold-ended")[1]
	e.put(t, ended)
	e.put(t, seeded{table: privacy.TableSubjects, item: map[string]types.AttributeValue{"pk": S("S#hold-ended"), "sk": S(privacy.HoldLegal),
		"list_pk": S(privacy.HoldsList), "list_sk": S("S#hold-ended"), "until": S(now.Add(-time.Hour).Format(time.RFC3339Nano))}})
	items = append(items, ended)
	// A restriction in force keeps its requester's address (the lift must
	// be told), however long ago it was put in place.
	inForce := seedClass(privacy.Retention().FinishedRequestAddress, "X#in-force")[1]
	inForce.item[privacy.AttrRestricts] = &types.AttributeValueMemberBOOL{Value: true}
	inForce.expect = "kept"
	e.put(t, inForce)
	items = append(items, inForce)
	e.backfill(t)

	// A dry run changes nothing and counts what the real run then does.
	// Neither scans a table: what is due comes from the retention index.
	db := &countingDB{Client: e.db}
	before := e.all(t)
	dry, err := e.sweeper(db).Run(ctx, sweep.Options{DryRun: true, Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if after := e.all(t); !reflect.DeepEqual(before, after) {
		t.Fatal("the dry run changed the tables")
	}
	rep, err := e.sweeper(db).Run(ctx, sweep.Options{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if n := db.scans.Load(); n != 0 {
		t.Fatalf("the sweep scanned %d times", n)
	}
	if !rep.Complete || rep.Resumed || !reflect.DeepEqual(dry.Counts, rep.Counts) {
		t.Fatalf("dry %v\nreal %v (complete %v)", dry.Counts, rep.Counts, rep.Complete)
	}
	if rep.Counts[privacy.Retention().Inquiry.Name]["protected"] != 1 {
		t.Errorf("the held inquiry was not reported protected: %v", rep.Counts)
	}
	for _, s := range items {
		got := e.get(t, s)
		name := fmt.Sprintf("%s/%s", s.table, str(s.item["sk"]))
		switch s.expect {
		case "kept":
			if !reflect.DeepEqual(unfiled(got), unfiled(s.item)) {
				t.Errorf("%s: changed, but it is inside its period (or held)", name)
			}
		case "deleted":
			if got != nil {
				t.Errorf("%s: still there past its period", name)
			}
		case "checked": // a suppression with no subscription to end: kept, and marked
			if got == nil || got[privacy.AttrSubscriptionChecked] == nil || got["retention_pk"] != nil {
				t.Errorf("%s: not marked checked, or still filed: %v", name, got)
			}
		case "stripped":
			for _, r := range s.removed {
				if r == "detail.source_ip" || r == "detail.user_agent" {
					d := got["detail"].(*types.AttributeValueMemberM).Value
					if _, ok := d[r[len("detail."):]]; ok || d["consent_text_version"] == nil {
						t.Errorf("%s: detail %v", name, d)
					}
				} else if _, ok := got[r]; ok {
					t.Errorf("%s: %s not stripped", name, r)
				}
			}
			if got == nil || got["pk"] == nil {
				t.Errorf("%s: deleted instead of stripped", name)
			}
			for k, v := range s.set {
				if str(got[k]) != v {
					t.Errorf("%s: %s is %q, want %q", name, k, str(got[k]), v)
				}
			}
		}
	}
	// The report is in the ledger.
	found := false
	for _, it := range e.all(t)[privacy.TableLedger] {
		found = found || str(it["event"]) == "retention_sweep"
	}
	if !found {
		t.Error("no sweep report in the ledger")
	}
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// seedCampaigns writes n campaign records past their expiry.
func seedCampaigns(t *testing.T, e env, n int) {
	for i := 0; i < n; i++ {
		e.put(t, seeded{table: privacy.TableOps, item: map[string]types.AttributeValue{
			"pk": S(fmt.Sprintf("CAMPAIGN#k%03d", i)), "sk": S("C"), "campaign": S("x"), "expires_at": N(now.Add(-time.Minute).Unix())}})
	}
}

// countingDB counts deletes and turns half of each batch into unprocessed
// items the first few times, as DynamoDB does under load.
type countingDB struct {
	*dynamodb.Client
	deletes   atomic.Int64
	unprocess atomic.Int64
	scans     atomic.Int64
}

func (c *countingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.scans.Add(1)
	return c.Client.Scan(ctx, in, opts...)
}

func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if n := len(in.RequestItems); n == 1 && c.unprocess.Load() > 0 {
		for table, reqs := range in.RequestItems {
			half := len(reqs) / 2
			if half == 0 {
				break
			}
			c.unprocess.Add(-1)
			out, err := c.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs[:half]}}, opts...)
			if err != nil {
				return nil, err
			}
			c.deletes.Add(int64(half))
			out.UnprocessedItems = map[string][]types.WriteRequest{table: reqs[half:]}
			return out, nil
		}
	}
	for _, reqs := range in.RequestItems {
		c.deletes.Add(int64(len(reqs)))
	}
	return c.Client.BatchWriteItem(ctx, in, opts...)
}

func TestResumeFromCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedCampaigns(t, e, 60)
	e.backfill(t)
	db := &countingDB{Client: e.db}
	s := e.sweeper(db)
	s.PageSize = 1
	runs, deleted := 0, 0
	for {
		runs++
		rep, err := s.Run(context.Background(), sweep.Options{Budget: 0}) // one page per shard per run
		if err != nil {
			t.Fatal(err)
		}
		if runs > 1 && !rep.Resumed {
			t.Fatalf("run %d did not resume", runs)
		}
		deleted += rep.Counts[privacy.Retention().CampaignRecord.Name]["deleted"]
		if rep.Complete {
			break
		}
		if runs > 100 {
			t.Fatal("the sweep never completes")
		}
	}
	if runs < 3 || deleted != 60 || db.deletes.Load() != 60 {
		t.Fatalf("%d runs, %d reported and %d written deletes; want several runs and 60 each", runs, deleted, db.deletes.Load())
	}
	if left := len(e.all(t)[privacy.TableOps]); left != 0 {
		t.Fatalf("%d ops items left", left)
	}
	// Complete: the next run starts afresh.
	if rep, _ := s.Run(context.Background(), sweep.Options{Budget: time.Minute}); rep.Resumed || !rep.Complete {
		t.Fatalf("after completion: %+v", rep)
	}
}

func TestUnprocessedItemsAreRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedCampaigns(t, e, 50)
	e.backfill(t)
	db := &countingDB{Client: e.db}
	db.unprocess.Store(5)
	s := e.sweeper(db)
	s.Workers, s.PageSize = 1, 100
	rep, err := s.Run(context.Background(), sweep.Options{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Retries == 0 || db.deletes.Load() != 50 || rep.Counts[privacy.Retention().CampaignRecord.Name]["deleted"] != 50 {
		t.Fatalf("retries %d, deletes %d, counts %v", rep.Retries, db.deletes.Load(), rep.Counts)
	}
	if left := len(e.all(t)[privacy.TableOps]); left != 0 {
		t.Fatalf("%d items left", left)
	}
}

// The operator's termination mark starts a clock the sweep then keeps: the
// client's records go 12 months later, not before.
func TestClientTermination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	store := dynamo.New(e.db, dynamo.Tables{Subjects: e.tables[privacy.TableSubjects], Ledger: e.tables[privacy.TableLedger]})
	subject := privacy.SubjectID(strings.Repeat("c", 64))
	inq := privacy.NewInquiry("i1", subject, privacy.ContactForm{Name: "C", Email: "c@client.example", Topic: "demo", Message: "m"},
		"v1", privacy.RequestMeta{ReceivedAt: now})
	if err := store.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	n, err := store.MarkClientTerminated(ctx, subject, privacy.Event{Subject: subject, Name: "client_termination_requested", At: now, Ref: "letter-1"})
	if err != nil || n != 1 {
		t.Fatalf("marked %d: %v", n, err)
	}
	for _, days := range []int{364, 366} {
		s := e.sweeper(e.db)
		s.Now = func() time.Time { return now.AddDate(0, 0, days) }
		s.Classes = []privacy.Class{privacy.Retention().ClientTermination}
		if _, err := s.Run(ctx, sweep.Options{Budget: time.Minute}); err != nil {
			t.Fatal(err)
		}
		items, _ := store.SubjectItems(ctx, subject)
		if want := map[int]int{364: 1, 366: 0}[days]; len(items) != want {
			t.Fatalf("after %d days: %d items, want %d", days, len(items), want)
		}
	}
}

// holdDuringRun is the sweep's storage with a hold placed right after the
// run read the holds: every item the run then judges, deletes or strips
// is judged by a stale list, as when the team places a legal hold (or a
// person's restriction is put in place) while a sweep is running.
type holdDuringRun struct {
	*dynamo.Sweep
	place func(ctx context.Context) error
}

func (h *holdDuringRun) HeldSubjects(ctx context.Context, now time.Time) (map[privacy.SubjectID]bool, error) {
	held, err := h.Sweep.HeldSubjects(ctx, now)
	if err != nil {
		return nil, err
	}
	return held, h.place(ctx)
}

// A hold placed during a run protects the person's items from that run's
// deletes and strips: each is conditional on the subject having no hold
// in force when it is written. Another person's expired items in the same
// batch still go.
func TestHoldPlacedDuringARunProtects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		place func(ctx context.Context, store *dynamo.Store, subject privacy.SubjectID) error
	}{
		{"legal hold", func(ctx context.Context, store *dynamo.Store, subject privacy.SubjectID) error {
			return store.PlaceHold(ctx, privacy.Hold{Subject: subject, Reason: "litigation LIT-9", PlacedBy: "dpo", PlacedAt: now},
				privacy.Event{Subject: subject, Name: "legal_hold_placed", At: now, Ref: "LIT-9"})
		}},
		{"restriction", func(ctx context.Context, store *dynamo.Store, subject privacy.SubjectID) error {
			return store.Restrict(ctx, subject, "r-1", privacy.Event{Subject: subject, Name: "restricted", At: now, Ref: "r-1"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			store := dynamo.New(e.db, dynamo.Tables{Subjects: e.tables[privacy.TableSubjects], Ledger: e.tables[privacy.TableLedger]})
			const subject = privacy.SubjectID("held-during-the-run")
			var kept []seeded
			for _, c := range []privacy.Class{privacy.Retention().Inquiry, privacy.Retention().RequestMeta, privacy.Retention().LedgerRequestMeta} {
				s := seedClass(c, "S#"+string(subject))[1] // past its period
				e.put(t, s)
				kept = append(kept, s)
			}
			other := seedClass(privacy.Retention().Inquiry, "S#someone-else")[1]
			e.put(t, other)
			e.backfill(t)

			s := e.sweeper(e.db)
			s.Store = &holdDuringRun{Sweep: s.Store.(*dynamo.Sweep), place: func(ctx context.Context) error { return tc.place(ctx, store, subject) }}
			rep, err := s.Run(ctx, sweep.Options{Budget: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kept {
				if got := e.get(t, k); !reflect.DeepEqual(unfiled(got), unfiled(k.item)) {
					t.Errorf("%s: deleted or stripped by the run though a hold was placed before it wrote", str(k.item["sk"]))
				}
			}
			if e.get(t, other) != nil {
				t.Error("another person's expired inquiry was kept")
			}
			r := privacy.Retention()
			for class, want := range map[string]map[string]int{
				r.Inquiry.Name:           {"protected": 1, "deleted": 1},
				r.RequestMeta.Name:       {"protected": 1},
				r.LedgerRequestMeta.Name: {"protected": 1},
			} {
				if !reflect.DeepEqual(rep.Counts[class], want) {
					t.Errorf("%s: counts %v, want %v", class, rep.Counts[class], want)
				}
			}
			// Looked at again a day later, not at every run.
			for _, k := range kept {
				n, _ := e.get(t, k)["retention_at"].(*types.AttributeValueMemberN)
				var at int64
				if n != nil {
					at, _ = strconv.ParseInt(n.Value, 10, 64)
				}
				if time.Unix(at, 0).Before(now.Add(sweep.ProtectedRecheck)) {
					t.Errorf("%s: filed again at %v", str(k.item["sk"]), time.Unix(at, 0))
				}
			}
		})
	}
}

// A legal hold protects the person's rights requests too (the requests
// table, keyed by request id, names the subject): the sweep neither strips
// nor deletes them while it is in force (the third review found it did).
func TestLegalHoldProtectsThePersonsRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	store := dynamo.New(e.db, dynamo.Tables{Subjects: e.tables[privacy.TableSubjects], Ledger: e.tables[privacy.TableLedger]})
	const subject = privacy.SubjectID("held-person-with-requests")
	if err := store.PlaceHold(ctx, privacy.Hold{Subject: subject, Reason: "litigation LIT-10", PlacedBy: "dpo", PlacedAt: now.AddDate(-4, 0, 0)},
		privacy.Event{Subject: subject, Name: "legal_hold_placed", At: now.AddDate(-4, 0, 0), Ref: "LIT-10"}); err != nil {
		t.Fatal(err)
	}
	r := privacy.Retention()
	var kept []seeded
	for i, c := range []privacy.Class{r.UnverifiedRequest, r.FinishedRequestAddress, r.CompletedRequest} {
		s := seedClass(c, fmt.Sprintf("R#held-req-%d", i))[1] // past its period
		s.item["subject"] = S(string(subject))
		s.item["sk"] = S("R")
		s.item["email"] = S("held@example.com")
		e.put(t, s)
		kept = append(kept, s)
	}
	ledger := seedClass(r.LedgerRequestMeta, "S#"+string(subject))[1]
	e.put(t, ledger)
	e.backfill(t)
	rep, err := e.sweeper(e.db).Run(ctx, sweep.Options{Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counts: %v", rep.Counts)
	if got := e.get(t, ledger); !reflect.DeepEqual(unfiled(got), unfiled(ledger.item)) {
		t.Errorf("the held person's ledger metadata was stripped")
	}
	for _, k := range kept {
		got := e.get(t, k)
		switch {
		case got == nil:
			t.Errorf("%s (%s): the held person's request was DELETED under a legal hold", str(k.item["pk"]), str(k.item["retention_class"]))
		case !reflect.DeepEqual(unfiled(got), unfiled(k.item)):
			t.Errorf("%s: the held person's request was stripped under a legal hold: email now %q, status %q",
				str(k.item["pk"]), str(got["email"]), str(got["status"]))
		}
	}
}
