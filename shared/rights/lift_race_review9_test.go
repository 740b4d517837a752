package rights_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// R9L-2. Two lifts raced: a processor told twice. A person has two
// restrictions, each told to the same processor. Two team members lift
// one each at the same moment (the console and privacyctl). Each lift
// ends its own restriction, then asks whether one is still in force
// (Store.Restriction, a consistent read): both ask after both have ended,
// so both tell (desk.tellLift). TellLift's "each processor once" is kept
// in a map local to one call (told[proc]) and each call starts from its
// own request (ids: the lift's own first): the first lift gives the
// processor's delivery of the first restriction the person's address and
// the lift's mail_due, the second gives its delivery of the second
// restriction the same, before either reaches the other's delivery. The
// processor is emailed the lift, with the person's address, twice. The
// test holds the two lifts at the points where they interleave (both past
// the restriction check; each at its first email-making update) with a
// gate on the store's client, so the race is run, not waited for.
func TestReview9TwoLiftsRacedTellTheProcessorTwice(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	g := &gate{}
	db := dynamodb.NewFromConfig(localtest.AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(svc.DynamoDB)
		o.HTTPClient = &http.Client{Transport: g}
	})
	f := newFixtureOn(t, svc, db)
	store, c, ful := f.store, f.clock, f.desk.Fulfiller
	ctx := context.Background()
	proc := f.emailProcessor(t)
	addr := "raced@example.com"
	var ids []string
	for range 2 {
		id := f.file(t, `{"email":"`+addr+`","type":"restriction"}`)
		if st := f.verify(t, id); st != privacy.RequestCompleted {
			t.Fatalf("restriction: %q", st)
		}
		if d, err := store.Delivery(ctx, id, proc.ID); err != nil || d.State != privacy.RecipientEmailed {
			t.Fatalf("the processor told of restriction %s: %+v %v", id, d, err)
		}
		ids = append(ids, id)
	}

	// Two members, two desks, at once.
	checked := &barrier{n: 2}
	g.arm(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &rights.Desk{Store: checkedStore{Store: store, b: checked}, Fulfiller: ful, Now: c.Now, NewID: uuid.NewString,
				By: "arn:aws:iam::1:user/member" + string(rune('a'+i))}
			errs[i] = d.Lift(ctx, id, "The processing is lawful.")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("lift %s: %v", ids[i], err)
		}
	}
	// Told once: one of the processor's deliveries carries the lift's email
	// (the person's address again, for the mailer), the other is marked
	// lifted without one.
	emailed := 0
	for _, id := range ids {
		d, err := store.Delivery(ctx, id, proc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Lifted {
			t.Errorf("the processor's delivery of %s is not told of the lift: %+v", id, d)
		}
		if d.Identity == addr {
			emailed++
		}
	}
	if emailed != 1 {
		t.Errorf("two lifts at once: %d lift emails with the person's address to the one processor, want 1", emailed)
	}
}

// checkedStore holds each lift at its restriction check until both lifts
// have ended their own restriction (both then find none in force).
type checkedStore struct {
	*dynamo.Store
	b *barrier
}

func (s checkedStore) Restriction(ctx context.Context, subject privacy.SubjectID) ([]string, error) {
	s.b.wait()
	return s.Store.Restriction(ctx, subject)
}

// barrier lets n callers through together (or after 5 s, so a fix that
// makes fewer callers come cannot hang the test).
type barrier struct {
	mu   sync.Mutex
	n    int
	once sync.Once
	ch   chan struct{}
}

func (b *barrier) wait() {
	b.mu.Lock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	b.n--
	if b.n <= 0 {
		b.once.Do(func() { close(b.ch) })
	}
	ch := b.ch
	b.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

// gate holds the store's email-making UpdateItems of a lift (the ones
// giving a delivery the person's address again) until armed many have
// come.
type gate struct {
	mu sync.Mutex
	b  *barrier
}

func (g *gate) arm(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.b = &barrier{n: n}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".UpdateItem") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		g.mu.Lock()
		b := g.b
		g.mu.Unlock()
		if b != nil && bytes.Contains(body, []byte("SET identity_value = :id, lifted_at = :at")) {
			b.wait()
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}
