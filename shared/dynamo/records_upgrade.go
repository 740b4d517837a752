package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Records and OpenDSR requests written before issue #35 (2ea1028) kept one
// email identity: a record its raw address and the address's keys at its
// controller in subject_key, lookup_md5 and lookup_sha1 (each
// "<controller>#<key>", found through the by-subject, by-md5 and by-sha1
// indexes), a request the person's sha256 key in subject. The code since
// finds records only through K# lookups and a request's identity_keys, so
// the upgrade rewrites them in that form. The old keys are the new code's:
// privacy.Hasher.ControllerKey then and IdentityKey now hash the same
// input ("controller\x00<c>\x00email-<format>", the address's digest),
// so no secret is needed to carry them over.

// LegacyUpgrade counts what UpgradeLegacyRecords found and rewrote.
type LegacyUpgrade struct {
	Records  int `json:"records_upgraded"`
	Requests int `json:"requests_upgraded"`
	// Moved are the Platform's requests moved out of the site's requests
	// table into their own.
	Moved int `json:"requests_moved"`
	// Skipped were rewritten by the API since they were read (they are in
	// the new form already) or malformed; a second run finds them no more.
	Skipped int `json:"skipped"`
}

// legacyKeyAttrs are the attributes of a record before #35 that held its
// address's keys, by digest format.
var legacyKeyAttrs = []string{"lookup_md5", "lookup_sha1", "subject_key"}

// UpgradeLegacyRecords rewrites every record written before #35 (one scan
// of the records table for items with subject_key) in the new form: its
// three keys as K# lookups, identities [email raw], and the raw address
// and old index attributes removed, each record and its lookups in one
// transaction conditioned on the record being unchanged. Then every
// OpenDSR request still in the site's requests table is moved to the
// Platform's (MovePlatformRequests), and every one without identity_keys
// is given its subject's key. It is idempotent; dry counts without
// writing.
func (s *Store) UpgradeLegacyRecords(ctx context.Context, dry bool) (LegacyUpgrade, error) {
	var n LegacyUpgrade
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.tables.Records, ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("attribute_exists(subject_key) AND sk = :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": str(recordSK)}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("upgrade records: %w", err)
		}
		for _, it := range page.Items {
			tx, ok := upgradeRecord(s.tables.Records, it)
			if !ok {
				n.Skipped++
				continue
			}
			if dry {
				n.Records++
				continue
			}
			_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
			switch {
			case refusedAt(err, 0):
				n.Skipped++ // rewritten or deleted since the scan
			case err != nil:
				return n, fmt.Errorf("upgrade record %s: %w", s1(it, attrPK), err)
			default:
				n.Records++
			}
		}
	}
	moved, skipped, err := s.movePlatformRequests(ctx, dry)
	n.Moved, n.Skipped = moved, n.Skipped+skipped
	if err != nil {
		return n, err
	}
	rp := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.tables.PlatformRequests, ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("kind = :k AND #src = :o AND attribute_exists(subject) AND attribute_not_exists(identity_keys)"),
		ExpressionAttributeNames:  map[string]string{"#src": "source"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(KindRequest), ":o": str(privacy.SourceOpenDSR)}})
	for rp.HasMorePages() {
		page, err := rp.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("upgrade requests: %w", err)
		}
		for _, it := range page.Items {
			key, ok := strings.CutPrefix(s1(it, "subject"), s1(it, "controller_id")+"#")
			if !ok || key == "" || s1(it, "controller_id") == "" {
				n.Skipped++
				continue
			}
			if !dry {
				_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.PlatformRequests,
					Key:                       map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]},
					UpdateExpression:          aws.String("SET identity_keys = :k"),
					ConditionExpression:       aws.String("attribute_not_exists(identity_keys)"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberL{Value: []types.AttributeValue{str(key)}}}})
				if refusedAt(err, 0) {
					n.Skipped++
					continue
				}
				if err != nil {
					return n, fmt.Errorf("upgrade request %s: %w", s1(it, attrPK), err)
				}
			}
			n.Requests++
		}
	}
	return n, nil
}

