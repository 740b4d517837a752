package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/forms"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/preferences"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// meter asks DynamoDB for the capacity every call consumes
// (ReturnConsumedCapacity TOTAL) and adds it up, reads and writes apart,
// and keeps when each call started and ended. Each call is held hold
// before it is sent, so calls made together overlap for certain on a busy
// machine (a goroutine started late would otherwise look sequential).
type meter struct {
	hold        time.Duration
	mu          sync.Mutex
	read, write float64
	spans       []span
	calls       []call
}

// call is one DynamoDB call as DynamoDB Local charged it: the operation,
// how many items it named, and the units of each table and each index
// (ReturnConsumedCapacity INDEXES).
type call struct {
	Op    string             `json:"op"`
	Items int                `json:"items"`
	Units float64            `json:"units"`
	Parts map[string]float64 `json:"parts"` // "<table>" and "<table>/<index>"
}

func (c call) String() string {
	names := make([]string, 0, len(c.Parts))
	for k := range c.Parts {
		names = append(names, k)
	}
	sort.Strings(names)
	s := fmt.Sprintf("%s (%d items) %.1f:", c.Op, c.Items, c.Units)
	for _, k := range names {
		s += fmt.Sprintf(" %s %.1f", k, c.Parts[k])
	}
	return s
}

type span struct{ start, end time.Time }

var readOps = map[string]bool{"GetItem": true, "Query": true, "Scan": true, "BatchGetItem": true, "TransactGetItems": true}

func (m *meter) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("consumedCapacity",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if f := reflect.ValueOf(in.Parameters).Elem().FieldByName("ReturnConsumedCapacity"); f.IsValid() {
					f.Set(reflect.ValueOf(types.ReturnConsumedCapacityIndexes))
				}
				start := time.Now()
				time.Sleep(m.hold)
				out, md, err := next.HandleInitialize(ctx, in)
				if err == nil {
					m.add(middleware.GetOperationName(ctx), itemsOf(in.Parameters), out.Result, span{start, time.Now()})
				}
				return out, md, err
			}), middleware.After)
	})
}

// itemsOf is how many items a call names.
func itemsOf(params any) int {
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		return len(in.TransactItems)
	case *dynamodb.TransactGetItemsInput:
		return len(in.TransactItems)
	case *dynamodb.BatchWriteItemInput:
		n := 0
		for _, w := range in.RequestItems {
			n += len(w)
		}
		return n
	case *dynamodb.BatchGetItemInput:
		n := 0
		for _, g := range in.RequestItems {
			n += len(g.Keys)
		}
		return n
	}
	return 1
}

func (m *meter) add(op string, items int, result any, sp span) {
	c := call{Op: op, Items: items, Parts: map[string]float64{}}
	part := func(cc types.ConsumedCapacity) {
		c.Units += aws.ToFloat64(cc.CapacityUnits)
		table := aws.ToString(cc.TableName)
		if cc.Table != nil {
			c.Parts[table] += aws.ToFloat64(cc.Table.CapacityUnits)
		}
		for name, ix := range cc.GlobalSecondaryIndexes {
			c.Parts[table+"/"+name] += aws.ToFloat64(ix.CapacityUnits)
		}
		for name, ix := range cc.LocalSecondaryIndexes {
			c.Parts[table+"/"+name] += aws.ToFloat64(ix.CapacityUnits)
		}
	}
	switch cc := reflect.ValueOf(result).Elem().FieldByName("ConsumedCapacity").Interface().(type) {
	case *types.ConsumedCapacity:
		if cc != nil {
			part(*cc)
		}
	case []types.ConsumedCapacity:
		for _, x := range cc {
			part(x)
		}
	}
	units := c.Units
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spans = append(m.spans, sp)
	m.calls = append(m.calls, c)
	if readOps[op] {
		m.read += units
	} else {
		m.write += units
	}
}

func (m *meter) take() (read, write float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	read, write, m.read, m.write = m.read, m.write, 0, 0
	return read, write
}

// takeCalls returns the calls since the last time.
func (m *meter) takeCalls() []call {
	m.mu.Lock()
	defer m.mu.Unlock()
	calls := m.calls
	m.calls = nil
	return calls
}

// roundTrips is how many calls since the last time were made one after
// the other: a call that starts after every call before it ended begins
// a new round trip; calls in flight together are one.
func (m *meter) roundTrips() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	spans := m.spans
	m.spans = nil
	sort.Slice(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
	n := 0
	var end time.Time
	for _, sp := range spans {
		if n == 0 || !sp.start.Before(end) {
			n++
		}
		if sp.end.After(end) {
			end = sp.end
		}
	}
	return n
}

