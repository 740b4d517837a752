package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// CorrectField sets field to value on every item of the subject that
// holds it: its items in the subjects table (the privacy team's holds
// excepted) and, for the name, its requests that still keep one. It
// reports how many items changed. Running it again changes nothing more.
func (s *Store) CorrectField(ctx context.Context, subject privacy.SubjectID, field, value string) (int, error) {
	items, err := s.SubjectItems(ctx, subject)
	if err != nil {
		return 0, err
	}
	n := 0
	set := func(table string, key map[string]types.AttributeValue) error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key,
			UpdateExpression: aws.String("SET #f = :v"), ConditionExpression: aws.String("attribute_exists(#f) AND #f <> :v"),
			ExpressionAttributeNames: map[string]string{"#f": field}, ExpressionAttributeValues: map[string]types.AttributeValue{":v": str(value)}})
		if isConditionFailed(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("correct %s: %w", field, err)
		}
		n++
		return nil
	}
	for _, it := range items {
		if _, has := it[field]; !has || strings.HasPrefix(s1(it, attrSK), privacy.HoldPrefix) {
			continue
		}
		if err := set(s.tables.Subjects, map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}); err != nil {
			return n, err
		}
	}
	if field == privacy.FieldName {
		reqs, err := s.SubjectRequests(ctx, subject, time.Time{})
		if err != nil {
			return n, err
		}
		for _, r := range reqs {
			if r.Name != "" {
				if err := set(s.tables.Requests, requestKey(r.ID)); err != nil {
					return n, err
				}
			}
		}
	}
	return n, nil
}

// movedSK is the sort key of the forward a correction of an address
// leaves under the old key.
const movedSK = "MOVED"

// Forward follows the forwards corrections of an address left
// (MoveSubject) from subject to the key its data is under now, and says
// when subject's own forward was left (movedAt; zero, with subject itself,
// when it never moved). A link minted for subject after movedAt was sent
// to whoever holds the address now, not to the person who moved: the
// caller follows only links minted before.
func (s *Store) Forward(ctx context.Context, subject privacy.SubjectID) (privacy.SubjectID, time.Time, error) {
	var movedAt time.Time
	for i := range 8 { // a person corrects their address rarely; a loop never ends
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(movedSK)}, ProjectionExpression: aws.String("#to, moved_at"),
			ExpressionAttributeNames: map[string]string{"#to": "to"}})
		if err != nil {
			return "", time.Time{}, fmt.Errorf("forward: %w", err)
		}
		to := s1(out.Item, "to")
		if to == "" {
			return subject, movedAt, nil
		}
		if i == 0 {
			if movedAt, err = parseTS(s1(out.Item, "moved_at")); err != nil {
				return subject, movedAt, fmt.Errorf("moved subject %s: moved_at: %w", subject, err)
			}
		}
		subject = privacy.SubjectID(to)
	}
	return subject, movedAt, nil
}

// SubjectHolds reports whether anything is held under subject: an item
// in the subjects, ledger or suppression table, or a request. A
// correction of an address never moves one person's data onto another's.
func (s *Store) SubjectHolds(ctx context.Context, subject privacy.SubjectID) (bool, error) {
	for _, table := range []string{s.tables.Subjects, s.tables.Ledger, s.tables.Suppression} {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(SubjectPK(subject))},
			ConsistentRead:            aws.Bool(true), Limit: aws.Int32(1), ProjectionExpression: aws.String("pk")})
		if err != nil {
			return false, fmt.Errorf("subject holds: %w", err)
		}
		if len(out.Items) > 0 {
			return true, nil
		}
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests, IndexName: aws.String("by-subject"),
		KeyConditionExpression:    aws.String("subject = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(string(subject))}, Limit: aws.Int32(1)})
	if err != nil {
		return false, fmt.Errorf("subject holds: %w", err)
	}
	return len(out.Items) > 0, nil
}