// upgradeRecord is the transaction that rewrites the legacy record it in
// the new form; false when it is not one (a key missing or of another
// controller).
func upgradeRecord(table string, it map[string]types.AttributeValue) ([]types.TransactWriteItem, bool) {
	controller, pk := s1(it, "controller_id"), s1(it, attrPK)
	if controller == "" || !strings.HasPrefix(pk, "C#"+controller+"#") || s1(it, "updated_at") == "" {
		return nil, false
	}
	keys := make([]string, 0, len(legacyKeyAttrs))
	for _, a := range legacyKeyAttrs {
		k, ok := strings.CutPrefix(s1(it, a), controller+"#")
		if !ok || k == "" {
			return nil, false
		}
		keys = append(keys, k)
	}
	ids, _ := json.Marshal([]privacy.IdentityRef{{Type: "email", Format: "raw"}})
	item := make(map[string]types.AttributeValue, len(it))
	for a, v := range it {
		item[a] = v
	}
	for _, a := range append([]string{"email"}, legacyKeyAttrs...) {
		delete(item, a)
	}
	item["identities"] = str(string(ids))
	item["keys"] = &types.AttributeValueMemberSS{Value: keys}
	tx := []types.TransactWriteItem{{Put: &types.Put{TableName: &table, Item: item,
		// Unchanged since the scan: a rewrite through the API is in the new
		// form already (and has keys, unless it names no identity).
		ConditionExpression:       aws.String("updated_at = :was AND attribute_not_exists(#k)"),
		ExpressionAttributeNames:  map[string]string{"#k": "keys"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":was": it["updated_at"]}}}}
	for _, k := range keys {
		l := lookupKey(controller, k, pk)
		l["controller_id"], l["updated_at"] = str(controller), it["updated_at"]
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: l}})
	}
	return tx, true
}

// movePlatformRequests moves each OpenDSR request written to the site's
// requests table (before the Platform's had a table of their own) to
// tables.PlatformRequests: a Put there (unless it is there already) and a
// Delete here, conditioned on the item being as it was read, in one
// transaction. A request changed since the scan (its worker ran on the
// old table during the deploy) is skipped and moved by the next run.
// Idempotent: a second run finds nothing to move.
func (s *Store) movePlatformRequests(ctx context.Context, dry bool) (moved, skipped int, err error) {
	if s.tables.PlatformRequests == "" || s.tables.PlatformRequests == s.tables.Requests {
		return 0, 0, fmt.Errorf("move platform requests: no table of their own named")
	}
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.tables.Requests, ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("kind = :k AND #src = :o"),
		ExpressionAttributeNames:  map[string]string{"#src": "source"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(KindRequest), ":o": str(privacy.SourceOpenDSR)}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return moved, skipped, fmt.Errorf("move platform requests: %w", err)
		}
		for _, it := range page.Items {
			if dry {
				moved++
				continue
			}
			// A request's status changes at every step of its life, and
			// attempted_at at every claim of the worker: both as read, the
			// item is the one read.
			cond, vals := "#s = :s AND attribute_not_exists(attempted_at)", map[string]types.AttributeValue{":s": it["status"]}
			if at, ok := it["attempted_at"]; ok {
				cond, vals[":at"] = "#s = :s AND attempted_at = :at", at
			}
			_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: &s.tables.PlatformRequests, Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
				{Delete: &types.Delete{TableName: &s.tables.Requests, Key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]},
					ConditionExpression: aws.String(cond), ExpressionAttributeNames: map[string]string{"#s": "status"},
					ExpressionAttributeValues: vals}},
			}})
			switch {
			case refusedAt(err, 0) || refusedAt(err, 1):
				skipped++
			case err != nil:
				return moved, skipped, fmt.Errorf("move platform request %s: %w", s1(it, attrPK), err)
			default:
				moved++
			}
		}
	}
	return moved, skipped, nil
}