// capacity is what one operation consumed, on average, against the
// minimum its data allows.
type capacity struct {
	Operation string  `json:"operation"`
	RCU       float64 `json:"rcu"`
	WCU       float64 `json:"wcu"`
	MinWCU    float64 `json:"min_wcu"`
	Ratio     float64 `json:"wcu_vs_min"`
	Minimum   string  `json:"minimum"`
	// RoundTrips is the most DynamoDB calls one submission made one
	// after another.
	RoundTrips int `json:"round_trips"`
	// Calls are the last submission's DynamoDB calls, each as DynamoDB
	// Local charged it, table by table and index by index.
	Calls []call `json:"calls"`
}

// benchCapacity runs each public write operation's handler in this process
// against DynamoDB Local, with a client that reads ConsumedCapacity, and
// compares the write units with the least the data model allows: the items
// the operation must write, in one transaction (2 WCU per item under 1 KB).
func benchCapacity(ctx context.Context, ddb string, t dynamo.Tables) ([]capacity, error) {
	m := &meter{hold: 10 * time.Millisecond}
	store := dynamo.New(ddbClient(ddb, m.option), t)
	hasher, err := privacy.NewHasher([]byte("capacity-pepper-0123456789-0123456789"))
	if err != nil {
		return nil, err
	}
	tokens, err := token.New([]byte("capacity-token-key-0123456789-0123456789"))
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	f := &forms.Forms{Store: store, Hasher: hasher, Tokens: tokens, Limits: forms.DefaultLimits(),
		Now: time.Now, NewID: uuid.NewString, Log: log}
	p := &preferences.Handlers{Store: store, Tokens: tokens, Now: time.Now, Log: log}
	rh := &rights.Handlers{Store: store, Hasher: hasher, Tokens: tokens, Now: time.Now,
		NewID: uuid.NewString, Log: log, ExcessPerMonth: 3, PerIP: rights.DefaultPerIP, PerAddress: rights.DefaultPerAddress,
		Fulfiller: &rights.Fulfiller{Store: store, Policy: privacy.FixedPolicy("v"), Log: log}}

	// The mailer's part of a contact: the inquiry's ledger entry, written
	// from the inquiry's stream record (mailer.Mailer.RecordChange) with
	// the metered client. The record is the inquiry as written, read back
	// unmetered (the stream's image, which costs the table nothing).
	// A site rights request's entry likewise, from the request's record.
	mail := &mailer.Mailer{Ledger: store, Hasher: hasher, Now: time.Now, Log: log}
	raw := ddbClient(ddb)
	plain := dynamo.New(raw, t)
	filed := map[int]string{} // the rights requests' ids

	const n = 20
	req := func(i int, body string, query map[string]string) httpapi.Request {
		return httpapi.Request{Body: body, Headers: map[string]string{"content-type": "application/json"}, Query: query,
			SourceIP: fmt.Sprintf("198.51.100.%d", i), // one per submission: under every limit
			Site:     httpapi.Site{PolicyVersion: "v"}}
	}
	addr := func(op string, i int) string { return fmt.Sprintf("cap-%s-%d@example.com", op, i) }
	ops := []struct {
		name, minimum string
		minWCU        float64
		do            func(i int) (int, error)
		// stream, when set, is what the stream's consumer writes of the
		// operation's change: counted in its units and calls, not in its
		// round trips (the submission does not wait for it).
		stream func(i int) error
	}{
		{"contact submission", "inquiry + ledger entry, 1 WCU each (no transaction)", 2, func(i int) (int, error) {
			resp, err := f.Contact(ctx, req(i, `{"name":"C","email":"`+addr("c", i)+`","message":"Hello"}`, nil))
			return resp.StatusCode, err
		}, func(i int) error {
			ch, err := inserted(ctx, plain, hasher.Subject(addr("c", i)), dynamo.KindInquiry)
			if err != nil {
				return err
			}
			return mail.RecordChange(ctx, ch)
		}},
		// The contact form's newsletter box: the inquiry and the signup in
		// one transaction (a visitor told "received" never loses the
		// opt-in), the inquiry's ledger entry the mailer's.
		{"contact with the newsletter box", "inquiry + subscription + 2 ledger entries", 8, func(i int) (int, error) {
			resp, err := f.Contact(ctx, req(i, `{"name":"C","email":"`+addr("cb", i)+`","message":"Hello","marketing_opt_in":true}`, nil))
			return resp.StatusCode, err
		}, func(i int) error {
			ch, err := inserted(ctx, plain, hasher.Subject(addr("cb", i)), dynamo.KindInquiry)
			if err != nil {
				return err
			}
			return mail.RecordChange(ctx, ch)
		}},
		{"newsletter signup", "subscription + ledger entry", 4, func(i int) (int, error) {
			resp, err := f.Subscribe(ctx, req(i, `{"email":"`+addr("s", i)+`","consent":true}`, nil))
			return resp.StatusCode, err
		}, nil},
		{"confirmation", "subscription + ledger entry", 4, func(i int) (int, error) {
			subject := hasher.Subject(addr("s", i))
			sub, err := dynamo.New(ddbClient(ddb), t).Subscription(ctx, subject)
			if err != nil {
				return 0, err
			}
			tok, _ := tokens.Sign(token.Claims{Purpose: token.ConfirmSubscription, Subject: subject, Ref: sub.SignupID, Expires: time.Now().Add(time.Hour)})
			resp, err := f.Confirm(ctx, req(i, "", map[string]string{"token": tok}))
			return resp.StatusCode, err
		}, nil},
		{"unsubscribe", "subscription + suppression + ledger entry", 6, func(i int) (int, error) {
			tok, _ := tokens.Sign(token.Claims{Purpose: token.Unsubscribe, Subject: hasher.Subject(addr("s", i)), Expires: time.Now().Add(time.Hour)})
			return http.StatusOK, p.Unsubscribe(ctx, preferences.Click{Token: tok, PolicyVersion: "v",
				Meta: privacy.RequestMeta{SourceIP: fmt.Sprintf("198.51.100.%d", i), ReceivedAt: time.Now()}})
		}, nil},
		{"rights request", "request + ledger entry, 1 WCU each (no transaction)", 2, func(i int) (int, error) {
			form, err := privacy.ParseRightsRequest(privacy.Input{"email": addr("r", i), "type": "access"})
			if err != nil {
				return 0, err
			}
			got, err := rh.File(ctx, rights.Filing{Form: form, PolicyVersion: "v",
				From: privacy.RequestMeta{SourceIP: fmt.Sprintf("198.51.100.%d", i), UserAgent: "Capacity/1", ReceivedAt: time.Now()}})
			filed[i] = got.ID
			return http.StatusAccepted, err
		}, func(i int) error {
			ch, err := insertedRequest(ctx, raw, t.Requests, filed[i])
			if err != nil {
				return err
			}
			return mail.RecordChange(ctx, ch)
		}},
	}
	var out []capacity
	for _, op := range ops {
		m.take()
		m.roundTrips()
		trips := 0
		var calls []call
		for i := 0; i < n; i++ {
			m.takeCalls()
			code, err := op.do(i)
			if err != nil || code >= 300 {
				return out, fmt.Errorf("%s %d: status %d, %v", op.name, i, code, err)
			}
			trips = max(trips, m.roundTrips())
			if op.stream != nil {
				if err := op.stream(i); err != nil {
					return out, fmt.Errorf("%s %d: the stream's write: %w", op.name, i, err)
				}
				m.roundTrips()
			}
			calls = m.takeCalls()
		}
		r, w := m.take()
		c := capacity{Operation: op.name, RCU: r / n, WCU: w / n, MinWCU: op.minWCU, Minimum: op.minimum, RoundTrips: trips, Calls: calls}
		c.Ratio = c.WCU / c.MinWCU
		out = append(out, c)
	}
	return out, nil
}

