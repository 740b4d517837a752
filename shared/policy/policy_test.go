package policy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// clock is a fake clock that the planner's waits advance: its pacing is
// checked in time it says, not in wall time.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t, c.slept = c.t.Add(d), c.slept+d
	return nil
}

// killAfter is the store with PutNotice failing after n calls: a planner
// killed midway.
type killAfter struct {
	*dynamo.Store
	n int
}

func (k *killAfter) PutNotice(ctx context.Context, n privacy.Notice, at time.Time) (bool, string, error) {
	if k.n <= 0 {
		return false, "", errors.New("killed")
	}
	k.n--
	return k.Store.PutNotice(ctx, n, at)
}

type world struct {
	store       *dynamo.Store
	db          *dynamodb.Client
	table       string
	subscribers []privacy.Subscription
	// requesters are the addresses a material change must reach through
	// an open request; others are requests it must not.
	requesters []string
	// inquirers are the addresses it must reach through an inquiry kept.
	inquirers []string
}

// seed puts confirmed subscribers (topics newsletter, some events too), a
// pending signup, and requests in every state that matters.
func seed(t *testing.T, n int) *world {
	t.Helper()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	w := &world{db: db, table: tables["SubjectsTable"], store: dynamo.New(db, dynamo.Tables{Subjects: tables["SubjectsTable"],
		Ledger: tables["LedgerTable"], Suppression: tables["SuppressionTable"], Requests: tables["RequestsTable"], Ops: tables["OpsTable"]})}
	ctx := context.Background()
	u := localtest.Unique()
	now := time.Now().UTC()
	sign := func(i int, topics []string, confirm bool) privacy.SubjectID {
		email := fmt.Sprintf("s%d-%s@example.com", i, u)
		subject := privacy.SubjectID(fmt.Sprintf("sub-%d-%s", i, u))
		e := privacy.Event{Subject: subject, Name: "subscribe_requested", At: now, Ref: "sg"}
		if _, err := w.store.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: email, Topics: topics},
			Subject: subject, ID: "sg", Event: e}); err != nil {
			t.Fatal(err)
		}
		if confirm {
			e.Name = "subscription_confirmed"
			if _, err := w.store.ConfirmSubscription(ctx, subject, "sg", e); err != nil {
				t.Fatal(err)
			}
			w.subscribers = append(w.subscribers, privacy.Subscription{Subject: subject, Email: email, Topics: topics})
		}
		return subject
	}
	for i := 0; i < n; i++ {
		topics := []string{"newsletter"}
		if i%3 == 0 {
			topics = append(topics, "events")
		}
		sign(i, topics, true)
	}
	sign(n, []string{"newsletter"}, false) // never confirmed: told nothing
	file := func(id string, subject privacy.SubjectID, email, parent string, status privacy.Status, source string) {
		r := privacy.RightsRequest{ID: id + "-" + u, Subject: subject, Email: email, ParentEmail: parent, Type: privacy.RightAccess,
			Regulation: "gdpr", Status: status, Source: source, ReceivedAt: now, DueAt: now.AddDate(0, 1, 0)}
		if err := w.store.CreateRequest(ctx, r, privacy.Event{Subject: subject, Name: "request_received", At: now, Ref: r.ID}); err != nil {
			t.Fatal(err)
		}
	}
	// The first subscriber also has two open requests: told once.
	first := w.subscribers[0]
	file("r-sub1", first.Subject, first.Email, "", privacy.RequestAwaitingReview, "")
	file("r-sub2", first.Subject, first.Email, "", privacy.RequestPending, "")
	for i, st := range []privacy.Status{privacy.RequestPending, privacy.RequestInProgress, privacy.RequestAwaitingReview} {
		email := fmt.Sprintf("req%d-%s@example.com", i, u)
		file(fmt.Sprintf("r%d", i), privacy.SubjectID("rq-"+email), email, "", st, "")
		w.requesters = append(w.requesters, email)
	}
	// A child's request is answered to the parent, who is not told: their
	// notice's links would act on the child's key.
	parent := "parent-" + u + "@example.com"
	file("r-child", "rq-child-"+privacy.SubjectID(u), "child-"+u+"@example.com", parent, privacy.RequestPending, "")
	// Never told: an unverified request (the address is not proven), a
	// finished one, and an OpenDSR one (the controller tells its person).
	file("r-unverified", "rq-unv-"+privacy.SubjectID(u), "unverified-"+u+"@example.com", "", privacy.RequestIdentityUnverified, "")
	file("r-done", "rq-done-"+privacy.SubjectID(u), "done-"+u+"@example.com", "", privacy.RequestCompleted, "")
	file("r-opendsr", "rq-odsr-"+privacy.SubjectID(u), "odsr-"+u+"@example.com", "", privacy.RequestPending, privacy.SourceOpenDSR)
	// People whose inquiries are kept are told; the subscriber who also
	// wrote to us is told once (as a subscriber); an inquiry past its
	// expiry that TTL has not yet deleted tells no one.
	ask := func(id string, subject privacy.SubjectID, email string, received time.Time) {
		i := privacy.NewInquiry(id+"-"+u, subject, privacy.ContactForm{Name: "N", Email: email, Message: "m"}, "v1",
			privacy.RequestMeta{ReceivedAt: received})
		if err := w.store.SaveInquiry(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		email := fmt.Sprintf("inq%d-%s@example.com", i, u)
		ask(fmt.Sprintf("i%d", i), privacy.SubjectID("iq-"+email), email, now.AddDate(0, -i, 0))
		w.inquirers = append(w.inquirers, email)
	}
	ask("i-sub", first.Subject, first.Email, now)
	ask("i-old", "iq-old-"+privacy.SubjectID(u), "old-"+u+"@example.com", now.AddDate(-3, 0, 0))
	return w
}

