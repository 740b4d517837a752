package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// SweepAPI is the part of DynamoDB the retention sweep uses: no Scan.
type SweepAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Sweep is the retention sweep's storage: what is due read from each
// table's retention index (the items themselves read consistently),
// deletes in batches (unprocessed items and throttling retried with
// backoff), strips conditional on the clock they were judged by, the
// holds, the checkpoint and the run's record in the ledger.
type Sweep struct {
	DB     SweepAPI
	Tables map[privacy.Table]string
}

// sweepItem is an item as read.
type sweepItem map[string]types.AttributeValue

func (it sweepItem) String(name string) string { return s1(it, name) }

// Has reports whether the item carries an attribute; a path "a.b" reaches
// into a map.
func (it sweepItem) Has(name string) bool {
	m := map[string]types.AttributeValue(it)
	parts := strings.Split(name, ".")
	for i, p := range parts {
		v, ok := m[p]
		if !ok {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		mv, ok := v.(*types.AttributeValueMemberM)
		if !ok {
			return false
		}
		m = mv.Value
	}
	return false
}

func (it sweepItem) Time(name string) (time.Time, bool) {
	switch v := it[name].(type) {
	case *types.AttributeValueMemberS:
		t, err := parseTS(v.Value)
		return t, err == nil && !t.IsZero()
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseFloat(v.Value, 64)
		return time.Unix(int64(n), 0), err == nil
	}
	return time.Time{}, false
}

func (it sweepItem) Subject() (privacy.SubjectID, bool) {
	if sub, ok := strings.CutPrefix(s1(it, attrPK), "S#"); ok {
		return privacy.SubjectID(sub), true
	}
	// A rights request (keyed by its id) is its subject's data too: a
	// legal hold protects the person's requests as the rest.
	sub := s1(it, "subject")
	return privacy.SubjectID(sub), strings.HasPrefix(s1(it, attrPK), "R#") && sub != ""
}

func (it sweepItem) key() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}
}

// stripped is the item as a strip of class c leaves it.
func (it sweepItem) stripped(c privacy.Class) sweepItem {
	out := maps.Clone(it)
	for _, p := range c.Remove {
		head, rest, nested := strings.Cut(p, ".")
		if !nested {
			delete(out, p)
			continue
		}
		if m, ok := out[head].(*types.AttributeValueMemberM); ok {
			inner := maps.Clone(m.Value)
			delete(inner, rest)
			out[head] = &types.AttributeValueMemberM{Value: inner}
		}
	}
	for k, v := range c.Set {
		out[k] = str(v)
	}
	return out
}

// Swept reports whether the sweep has the table to sweep.
func (s *Sweep) Swept(t privacy.Table) bool { return s.Tables[t] != "" }

// DuePage reads one page of what shard of table t's retention index
// holds due by now, from a position (nil: the start), and the items
// themselves, consistently (an index entry is eventually consistent: the
// item is judged as it is). entries counts the index entries read; an item
// gone since is left out. next is nil after the last page.
func (s *Sweep) DuePage(ctx context.Context, t privacy.Table, shard int, now time.Time, limit int32,
	from map[string]string) (items []privacy.Item, entries int, next map[string]string, err error) {
	name := s.Tables[t]
	in := &dynamodb.QueryInput{TableName: &name, IndexName: aws.String(dueIndex), Limit: aws.Int32(limit),
		KeyConditionExpression:    aws.String(attrDuePK + " = :p AND " + attrDueAt + " <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(privacy.RetentionShardName(shard)), ":now": num(now.Unix())}}
	if from != nil {
		in.ExclusiveStartKey = map[string]types.AttributeValue{}
		for k, v := range from {
			in.ExclusiveStartKey[k] = str(v)
		}
		in.ExclusiveStartKey[attrDueAt] = num(0)
		if n, err := strconv.ParseInt(from[attrDueAt], 10, 64); err == nil {
			in.ExclusiveStartKey[attrDueAt] = num(n)
		}
	}
	out, err := s.DB.Query(ctx, in)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("query %s retention index shard %d: %w", name, shard, err)
	}
	if out.LastEvaluatedKey != nil {
		next = map[string]string{}
		for k, v := range out.LastEvaluatedKey {
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				next[k] = v.Value
			case *types.AttributeValueMemberN:
				next[k] = v.Value
			}
		}
	}
	keys := make([]map[string]types.AttributeValue, len(out.Items))
	for i, it := range out.Items {
		keys[i] = sweepItem(it).key()
	}
	got, err := s.batchGet(ctx, name, keys)
	if err != nil {
		return nil, 0, nil, err
	}
	items = make([]privacy.Item, len(got))
	for i, it := range got {
		items[i] = sweepItem(it)
	}
	return items, len(out.Items), next, nil
}