// MoveSubject moves everything held under from to to, the subject of the
// person's corrected address email, for the correction requestID: its
// items in the subjects table (with the address and its list keys, and no
// email due), its suppression reasons but a bounce (the old address's
// own), and its requests (their subject,
// and the address where they keep one). What to already holds under the
// same key stays (the person's own state under the new address wins).
// Each item is copied before its old copy is deleted, so a move cut short
// is finished by running it again; last, a forward from the old key to
// the new (Forward) for the links of emails sent before. The ledger is
// not moved but kept verifiable (moveLedger). It reports the items moved.
func (s *Store) MoveSubject(ctx context.Context, from, to privacy.SubjectID, email, requestID string, at time.Time) (int, error) {
	items, err := s.SubjectItems(ctx, from)
	if err != nil {
		return 0, err
	}
	entries, err := s.LedgerEntries(ctx, from)
	if err != nil {
		return 0, err
	}
	reqs, err := s.SubjectRequests(ctx, from, time.Time{})
	if err != nil {
		return 0, err
	}
	if _, err := s.recordMissingEntries(ctx, items, reqs, entries, at); err != nil {
		return 0, err
	}
	n, err := s.moveLedger(ctx, from, to, requestID, at)
	if err != nil {
		return n, err
	}
	for _, table := range []string{s.tables.Subjects, s.tables.Suppression} {
		items, err := s.query(ctx, table, SubjectPK(from))
		if err != nil {
			return n, err
		}
		for _, it := range items {
			if s1(it, attrSK) == movedSK {
				continue // a forward of an earlier move stays where it is
			}
			if table == s.tables.Suppression && s1(it, attrSK) == privacy.SuppressBounced {
				// A bounce is the old address's (often why the person moves
				// away from it): it stays with that address and does not
				// silence the new one, which never bounced.
				continue
			}
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: movedCopy(it, to, email),
				ConditionExpression: aws.String("attribute_not_exists(pk)")})
			if err != nil && !isConditionFailed(err) {
				return n, fmt.Errorf("move to the new address: %w", err)
			}
			if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table,
				Key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}}); err != nil {
				return n, fmt.Errorf("move from the old address: %w", err)
			}
			n++
		}
	}
	// Links in emails sent before the move carry the old key: a forward
	// takes them to the new one (an old unsubscribe link must unsubscribe).
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Subjects, Item: withDue(privacy.TableSubjects,
		map[string]types.AttributeValue{attrPK: str(SubjectPK(from)), attrSK: str(movedSK), "kind": str(privacy.KindMovedForward),
			"to": str(string(to)), "moved_at": str(ts(at)),
			"expires_at": num(privacy.Retention().MovedForward.From(at).Unix())})}); err != nil {
		return n, fmt.Errorf("forward to the new address: %w", err)
	}
	for _, r := range reqs {
		set, vals := "SET subject = :to", map[string]types.AttributeValue{":to": str(string(to))}
		if r.Email != "" {
			set += ", email = :e"
			vals[":e"] = str(email)
		}
		if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: requestKey(r.ID),
			UpdateExpression: aws.String(set), ExpressionAttributeValues: vals}); err != nil {
			return n, fmt.Errorf("move request %s: %w", r.ID, err)
		}
		n++
	}
	return n, nil
}

