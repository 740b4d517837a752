package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// rightsBench is the latency of one subject's access export, of finding a
// subject by the sha256 of its address (an OpenDSR hashed identity), and
// of its erasure, with few and with many other subjects in the tables: the
// ratios stay near 1 when all read and delete by key, never by scan.
type rightsBench struct {
	Others      [2]int     `json:"other_subjects"`
	Items       [2]int     `json:"items_seeded"`
	Targets     int        `json:"subjects_measured"`
	AccessMS    [2]float64 `json:"access_median_ms"`
	EraseMS     [2]float64 `json:"erasure_median_ms"`
	AccessRatio float64    `json:"access_many_vs_few"`
	EraseRatio  float64    `json:"erasure_many_vs_few"`
}

func benchEmail(i int) string { return fmt.Sprintf("user%d@example.com", i) }

// benchRights measures targets subjects (each is erased once) among few
// and among many others.
func benchRights(ctx context.Context, db *dynamodb.Client, ddb string, few, many, targets int) (rightsBench, error) {
	r := rightsBench{Others: [2]int{few, many}, Targets: targets}
	now := time.Now().UTC()
	var stores [2]*dynamo.Store
	for k, others := range r.Others {
		names, err := local.CreateTablesOnly(ctx, local.Config{Template: "template.yaml", DynamoDBEndpoint: ddb,
			TablePrefix: fmt.Sprintf("rb%d%d-", time.Now().UnixNano()%1e9, k)})
		if err != nil {
			return r, err
		}
		defer func() {
			for _, name := range names {
				_, _ = db.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
			}
		}()
		t := tablesByRole(names) // the ops table: the processors an export names
		if err := noStreams(ctx, db, t.Subjects, t.Requests); err != nil {
			return r, err
		}
		if r.Items[k], err = seedSubjects(ctx, db, t, others+targets, now); err != nil {
			return r, err
		}
		stores[k] = dynamo.New(db, t)
	}
	// The measured subjects are the last ones seeded: every one has an
	// inquiry, a subscription, ledger entries, a suppression and a request.
	target := func(k, i int) privacy.RightsRequest {
		n := r.Others[k] + i
		return privacy.RightsRequest{ID: fmt.Sprintf("req-%d", n), Subject: privacy.SubjectID(benchSubject(n))}
	}
	access := func(k, i int) (time.Duration, error) {
		t0 := time.Now()
		ex, err := rights.ExportFor(ctx, stores[k], "Bench", target(k, i), nil, now)
		d := time.Since(t0)
		if err == nil && (len(ex.Records) != 2 || len(ex.Consent) != 2 || len(ex.Suppression) != 1 || len(ex.Requests) != 1) {
			err = fmt.Errorf("export: %d records, %d events, %d suppressions, %d requests",
				len(ex.Records), len(ex.Consent), len(ex.Suppression), len(ex.Requests))
		}
		return d, err
	}
	erase := func(k, i int) (time.Duration, error) {
		req := target(k, i)
		subject := privacy.SubjectID(req.Subject)
		t0 := time.Now()
		_, deleted, err := stores[k].Erase(ctx, subject, req.ID, privacy.Event{Subject: subject, Name: "erased", At: now, Ref: req.ID})
		d := time.Since(t0)
		if err == nil && deleted != 4 {
			err = fmt.Errorf("erasure deleted %d items, want 4", deleted)
		}
		return d, err
	}
	// Warm up (the JVM, the connections), then measure both sizes in turn,
	// subject by subject, so that neither gets a quieter moment.
	for i := 0; i < targets; i++ {
		if _, err := access(0, i); err != nil {
			return r, err
		}
	}
	for _, m := range []struct {
		op  func(k, i int) (time.Duration, error)
		out *[2]float64
	}{{access, &r.AccessMS}, {erase, &r.EraseMS}} {
		var lat [2][]time.Duration
		for i := 0; i < targets; i++ {
			for k := range stores {
				d, err := m.op(k, i)
				if err != nil {
					return r, fmt.Errorf("subject %d among %d: %w", i, r.Others[k], err)
				}
				lat[k] = append(lat[k], d)
			}
		}
		m.out[0], m.out[1] = medianMS(lat[0]), medianMS(lat[1])
	}
	r.AccessRatio = r.AccessMS[1] / r.AccessMS[0]
	r.EraseRatio = r.EraseMS[1] / r.EraseMS[0]
	return r, nil
}