// batchGet reads items by key, consistently, 100 to a BatchGetItem,
// retrying unprocessed keys with backoff.
func (s *Sweep) batchGet(ctx context.Context, name string, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for chunk := range slices.Chunk(keys, 100) {
		req := map[string]types.KeysAndAttributes{name: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		_, err := untilProcessed(ctx, func() (bool, error) {
			res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return false, err
			}
			out, req = append(out, res.Responses[name]...), res.UnprocessedKeys
			return len(req) == 0, nil
		})
		if err != nil {
			return nil, fmt.Errorf("batch get on %s: %w", name, err)
		}
	}
	return out, nil
}

// untilProcessed calls a batch call until it reports that nothing is left
// unprocessed, retrying throttling and unprocessed items with exponential
// backoff (25 ms to 5 s, 12 retries). It reports the retries it took.
func untilProcessed(ctx context.Context, call func() (done bool, err error)) (int, error) {
	backoff := 25 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt > 12 {
				return attempt - 1, errors.New("still unprocessed after 12 retries")
			}
			select {
			case <-ctx.Done():
				return attempt, ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		done, err := call()
		if err != nil && !throttled(err) {
			return attempt, err
		}
		if err == nil && done {
			return attempt, nil
		}
	}
}

// Refile files an item under its next due time (privacy.NextDue), or
// notBefore if that is later (a protected item, or one whose clock could
// not be read, is looked at again then), or takes it out of the index
// when no class applies to it any more and no notBefore is given; unless
// the item was filed anew since it was read.
func (s *Sweep) Refile(ctx context.Context, t privacy.Table, item privacy.Item, notBefore time.Time) error {
	it := item.(sweepItem)
	at, ok := privacy.NextDue(privacy.RetentionClasses(), t, it)
	if !ok && !notBefore.IsZero() {
		at, ok = notBefore, true
	}
	if ok && at.Before(notBefore) {
		at = notBefore
	}
	cur, filed := dueOf(it)
	if ok == filed && (!ok || cur.Unix() == at.Unix()) {
		return nil
	}
	vals := map[string]types.AttributeValue{}
	cond := "attribute_exists(pk) AND attribute_not_exists(" + attrDueAt + ")"
	if filed {
		cond, vals[":cur"] = "attribute_exists(pk) AND "+attrDueAt+" = :cur", it[attrDueAt]
	}
	update := "REMOVE " + attrDuePK + ", " + attrDueAt
	if ok {
		update = "SET " + setDue(vals, it.key(), at)
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables[t]), Key: it.key(),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("refile %s item: %w", t, err)
	}
	return nil
}

// DeleteItems deletes items and reports (by index) those it kept because
// their subject (privacy.Protector) is under a legal hold or a restriction
// at the moment of the delete: the sweep judged holds when its run began,
// and one placed since must still protect. A subject's items are deleted
// in a transaction with a check of its hold items (holdChecks), so the
// check and the deletes are one; other items go 25 to a BatchWriteItem.
// Unprocessed items, throttling and transaction conflicts are retried with
// exponential backoff; it reports how many retries it took.
func (s *Sweep) DeleteItems(ctx context.Context, t privacy.Table, items []privacy.Item, now time.Time) (held []int, retries int, err error) {
	name := s.Tables[t]
	var plain []types.WriteRequest
	var groups []subjectDeletes
	at := map[privacy.SubjectID]int{} // the subject's open group in groups
	for i, it := range items {
		sub, ok := privacy.Protector(t, it)
		if !ok {
			plain = append(plain, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: it.(sweepItem).key()}})
			continue
		}
		g, open := at[sub]
		if !open || len(groups[g].items) == maxTxActions/2 { // with its checks, it fits one transaction
			g, at[sub] = len(groups), len(groups)
			groups = append(groups, subjectDeletes{subject: sub})
		}
		groups[g].items = append(groups[g].items, i)
	}
	for chunk := range slices.Chunk(plain, 25) {
		reqs := chunk
		n, err := untilProcessed(ctx, func() (bool, error) {
			out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{name: reqs}})
			if err != nil {
				return false, err
			}
			reqs = out.UnprocessedItems[name]
			return len(reqs) == 0, nil
		})
		retries += n
		if err != nil {
			return nil, retries, fmt.Errorf("batch delete on %s: %w", name, err)
		}
	}
	for len(groups) > 0 {
		// As many subjects' groups as fit in one transaction.
		var tx []types.TransactWriteItem
		var owner []int // the group of each action
		n := 0
		for ; n < len(groups); n++ {
			checks := s.holdChecks(groups[n].subject, now)
			if len(tx)+len(checks)+len(groups[n].items) > maxTxActions {
				break
			}
			for _, c := range checks {
				tx, owner = append(tx, c), append(owner, n)
			}
			for _, i := range groups[n].items {
				tx, owner = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &name, Key: items[i].(sweepItem).key()}}), append(owner, n)
			}
		}
		failed, r, err := s.transact(ctx, tx)
		retries += r
		if err != nil {
			return held, retries, fmt.Errorf("delete on %s: %w", name, err)
		}
		// Deleted, unless a check failed: then nothing was, and the
		// subjects not held are tried again.
		heldGroup := map[int]bool{}
		for _, a := range failed {
			heldGroup[owner[a]] = true
		}
		var rest []subjectDeletes
		for g := range groups[:n] {
			switch {
			case heldGroup[g]:
				held = append(held, groups[g].items...)
			case len(failed) > 0:
				rest = append(rest, groups[g])
			}
		}
		groups = append(rest, groups[n:]...)
	}
	return held, retries, nil
}