// moveLedger moves a person's ledger history from the key from to the key
// to without deleting or changing a sealed entry (docs/ledger.md, "A
// correction keeps the ledger verifiable"). First an entry "moved" (ref
// requestID, at at) in the old partition records the move; then each old
// entry is copied to the new key as a new entry (movedLedgerCopy: day the
// move's day, detail.moved_from the old sort key, its own hash) and the
// old one redacted by requestID, as an erasure redacts: verify accepts the
// redaction because the "moved" entry names requestID. A move cut short is
// finished by running it again: the "moved" entry is written once, an
// entry redacted by requestID was copied already, and a copy written
// before is not written twice. It reports the entries moved.
func (s *Store) moveLedger(ctx context.Context, from, to privacy.SubjectID, requestID string, at time.Time) (int, error) {
	entries, err := s.LedgerEntries(ctx, from)
	if err != nil {
		return 0, err
	}
	recorded := slices.ContainsFunc(entries, func(it map[string]types.AttributeValue) bool {
		return s1(it, "event") == ledger.EventMoved && s1(it, "ref") == requestID
	})
	if !recorded {
		if err := s.RecordEvent(ctx, privacy.Event{Subject: from, Name: ledger.EventMoved, At: at, Ref: requestID}); err != nil {
			return 0, err
		}
	}
	day := ledger.Day(ts(at))
	n := 0
	for _, it := range entries {
		if s1(it, "event") == ledger.EventMoved || s1(it, ledger.AttrRedactedBy) == requestID {
			continue // a move's own record stays with the old key; an entry redacted by this move was copied
		}
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ledger, Item: movedLedgerCopy(it, to, day),
			ConditionExpression: aws.String("attribute_not_exists(pk)")})
		if err != nil && !isConditionFailed(err) {
			return n, fmt.Errorf("copy ledger entry to the new address: %w", err)
		}
		if s1(it, ledger.AttrRedactedBy) == "" { // an erasure's redaction stays as it is
			if err := s.redactLedger(ctx, []map[string]types.AttributeValue{it}, []int{0}, requestID); err != nil {
				return n, err
			}
		}
		n++
	}
	return n, nil
}

// movedLedgerCopy is a ledger entry as its copy under the subject to is
// written on day, the move's day: a new entry, sealed with that day (a
// sealed day gains no entry), its detail the old one (none when an
// erasure redacted it) with moved_from, the old entry's sort key, and its
// own salt, digest and hash; filed for retention under its new key.
func movedLedgerCopy(item map[string]types.AttributeValue, to privacy.SubjectID, day string) map[string]types.AttributeValue {
	moved := maps.Clone(item)
	moved[attrPK] = str(SubjectPK(to))
	if _, ok := item["subject"]; ok {
		moved["subject"] = str(string(to))
	}
	for _, a := range []string{ledger.AttrHash, ledger.AttrSalt, ledger.AttrDetailSum, ledger.AttrRedactedBy} {
		delete(moved, a)
	}
	detail := map[string]types.AttributeValue{}
	if m, ok := item[ledger.AttrDetail].(*types.AttributeValueMemberM); ok {
		maps.Copy(detail, m.Value)
	}
	detail["moved_from"] = item[attrSK]
	moved[ledger.AttrDetail] = &types.AttributeValueMemberM{Value: detail}
	return sealEntryOn(withDue(privacy.TableLedger, moved), day)
}

// movedCopy is item as a move to the subject to, whose address is email,
// writes it: under the new key, its subject and address (where it keeps
// them) and its list key the new ones; no email due (what its mail_due
// named was sent, or not, to the old address, and must not go again to
// the new one); without the digest keys an item from before site items
// lost them still has (they were the old address's).
func movedCopy(item map[string]types.AttributeValue, to privacy.SubjectID, email string) map[string]types.AttributeValue {
	moved := maps.Clone(item)
	moved[attrPK] = str(SubjectPK(to))
	if _, ok := item["subject"]; ok {
		moved["subject"] = str(string(to))
	}
	if _, ok := item["email"]; ok {
		moved["email"] = str(email)
	}
	if ls := s1(item, "list_sk"); ls != "" {
		moved["list_sk"] = str(string(to))
		if strings.HasPrefix(ls, "S#") {
			moved["list_sk"] = str(SubjectPK(to))
		}
	}
	for _, a := range []string{AttrMailDue, "email_md5", "email_sha1", "email_sha256"} {
		delete(moved, a)
	}
	return moved
}
