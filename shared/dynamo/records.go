package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

const (
	recordSK        = "RECORD"
	sensitiveKeysSK = "SENSITIVE_KEYS"
)

func recordKey(controller, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("C#" + controller + "#" + id), attrSK: str(recordSK)}
}

// A record's identities are kept only as keys (privacy.Hasher.IdentityKey),
// each in a lookup item of its own beside the record:
//
//	record  pk "C#<controller>#<record id>"  sk "RECORD"   keys, identities, attributes
//	lookup  pk "K#<controller>#<key>"         sk the record's pk
//
// so a request's identity finds its records by one Query on the table, a
// record carries any number of identities, and every write of a record
// and its lookups is one transaction. Lookups carry the record's
// controller_id and updated_at: the retention index finds them with it.
const (
	lookupPrefix = "K#"
	// maxRecordKeys bounds a record's keys: one transaction writes the
	// record, its new lookups and deletes its stale ones (DynamoDB allows
	// 100 actions).
	maxRecordKeys = 48
)

func lookupKey(controller, key, recordPK string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(lookupPrefix + controller + "#" + key), attrSK: str(recordPK)}
}

// ErrTooManyKeys is a record with more keys than one write can hold.
var ErrTooManyKeys = fmt.Errorf("a record may carry at most %d identity keys", maxRecordKeys)

// PutRecord stores r (a new record, or a new version of one: its
// created_at stays), with a lookup item per key and none left of keys it
// no longer carries, and returns it as stored, and whether it is new. A
// concurrent write of the same record is retried on what it wrote.
func (s *Store) PutRecord(ctx context.Context, r privacy.Record) (privacy.Record, bool, error) {
	if len(r.Keys) > maxRecordKeys {
		return privacy.Record{}, false, ErrTooManyKeys
	}
	key := recordKey(r.Controller, r.ID)
	pk := key[attrPK].(*types.AttributeValueMemberS).Value
	for attempt := 0; attempt < 3; attempt++ {
		old, err := s.GetRecord(ctx, r.Controller, r.ID)
		exists := err == nil
		if err != nil && !errors.Is(err, privacy.ErrNotFound) {
			return privacy.Record{}, false, err
		}
		stored := r
		stored.CreatedAt = r.UpdatedAt
		cond := "attribute_not_exists(pk)"
		var vals map[string]types.AttributeValue
		if exists {
			stored.CreatedAt = old.CreatedAt
			cond, vals = timeIs("updated_at", ":was", old.UpdatedAt)
		}
		ids, _ := json.Marshal(stored.Identities)
		item := map[string]types.AttributeValue{attrPK: key[attrPK], attrSK: key[attrSK], "kind": str("controller_record"),
			"controller_id": str(r.Controller), "record_id": str(r.ID), "identities": str(string(ids)),
			"attributes": str(string(r.Attributes)), "updated_at": str(ts(r.UpdatedAt)), "created_at": str(ts(stored.CreatedAt))}
		if len(r.Keys) > 0 {
			item["keys"] = &types.AttributeValueMemberSS{Value: r.Keys}
		}
		tx := []types.TransactWriteItem{{Put: &types.Put{TableName: &s.tables.Records, Item: item,
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}}} // vals nil for a new record
		for _, k := range r.Keys {
			l := lookupKey(r.Controller, k, pk)
			l["controller_id"], l["updated_at"] = str(r.Controller), str(ts(r.UpdatedAt))
			tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Records, Item: l}})
		}
		for _, k := range old.Keys {
			if !slices.Contains(r.Keys, k) {
				tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.tables.Records, Key: lookupKey(r.Controller, k, pk)}})
			}
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if refusedAt(err, 0) {
			continue // written by another call since we read it
		}
		if err != nil {
			return privacy.Record{}, false, fmt.Errorf("put record: %w", err)
		}
		return stored, !exists, nil
	}
	return privacy.Record{}, false, errors.New("put record: written concurrently three times; try again")
}

// GetRecord returns one of a controller's records; privacy.ErrNotFound when the
// controller has none under that id.
func (s *Store) GetRecord(ctx context.Context, controller, id string) (privacy.Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Records, Key: recordKey(controller, id),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.Record{}, fmt.Errorf("get record: %w", err)
	}
	if out.Item == nil {
		return privacy.Record{}, privacy.ErrNotFound
	}
	return decodeRecord(out.Item)
}