// subjectDeletes are the indexes of one subject's items to delete in one
// transaction.
type subjectDeletes struct {
	subject privacy.SubjectID
	items   []int
}

// maxTxActions is what one TransactWriteItems may hold (DynamoDB's limit:
// 100 actions).
const maxTxActions = 100

// holdChecks are the checks, in a transaction, that subject is under no
// legal hold in force at now (none, or one whose until has passed) and no
// restriction: every item that protects a subject's data (privacy's
// HoldLegal, HoldRestriction) must be named here.
func (s *Sweep) holdChecks(subject privacy.SubjectID, now time.Time) []types.TransactWriteItem {
	subjects := aws.String(s.Tables[privacy.TableSubjects])
	return []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: subjects, Key: holdKey(subject, privacy.HoldLegal),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR #until <= :now"),
			ExpressionAttributeNames:  map[string]string{"#until": "until"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(ts(now))}}},
		{ConditionCheck: &types.ConditionCheck{TableName: subjects, Key: holdKey(subject, privacy.HoldRestriction),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}
}

// transact writes tx, retrying transaction conflicts and throttling with
// backoff. When a condition failed (and so nothing was written), failed
// holds the indexes of the actions whose condition did.
func (s *Sweep) transact(ctx context.Context, tx []types.TransactWriteItem) (failed []int, retries int, err error) {
	retries, err = untilProcessed(ctx, func() (bool, error) {
		_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) {
			return err == nil, err
		}
		failed = failed[:0]
		for i, r := range tc.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				failed = append(failed, i)
			case "", "None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
			default:
				return false, err
			}
		}
		return len(failed) > 0, nil // a failed condition is an answer; a conflict is tried again
	})
	return failed, retries, err
}

func throttled(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

// Strip removes a class's attributes from an item (and sets its Set,
// and files it under its next due time), if the item still has the clock value it was judged by and, for a
// class of one status, still that status: a concurrent change wins. The
// item of a subject (privacy.Protector) is stripped only while the subject
// is under no hold (checked in the same transaction): privacy.ErrHeld
// otherwise.
func (s *Sweep) Strip(ctx context.Context, t privacy.Table, item privacy.Item, c privacy.Class, now time.Time) error {
	it := item.(sweepItem)
	names := map[string]string{"#clock": c.Clock}
	var paths []string
	for i, p := range c.Remove {
		var parts []string
		for j, seg := range strings.Split(p, ".") {
			n := fmt.Sprintf("#r%d_%d", i, j)
			names[n] = seg
			parts = append(parts, n)
		}
		paths = append(paths, strings.Join(parts, "."))
	}
	vals := map[string]types.AttributeValue{":clock": it[c.Clock]}
	cond := "#clock = :clock"
	switch to, sets := c.Set["status"]; {
	case sets:
		// A strip that changes a request's status is the lifecycle's
		// expiry (privacy.StepExpire), conditioned on where it starts: a
		// request verified meanwhile is no longer this class's.
		if !privacy.StepExpire.Allowed(privacy.Status(c.Status), privacy.Status(to)) {
			return fmt.Errorf("strip %s: %s to %s is not the lifecycle's expiry", c.Name, c.Status, to)
		}
		names["#s"] = "status"
		cond += " AND " + statusIn(vals, privacy.StepExpire.From())
	case c.Status != "":
		names["#status"], vals[":status"] = "status", str(c.Status)
		cond += " AND #status = :status"
	}
	// The item is filed anew as the strip leaves it.
	var sets []string
	if at, ok := privacy.NextDue(privacy.RetentionClasses(), t, it.stripped(c)); ok {
		sets = append(sets, setDue(vals, it.key(), at))
	} else {
		paths = append(paths, attrDuePK, attrDueAt)
	}
	update := "REMOVE " + strings.Join(paths, ", ")
	for _, attr := range slices.Sorted(maps.Keys(c.Set)) {
		n := "#set_" + attr
		names[n], vals[":set_"+attr] = attr, str(c.Set[attr])
		sets = append(sets, n+" = :set_"+attr)
	}
	if len(sets) > 0 {
		update = "SET " + strings.Join(sets, ", ") + " " + update
	}
	strip := &types.Update{TableName: aws.String(s.Tables[t]), Key: it.key(),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals}
	sub, protected := privacy.Protector(t, item)
	if !protected {
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: strip.TableName, Key: strip.Key,
			UpdateExpression: strip.UpdateExpression, ConditionExpression: strip.ConditionExpression,
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals})
		if err != nil && !isConditionFailed(err) {
			return fmt.Errorf("strip %s: %w", c.Name, err)
		}
		return nil
	}
	failed, _, err := s.transact(ctx, append([]types.TransactWriteItem{{Update: strip}}, s.holdChecks(sub, now)...))
	if err != nil {
		return fmt.Errorf("strip %s: %w", c.Name, err)
	}
	if slices.ContainsFunc(failed, func(a int) bool { return a > 0 }) { // a hold's check, not the item's own condition
		return privacy.ErrHeld
	}
	return nil
}

