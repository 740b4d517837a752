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

const recordSK = "RECORD"

func recordKey(controller, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("C#" + controller + "#" + id), attrSK: str(recordSK)}
}

// scoped prefixes an index value with its controller.
func scoped(controller, key string) string { return controller + "#" + key }

// PutRecord stores r (a new record, or a new version of one: its
// created_at stays) and returns it as stored, and whether it is new.
func (s *Store) PutRecord(ctx context.Context, r privacy.Record) (privacy.Record, bool, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Records, Key: recordKey(r.Controller, r.ID),
		UpdateExpression: aws.String("SET kind = :kind, controller_id = :c, record_id = :id, email = :e, #a = :a, " +
			"subject_key = :sub, lookup_md5 = :md5, lookup_sha1 = :sha1, updated_at = :now, created_at = if_not_exists(created_at, :now)"),
		ExpressionAttributeNames: map[string]string{"#a": "attributes"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": str("controller_record"), ":c": str(r.Controller),
			":id": str(r.ID), ":e": str(r.Email), ":a": str(string(r.Attributes)), ":sub": str(scoped(r.Controller, r.Keys.SHA256)),
			":md5": str(scoped(r.Controller, r.Keys.MD5)), ":sha1": str(scoped(r.Controller, r.Keys.SHA1)), ":now": str(ts(r.UpdatedAt))},
		ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		return privacy.Record{}, false, fmt.Errorf("put record: %w", err)
	}
	stored, err := decodeRecord(out.Attributes)
	if err != nil {
		return privacy.Record{}, false, err
	}
	// New exactly when this write set created_at.
	return stored, s1(out.Attributes, "created_at") == ts(r.UpdatedAt), nil
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

// DeleteRecord deletes one of a controller's records; privacy.ErrNotFound when
// there is none.
func (s *Store) DeleteRecord(ctx context.Context, controller, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Records, Key: recordKey(controller, id),
		ConditionExpression: aws.String("attribute_exists(pk)")})
	if isConditionFailed(err) {
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete record: %w", err)
	}
	return nil
}

func decodeRecord(it map[string]types.AttributeValue) (privacy.Record, error) {
	r := privacy.Record{Controller: s1(it, "controller_id"), ID: s1(it, "record_id"), Email: s1(it, "email")}
	cut := func(name string) string { return strings.TrimPrefix(s1(it, name), r.Controller+"#") }
	r.Keys = privacy.EmailKeys{MD5: cut("lookup_md5"), SHA1: cut("lookup_sha1"), SHA256: cut("subject_key")}
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

// RecordSubjects returns the subjects at controller whose records carry
// key (privacy.Hasher.ControllerKey) in format: md5 and sha1 by their
// index; a sha256 key is the subject itself.
func (s *Store) RecordSubjects(ctx context.Context, controller, format, key string) ([]privacy.SubjectID, error) {
	if format == "sha256" {
		return []privacy.SubjectID{privacy.SubjectID(key)}, nil
	}
	if format != "md5" && format != "sha1" {
		return nil, fmt.Errorf("record subjects: unknown format %q", format)
	}
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Records, IndexName: aws.String("by-" + format),
		KeyConditionExpression:    aws.String("#k = :k"),
		ExpressionAttributeNames:  map[string]string{"#k": "lookup_" + format},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(scoped(controller, key))}})
	if err != nil {
		return nil, fmt.Errorf("record subjects: %w", err)
	}
	var out []privacy.SubjectID
	seen := map[string]bool{}
	for _, it := range items {
		if v, ok := it["subject_key"].(*types.AttributeValueMemberS); ok && !seen[v.Value] {
			seen[v.Value] = true
			out = append(out, privacy.SubjectID(strings.TrimPrefix(v.Value, controller+"#")))
		}
	}
	return out, nil
}

// subjectRecordKeys returns the keys of a subject's records at controller
// (the by-subject index, keys only).
func (s *Store) subjectRecordKeys(ctx context.Context, controller string, subject privacy.SubjectID) ([]map[string]types.AttributeValue, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Records, IndexName: aws.String("by-subject"),
		KeyConditionExpression:    aws.String("subject_key = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(scoped(controller, string(subject)))}})
	if err != nil {
		return nil, fmt.Errorf("subject records: %w", err)
	}
	keys := make([]map[string]types.AttributeValue, 0, len(items))
	for _, it := range items {
		keys = append(keys, map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]})
	}
	return keys, nil
}

// SubjectRecords returns every record controller handed over about
// subject, read consistently (the index only finds them), oldest first.
func (s *Store) SubjectRecords(ctx context.Context, controller string, subject privacy.SubjectID) ([]privacy.Record, error) {
	keys, err := s.subjectRecordKeys(ctx, controller, subject)
	if err != nil {
		return nil, err
	}
	var out []privacy.Record
	for len(keys) > 0 {
		n := min(len(keys), 100)
		pending := map[string]types.KeysAndAttributes{s.tables.Records: {Keys: keys[:n], ConsistentRead: aws.Bool(true)}}
		keys = keys[n:]
		for attempt := 0; len(pending) > 0; attempt++ {
			if err := unprocessedPause(ctx, attempt); err != nil {
				return nil, fmt.Errorf("subject records: %w", err)
			}
			page, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("subject records: %w", err)
			}
			for _, it := range page.Responses[s.tables.Records] {
				r, err := decodeRecord(it)
				if err != nil {
					return nil, err
				}
				if r.Subject() == subject { // rewritten for someone else since the index was read
					out = append(out, r)
				}
			}
			pending = page.UnprocessedKeys
		}
	}
	slices.SortFunc(out, func(a, b privacy.Record) int { return a.CreatedAt.Compare(b.CreatedAt) })
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

// EraseSubjectRecords deletes every record controller handed over about
// subject, and nothing else: not the site's data, not another
// controller's, no suppression. It returns how many it deleted; a second
// run deletes nothing more.
func (s *Store) EraseSubjectRecords(ctx context.Context, controller string, subject privacy.SubjectID) (int, error) {
	keys, err := s.subjectRecordKeys(ctx, controller, subject)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		// Only while it is still this person's: a record the controller
		// rewrote for someone else meanwhile is not this erasure's.
		_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Records, Key: k,
			ConditionExpression:       aws.String("subject_key = :k"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(scoped(controller, string(subject)))}})
		if isConditionFailed(err) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("erase records: %w", err)
		}
		n++
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
				if dry {
					n++
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
				n++
			}
		}
	}
	return n, nil
}

// sensitiveKeysKey is the item of a controller's own sensitive key names.
// It carries no controller_id, so no retention index finds it.
func sensitiveKeysKey(controller string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("S#" + controller), attrSK: str("SENSITIVE_KEYS")}
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

// SetSensitiveKeys replaces the key names controller marked sensitive.
func (s *Store) SetSensitiveKeys(ctx context.Context, controller string, names []string) error {
	l := make([]types.AttributeValue, 0, len(names))
	for _, n := range names {
		l = append(l, str(n))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Records, Key: sensitiveKeysKey(controller),
		UpdateExpression:          aws.String("SET key_names = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberL{Value: l}}})
	if err != nil {
		return fmt.Errorf("set sensitive keys: %w", err)
	}
	return nil
}