// deleteRecord deletes r and its lookups in one transaction, only while
// r is as read (updated_at): false when it was written since.
func (s *Store) deleteRecord(ctx context.Context, r privacy.Record) (bool, error) {
	key := recordKey(r.Controller, r.ID)
	pk := key[attrPK].(*types.AttributeValueMemberS).Value
	cond, vals := timeIs("updated_at", ":was", r.UpdatedAt)
	tx := []types.TransactWriteItem{{Delete: &types.Delete{TableName: &s.tables.Records, Key: key,
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}}}
	for _, k := range r.Keys {
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.tables.Records, Key: lookupKey(r.Controller, k, pk)}})
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if refusedAt(err, 0) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete record: %w", err)
	}
	return true, nil
}

// DeleteRecord deletes one of a controller's records and its lookups;
// privacy.ErrNotFound when there is none.
func (s *Store) DeleteRecord(ctx context.Context, controller, id string) error {
	for attempt := 0; attempt < 3; attempt++ {
		r, err := s.GetRecord(ctx, controller, id)
		if err != nil {
			return err
		}
		if ok, err := s.deleteRecord(ctx, r); ok || err != nil {
			return err
		}
	}
	return errors.New("delete record: written concurrently three times; try again")
}

func decodeRecord(it map[string]types.AttributeValue) (privacy.Record, error) {
	r := privacy.Record{Controller: s1(it, "controller_id"), ID: s1(it, "record_id")}
	if v, ok := it["keys"].(*types.AttributeValueMemberSS); ok {
		r.Keys = v.Value
	}
	if a := s1(it, "identities"); a != "" {
		if err := json.Unmarshal([]byte(a), &r.Identities); err != nil {
			return privacy.Record{}, fmt.Errorf("decode record %s: identities: %w", s1(it, attrPK), err)
		}
	}
	if a := s1(it, "attributes"); a != "" {
		r.Attributes = json.RawMessage(a)
	}
	var err error
	if r.CreatedAt, err = parseTS(s1(it, "created_at")); err == nil {
		r.UpdatedAt, err = parseTS(s1(it, "updated_at"))
	}
	if err != nil || r.Controller == "" || r.ID == "" {
		return privacy.Record{}, fmt.Errorf("decode record %s: malformed", s1(it, attrPK))
	}
	return r, nil
}