// inserted is the stream's INSERT record of subject's item of kind, as
// the mailer receives it: the item as written, decoded as the stream's
// image is (dynamo.DecodeChange).
func inserted(ctx context.Context, store *dynamo.Store, subject privacy.SubjectID, kind string) (privacy.Change, error) {
	items, err := store.SubjectItems(ctx, subject)
	if err != nil {
		return privacy.Change{}, err
	}
	for _, it := range items {
		if k, ok := it["kind"].(*types.AttributeValueMemberS); ok && k.Value == kind {
			keys := map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}
			return dynamo.DecodeChange(privacy.Change{Seq: "1"}, keys, nil, it), nil
		}
	}
	return privacy.Change{}, fmt.Errorf("no %s item of %s", kind, subject)
}

// insertedRequest is the stream's INSERT record of request id, as the
// mailer receives it: the item as written (read unmetered), decoded as
// the stream's image is.
func insertedRequest(ctx context.Context, db *dynamodb.Client, table, id string) (privacy.Change, error) {
	keys := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "R#" + id},
		"sk": &types.AttributeValueMemberS{Value: "REQUEST"}}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keys, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.Change{}, fmt.Errorf("read request %s: %w", id, err)
	}
	if out.Item == nil {
		return privacy.Change{}, fmt.Errorf("no request %s", id)
	}
	return dynamo.DecodeChange(privacy.Change{Seq: "1"}, keys, nil, out.Item), nil
}