// notices returns every notice made, by address, and the subscriptions'
// topics by address.
func (w *world) notices(t *testing.T, version string) (map[string][]privacy.Notice, map[string][]string) {
	t.Helper()
	out, topics := map[string][]privacy.Notice{}, map[string][]string{}
	p := dynamodb.NewScanPaginator(w.db, &dynamodb.ScanInput{TableName: &w.table})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if n, err := dynamo.DecodeNotice(it); err == nil && n.Version.Version == version {
				out[n.Email] = append(out[n.Email], n)
			} else if sub, err := dynamo.DecodeSubscription(it); err == nil {
				topics[sub.Email] = sub.Topics
			}
		}
	}
	return out, topics
}

func publish(t *testing.T, w *world, v privacy.PolicyVersion) privacy.PolicyVersion {
	t.Helper()
	v.Effective, v.PublishedAt = time.Now().UTC().Truncate(24*time.Hour), time.Now().UTC()
	v, err := policy.Publish(v, privacy.PolicyVersion{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.PublishPolicy(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	return v
}

func planner(store policy.PlannerStore, c *clock, rate float64) *policy.Planner {
	return &policy.Planner{Store: store, Rate: rate, Page: 7, Now: c.Now, Sleep: c.Sleep, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

// A material change reaches every confirmed subscriber, every person
// with an open, verified request and every person whose inquiry is kept
// exactly once, also when the planner is
// killed midway and run again; its progress counts each once; the rate
// holds; nothing is enrolled in a new topic.
func TestMaterialChangeReachesEachPersonOnce(t *testing.T) {
	t.Parallel()
	w := seed(t, 40)
	v := publish(t, w, privacy.PolicyVersion{Version: "v-material-" + localtest.Unique(), Summary: "We now keep X.", Material: true,
		NewPurposes: []string{"product_updates"}})
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	far := c.t.Add(time.Hour)

	// Killed after 17 notices, mid-page; then killed again in the
	// requesters' pages; then run to the end.
	for _, k := range []int{17, 30} {
		if _, err := planner(&killAfter{Store: w.store, n: k}, c, 10).Run(ctx, far); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("a killed run: %v", err)
		}
	}
	reps, err := planner(w.store, c, 10).Run(ctx, far)
	if err != nil || len(reps) != 1 || !reps[0].Done {
		t.Fatalf("run: %+v %v", reps, err)
	}
	got, topics := w.notices(t, v.Version)
	want := map[string]string{}
	for _, s := range w.subscribers {
		want[s.Email] = privacy.NoticeSubscribers
	}
	for _, r := range w.requesters {
		want[r] = privacy.NoticeRequesters
	}
	for _, r := range w.inquirers {
		want[r] = privacy.NoticeInquirers
	}
	for addr, audience := range want {
		if len(got[addr]) != 1 || got[addr][0].Audience != audience {
			t.Errorf("%s: %d notices %+v, want one to %s", addr, len(got[addr]), got[addr], audience)
		}
	}
	if len(got) != len(want) {
		var extra []string
		for addr := range got {
			if _, ok := want[addr]; !ok {
				extra = append(extra, addr)
			}
		}
		sort.Strings(extra)
		t.Errorf("notices to %d people, want %d; not due: %v", len(got), len(want), extra)
	}
	// Each subscriber is offered the new topic; none has it.
	for _, s := range w.subscribers {
		if n := got[s.Email]; len(n) == 1 && (len(n[0].Offers) != 1 || n[0].Offers[0] != "product_updates") {
			t.Errorf("%s offered %v", s.Email, n[0].Offers)
		}
		for _, tp := range topics[s.Email] {
			if tp == "product_updates" {
				t.Errorf("%s was enrolled in the new topic without confirming", s.Email)
			}
		}
	}
	vs, err := w.store.PolicyVersions(ctx)
	if err != nil || len(vs) != 1 {
		t.Fatal(vs, err)
	}
	if p := vs[0].Notices; p.State != privacy.NoticesDone || p.Subscribers != len(w.subscribers) || p.Requesters != len(w.requesters) ||
		p.Inquirers != len(w.inquirers) {
		t.Fatalf("progress %+v, want %d subscribers, %d requesters and %d inquirers", p, len(w.subscribers), len(w.requesters),
			len(w.inquirers))
	}
	// The pace: len(want) notices at 10 a second take (len-1)/10 s of the
	// clock's time, whatever the kills (each run paces from its start).
	if c.slept < time.Duration(len(want)-3)*100*time.Millisecond {
		t.Fatalf("paced %v for %d notices at 10/s", c.slept, len(want))
	}
	// A run after the end makes nothing.
	again, err := planner(w.store, c, 10).Run(ctx, far)
	if err != nil || len(again) != 0 {
		t.Fatalf("a run after the end: %+v %v", again, err)
	}
}

// A run at its deadline stops and saves where it was; the next resumes.
// The rate is held: at 5 a second, a run of 4 s makes about 20.
func TestPlannerPausesAtItsDeadlineAndHoldsItsRate(t *testing.T) {
	t.Parallel()
	w := seed(t, 30)
	v := publish(t, w, privacy.PolicyVersion{Version: "v-rate-" + localtest.Unique(), Summary: "S", Material: true})
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	reps, err := planner(w.store, c, 5).Run(ctx, c.t.Add(4*time.Second))
	if err != nil || len(reps) != 1 || reps[0].Done {
		t.Fatalf("paused run: %+v %v", reps, err)
	}
	// It checks the deadline between pages: at most a page (7) past 20.
	if made := reps[0].Made; made < 20 || made > 27 {
		t.Fatalf("made %d in 4 s at 5/s", made)
	}
	rate := float64(reps[0].Made-1) / c.slept.Seconds()
	if rate < 4.5 || rate > 5.5 {
		t.Fatalf("rate %.2f/s, configured 5/s", rate)
	}
	reps, err = planner(w.store, c, 5).Run(ctx, c.t.Add(time.Hour))
	if err != nil || len(reps) != 1 || !reps[0].Done {
		t.Fatalf("resumed run: %+v %v", reps, err)
	}
	got, _ := w.notices(t, v.Version)
	for addr, n := range got {
		if len(n) != 1 {
			t.Errorf("%s: %d notices", addr, len(n))
		}
	}
	if want := len(w.subscribers) + len(w.requesters) + len(w.inquirers); len(got) != want {
		t.Fatalf("%d notices, want %d", len(got), want)
	}
}

// A version that is not material tells nobody; one that only adds a
// purpose is offered to the subscribers without it, and enrols nobody.
func TestNonMaterialAndNewPurposeVersions(t *testing.T) {
	t.Parallel()
	w := seed(t, 12)
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	quiet := publish(t, w, privacy.PolicyVersion{Version: "v-quiet-" + localtest.Unique(), Summary: "Typos fixed."})
	if quiet.Notices.State != privacy.NoticesNone {
		t.Fatalf("a non-material version's notices: %s", quiet.Notices.State)
	}
	offer := publish(t, w, privacy.PolicyVersion{Version: "v-offer-" + localtest.Unique(), Summary: "Now also events.",
		NewPurposes: []string{"events"}})
	if _, err := planner(w.store, c, 100).Run(ctx, c.t.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.notices(t, quiet.Version); len(got) != 0 {
		t.Fatalf("a non-material version reached %d people", len(got))
	}
	got, topics := w.notices(t, offer.Version)
	for _, s := range w.subscribers {
		has := false
		for _, tp := range s.Topics {
			has = has || tp == "events"
		}
		switch n := got[s.Email]; {
		case has && len(n) != 0:
			t.Errorf("%s has events and was offered it", s.Email)
		case !has && (len(n) != 1 || len(n[0].Offers) != 1 || n[0].Offers[0] != "events"):
			t.Errorf("%s: %+v, want one offer of events", s.Email, n)
		case !has && len(topics[s.Email]) != 1:
			t.Errorf("%s was enrolled: %v", s.Email, topics[s.Email])
		}
	}
	for _, r := range w.requesters {
		if len(got[r]) != 0 {
			t.Errorf("a new purpose was told to requester %s", r)
		}
	}
}

func TestPublishChecks(t *testing.T) {
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		v    privacy.PolicyVersion
		ok   bool
	}{
		{"plain", privacy.PolicyVersion{Version: "v2", Effective: day}, true},
		{"material", privacy.PolicyVersion{Version: "v2", Effective: day, Summary: "S", Material: true}, true},
		{"no name", privacy.PolicyVersion{Effective: day}, false},
		{"a name with #", privacy.PolicyVersion{Version: "v#2", Effective: day}, false},
		{"no day", privacy.PolicyVersion{Version: "v2"}, false},
		{"material without summary", privacy.PolicyVersion{Version: "v2", Effective: day, Material: true}, false},
		{"unknown purpose", privacy.PolicyVersion{Version: "v2", Effective: day, Summary: "S", NewPurposes: []string{"gossip"}}, false},
		{"a summary that hides text", privacy.PolicyVersion{Version: "v2", Effective: day, Summary: "We sell\u202e nothing", Material: true}, false},
		{"a basis stated again", privacy.PolicyVersion{Version: "v2", Effective: day,
			Bases: privacy.Bases{privacy.PurposeMarketing: privacy.BasisLegitimateInterest}}, true},
		{"a basis changed, material", privacy.PolicyVersion{Version: "v2", Effective: day, Summary: "S", Material: true,
			Bases: privacy.Bases{privacy.PurposeMarketing: privacy.BasisConsent}}, true},
		{"a basis changed, not material", privacy.PolicyVersion{Version: "v2", Effective: day,
			Bases: privacy.Bases{privacy.PurposeMarketing: privacy.BasisConsent}}, false},
		{"a basis the law does not know", privacy.PolicyVersion{Version: "v2", Effective: day, Summary: "S", Material: true,
			Bases: privacy.Bases{privacy.PurposeMarketing: "vital_interest_of_sales"}}, false},
		{"a basis of a purpose not stated", privacy.PolicyVersion{Version: "v2", Effective: day, Summary: "S", Material: true,
			Bases: privacy.Bases{"profiling": privacy.BasisConsent}}, false},
	} {
		if _, err := policy.Publish(c.v, privacy.InitialPolicy("2018-07-10")); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// The cache reads the versions at most every TTL and keeps what it read
// when a read fails.
func TestCache(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	s := &versions{list: []privacy.PolicyVersion{{Version: "v2", Effective: c.t.Add(-time.Hour)}}}
	cache := &policy.Cache{Store: s, Initial: privacy.InitialPolicy("v1"), TTL: time.Minute, Now: c.Now,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := context.Background()
	if v := cache.InForce(ctx); v.Version != "v2" || s.reads != 1 {
		t.Fatalf("%s after %d reads", v.Version, s.reads)
	}
	s.list = append(s.list, privacy.PolicyVersion{Version: "v3", Effective: c.t.Add(-time.Minute), PublishedAt: c.t})
	if v := cache.InForce(ctx); v.Version != "v2" || s.reads != 1 {
		t.Fatalf("within the TTL: %s after %d reads", v.Version, s.reads)
	}
	_ = c.Sleep(ctx, time.Minute)
	if v := cache.InForce(ctx); v.Version != "v3" || s.reads != 2 {
		t.Fatalf("after the TTL: %s after %d reads", v.Version, s.reads)
	}
	s.fail = true
	_ = c.Sleep(ctx, time.Minute)
	if v := cache.InForce(ctx); v.Version != "v3" {
		t.Fatalf("a failed read: %s", v.Version)
	}
}

type versions struct {
	list  []privacy.PolicyVersion
	reads int
	fail  bool
}

func (v *versions) PolicyVersions(context.Context) ([]privacy.PolicyVersion, error) {
	if v.fail {
		return nil, errors.New("unavailable")
	}
	v.reads++
	return append([]privacy.PolicyVersion(nil), v.list...), nil
}