// tablesByRole names the tables CreateTablesOnly made by their roles.
func tablesByRole(names []string) dynamo.Tables {
	var t dynamo.Tables
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, "SubjectsTable"):
			t.Subjects = name
		case strings.HasSuffix(name, "LedgerTable"):
			t.Ledger = name
		case strings.HasSuffix(name, "SuppressionTable"):
			t.Suppression = name
		case strings.HasSuffix(name, "RequestsTable"):
			t.Requests = name
		case strings.HasSuffix(name, "OpsTable"):
			t.Ops = name
		}
	}
	return t
}

// noStreams turns the tables' streams off: no mailer runs in these
// benchmarks, and DynamoDB Local's in-process streams would only add cost
// to every write.
func noStreams(ctx context.Context, db *dynamodb.Client, tables ...string) error {
	for _, name := range tables {
		if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
			return fmt.Errorf("disable stream: %w", err)
		}
	}
	return nil
}

func benchSubject(i int) string { return fmt.Sprintf("%064x", i) }

// seedSubjects gives each of n subjects an inquiry and a subscription, two
// ledger entries, a suppression and a request: 6 items, in four tables.
func seedSubjects(ctx context.Context, db *dynamodb.Client, t dynamo.Tables, n int, now time.Time) (int, error) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	at := now.Add(-time.Hour).Format(time.RFC3339Nano)
	subjects := func(i int) map[string]types.AttributeValue {
		pk, sub, email := "S#"+benchSubject(i/2), benchSubject(i/2), benchEmail(i/2)
		item := map[string]types.AttributeValue{"pk": s(pk), "sk": s("SUB"), "kind": s("subscription"), "status": s("confirmed"),
			"subject": s(sub), "email": s(email), "confirmed_at": s(at)}
		if i%2 == 1 {
			item = map[string]types.AttributeValue{"pk": s(pk), "sk": s("INQ#" + at + "#" + sub[:8]), "kind": s("inquiry"),
				"subject": s(sub), "email": s(email), "message": s("Hello"), "created_at": s(at)}
		}
		return item
	}
	ledger := func(i int) map[string]types.AttributeValue {
		ev := []string{"subscribe_requested", "subscription_confirmed"}[i%2]
		return map[string]types.AttributeValue{"pk": s("S#" + benchSubject(i/2)), "sk": s(at + "#" + ev + "#x"),
			"subject": s(benchSubject(i / 2)), "event": s(ev), "at": s(at)}
	}
	suppression := func(i int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s("S#" + benchSubject(i)), "sk": s(privacy.SuppressUnsubscribed),
			"subject": s(benchSubject(i)), "since": s(at)}
	}
	requests := func(i int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s(fmt.Sprintf("R#req-%d", i)), "sk": s("REQUEST"), "kind": s(dynamo.KindRequest),
			"id": s(fmt.Sprintf("req-%d", i)), "subject": s(benchSubject(i)), "type": s(string(privacy.RightAccess)),
			"regulation": s(privacy.RegulationGDPR), "status": s(string(privacy.RequestPending)), "received_at": s(at),
			"due_at": s(privacy.DueAt(privacy.RegulationGDPR, now).Format(time.RFC3339))}
	}
	for _, w := range []struct {
		table string
		n     int
		gen   func(int) map[string]types.AttributeValue
	}{{t.Subjects, 2 * n, subjects}, {t.Ledger, 2 * n, ledger}, {t.Suppression, n, suppression}, {t.Requests, n, requests}} {
		if err := writeAll(ctx, db, w.table, w.n, w.gen); err != nil {
			return 0, fmt.Errorf("seed %s: %w", w.table, err)
		}
	}
	return 6 * n, nil
}

func medianMS(lat []time.Duration) float64 {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2].Microseconds()) / 1000
}