// KeyedRecords returns every record of controller that carries any of
// keys, each once, oldest first. Lookups and records are both read
// consistently (a record written just before is found; one rewritten
// since without the key is not returned).
func (s *Store) KeyedRecords(ctx context.Context, controller string, keys []string) ([]privacy.Record, error) {
	var recordKeys []map[string]types.AttributeValue
	seen := map[string]bool{}
	for _, k := range keys {
		items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Records,
			KeyConditionExpression: aws.String("pk = :k"), ConsistentRead: aws.Bool(true),
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(lookupPrefix + controller + "#" + k)}})
		if err != nil {
			return nil, fmt.Errorf("keyed records: %w", err)
		}
		for _, it := range items {
			if pk := s1(it, attrSK); !seen[pk] {
				seen[pk] = true
				recordKeys = append(recordKeys, map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(recordSK)})
			}
		}
	}
	var out []privacy.Record
	for len(recordKeys) > 0 {
		n := min(len(recordKeys), 100)
		pending := map[string]types.KeysAndAttributes{s.tables.Records: {Keys: recordKeys[:n], ConsistentRead: aws.Bool(true)}}
		recordKeys = recordKeys[n:]
		for attempt := 0; len(pending) > 0; attempt++ {
			if err := unprocessedPause(ctx, attempt); err != nil {
				return nil, fmt.Errorf("keyed records: %w", err)
			}
			page, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("keyed records: %w", err)
			}
			for _, it := range page.Responses[s.tables.Records] {
				r, err := decodeRecord(it)
				if err != nil {
					return nil, err
				}
				if r.Controller == controller && slices.ContainsFunc(r.Keys, func(k string) bool { return slices.Contains(keys, k) }) {
					out = append(out, r)
				}
			}
			pending = page.UnprocessedKeys
		}
	}
	slices.SortFunc(out, func(a, b privacy.Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// unprocessedPause waits before try attempt of a batch's unprocessed
// items (none before the first): 50 ms doubling to 1.6 s; after 10 tries
// it gives up, since the table is refusing more than throttling would.
func unprocessedPause(ctx context.Context, attempt int) error {
	if attempt == 0 {
		return nil
	}
	if attempt > 10 {
		return errors.New("items still unprocessed after 10 tries")
	}
	t := time.NewTimer(50 * time.Millisecond << min(attempt-1, 5))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// EraseKeyedRecords deletes every record of controller that carries any
// of keys, each once, with its lookups, and nothing else: not the site's
// data, not another controller's, no suppression. A record the controller
// rewrote meanwhile is read again and erased if it still carries one of
// the keys. It returns how many it deleted; a second run deletes nothing
// more.
func (s *Store) EraseKeyedRecords(ctx context.Context, controller string, keys []string) (int, error) {
	n := 0
	for attempt := 0; attempt < 3; attempt++ {
		recs, err := s.KeyedRecords(ctx, controller, keys)
		if err != nil || len(recs) == 0 {
			return n, err
		}
		for _, r := range recs {
			ok, err := s.deleteRecord(ctx, r)
			if err != nil {
				return n, fmt.Errorf("erase records: %w", err)
			}
			if ok {
				n++
			}
		}
	}
	return n, nil
}

// ExpireControllerRecords enforces every controller's retention
// (privacy.ControllerDue): records last written before the controller's
// retention_days, and all of a controller 12 months after its
// termination. Each delete is conditional on the record being unchanged
// since the index was read. Dry, it only counts. It returns how many
// records it deleted (or would).
func (s *Store) ExpireControllerRecords(ctx context.Context, now time.Time, dry bool) (int, error) {
	ctrls, err := s.Controllers(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range ctrls {
		due := privacy.ControllerDue(c.RetentionDays, c.TerminatedAt, now)
		cond := "controller_id = :c"
		vals := map[string]types.AttributeValue{":c": str(c.ID)}
		switch {
		case due.All:
		case !due.Before.IsZero():
			cond += " AND updated_at < :before"
			vals[":before"] = str(ts(due.Before))
		default:
			continue
		}
		p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: &s.tables.Records, IndexName: aws.String("by-controller"),
			KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: vals})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return n, fmt.Errorf("expire records of %s: %w", c.ID, err)
			}
			for _, it := range page.Items {
				// Each record's lookups carry its updated_at and go with
				// it; only records count. The controller's sensitive key
				// names are its, not a record's: they go with the last
				// records only (a controller's own retention keeps them).
				if s1(it, attrSK) == sensitiveKeysSK && !due.All {
					continue
				}
				isRecord := s1(it, attrSK) == recordSK
				if dry {
					if isRecord {
						n++
					}
					continue
				}
				_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Records,
					Key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}, ConditionExpression: aws.String("updated_at = :u"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":u": it["updated_at"]}})
				if isConditionFailed(err) {
					continue // written again since: a new period
				}
				if err != nil {
					return n, fmt.Errorf("expire records of %s: %w", c.ID, err)
				}
				if isRecord {
					n++
				}
			}
		}
	}
	return n, nil
}

// sensitiveKeysKey is the item of a controller's own sensitive key names.
// It carries controller_id and updated_at, so the by-controller index
// finds it: ExpireControllerRecords deletes it with the controller's last
// records, once the controller is terminated and its year is over.
func sensitiveKeysKey(controller string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("S#" + controller), attrSK: str(sensitiveKeysSK)}
}

// SensitiveKeys returns the key names controller marked sensitive (none
// when it marked none).
func (s *Store) SensitiveKeys(ctx context.Context, controller string) ([]string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Records, Key: sensitiveKeysKey(controller),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("sensitive keys: %w", err)
	}
	var names []string
	if l, ok := out.Item["key_names"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				names = append(names, s.Value)
			}
		}
	}
	return names, nil
}

// SetSensitiveKeys replaces the key names controller marked sensitive, at
// now.
func (s *Store) SetSensitiveKeys(ctx context.Context, controller string, names []string, now time.Time) error {
	l := make([]types.AttributeValue, 0, len(names))
	for _, n := range names {
		l = append(l, str(n))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Records, Key: sensitiveKeysKey(controller),
		UpdateExpression: aws.String("SET key_names = :n, controller_id = :c, updated_at = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberL{Value: l},
			":c": str(controller), ":u": str(ts(now))}})
	if err != nil {
		return fmt.Errorf("set sensitive keys: %w", err)
	}
	return nil
}