// HeldSubjects returns the subjects under a legal hold in force at now or
// a restriction: one query of the sparse holds index.
func (s *Sweep) HeldSubjects(ctx context.Context, now time.Time) (map[privacy.SubjectID]bool, error) {
	held := map[privacy.SubjectID]bool{}
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: aws.String(s.Tables[privacy.TableSubjects]),
		IndexName: aws.String("by-list"), KeyConditionExpression: aws.String("list_pk = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": str(privacy.HoldsList)}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("load holds: %w", err)
		}
		for _, it := range page.Items {
			// A legal hold with an end date protects nothing after it.
			if until, ok := sweepItem(it).Time("until"); ok && !now.Before(until) {
				continue
			}
			if sub, ok := sweepItem(it).Subject(); ok {
				held[sub] = true
			}
		}
	}
	return held, nil
}

// SweepCheckpointPK is the partition of the sweep's checkpoint in the ops
// table (the sweep's role may write no other but what it deletes).
const SweepCheckpointPK = "SWEEP#CHECKPOINT"

var sweepCheckpointKey = map[string]types.AttributeValue{attrPK: str(SweepCheckpointPK), attrSK: str("SWEEP")}

// SweepCheckpoint returns the saved position of an unfinished sweep, or
// nil.
func (s *Sweep) SweepCheckpoint(ctx context.Context) ([]byte, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Tables[privacy.TableOps]),
		Key: sweepCheckpointKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read sweep checkpoint: %w", err)
	}
	if v := s1(out.Item, "state"); v != "" {
		return []byte(v), nil
	}
	return nil, nil
}

// SaveSweepCheckpoint keeps the position of an unfinished sweep until
// expires (a sweep that stops running for long starts over rather than
// from a stale position); a nil state removes it (the sweep completed).
func (s *Sweep) SaveSweepCheckpoint(ctx context.Context, state []byte, expires time.Time) error {
	ops := aws.String(s.Tables[privacy.TableOps])
	if state == nil {
		if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: ops, Key: sweepCheckpointKey}); err != nil {
			return fmt.Errorf("clear sweep checkpoint: %w", err)
		}
		return nil
	}
	item := maps.Clone(sweepCheckpointKey)
	item["state"], item[attrTTL] = str(string(state)), num(expires.Unix())
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: withDue(privacy.TableOps, item)}); err != nil {
		return fmt.Errorf("save sweep checkpoint: %w", err)
	}
	return nil
}

// RecordSweep writes a run's report to the ledger (when the sweep has
// it), the evidence that the retention policy is enforced.
func (s *Sweep) RecordSweep(ctx context.Context, r privacy.SweepRun) error {
	ledger := s.Tables[privacy.TableLedger]
	if ledger == "" {
		return nil
	}
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return fmt.Errorf("record sweep report: %w", err)
	}
	at := ts(r.At)
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &ledger, Item: sealEntry(withDue(privacy.TableLedger, map[string]types.AttributeValue{
		attrPK: str("SYSTEM#retention-sweep"), attrSK: str(at + "#" + r.RunID), "event": str("retention_sweep"),
		"at": str(at), "counts": str(string(counts)), "complete": &types.AttributeValueMemberBOOL{Value: r.Complete},
		"resumed": &types.AttributeValueMemberBOOL{Value: r.Resumed}, "scanned": num(int64(r.Scanned)),
		"index_entries": num(int64(r.IndexEntries)), "duration": num(r.Duration.Milliseconds()),
		attrTTL: num(privacy.Retention().Ledger.From(r.At).Unix()),
	}))})
	if err != nil {
		return fmt.Errorf("record sweep report: %w", err)
	}
	return nil
}
