package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The ledger's by-day index: each entry's UTC day and sort key, with its
// hash and expiry projected, what the signer seals a day from.
const ledgerByDay = "by-day"

// sealEntry adds to a ledger entry, as it is written, what makes it
// tamper-evident: its day (the by-day index), a salt and the salted
// digest of its detail when it has one, and its content hash
// (ledger.Hash). Nothing is read: the entry's own content is enough.
func sealEntry(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return sealEntryOn(item, ledger.Day(s1(item, "at")))
}

// sealEntryOn is sealEntry for an entry sealed with day, not the day of
// its time: a copy a move writes (movedLedgerCopy) keeps the time of what
// it records and is sealed with the day it was written.
func sealEntryOn(item map[string]types.AttributeValue, day string) map[string]types.AttributeValue {
	item[ledger.AttrDay] = str(day)
	if detail := detailOf(item); detail != nil {
		salt := ledger.NewSalt()
		if sum := ledger.DetailDigest(salt, detail); sum != "" {
			item[ledger.AttrSalt], item[ledger.AttrDetailSum] = str(salt), str(sum)
		}
	}
	item[ledger.AttrHash] = str(ledger.Hash(ledgerEntry(item)))
	return item
}

func detailOf(item map[string]types.AttributeValue) map[string]string {
	m, ok := item[ledger.AttrDetail].(*types.AttributeValueMemberM)
	if !ok {
		return nil
	}
	d := make(map[string]string, len(m.Value))
	for k, v := range m.Value {
		d[k] = typed(v)
	}
	return d
}

// ledgerEntry reads a stored ledger item as the seal sees it.
func ledgerEntry(item map[string]types.AttributeValue) ledger.Entry {
	e := ledger.Entry{PK: s1(item, attrPK), SK: s1(item, attrSK), Day: s1(item, ledger.AttrDay), Attrs: map[string]string{},
		Detail: detailOf(item), Salt: s1(item, ledger.AttrSalt), DetailSum: s1(item, ledger.AttrDetailSum),
		Hash: s1(item, ledger.AttrHash), RedactedBy: s1(item, ledger.AttrRedactedBy)}
	if e.Day == "" { // written before the seal
		e.Day = ledger.Day(s1(item, "at"))
	}
	if n, ok := item[attrTTL].(*types.AttributeValueMemberN); ok {
		e.ExpiresAt, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	for k, v := range item {
		if k != ledger.AttrDetail {
			e.Attrs[k] = typed(v)
		}
	}
	return e
}

// typed is an attribute's value with its DynamoDB type: "S:...",
// "N:...", "BOOL:...", other types as their JSON.
func typed(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberBOOL:
		return "BOOL:" + strconv.FormatBool(v.Value)
	}
	var a any
	if err := attributevalue.Unmarshal(v, &a); err == nil {
		if b, err := json.Marshal(a); err == nil {
			return fmt.Sprintf("%T:%s", v, b)
		}
	}
	return fmt.Sprintf("%T", v)
}

// redactLedger removes the detail (and its salt) of a person's ledger
// entries at the indexes, and marks each redacted by the erasure
// requestID (those without a detail too: an erasure run again counts
// only what no erasure redacted); the entry, its hash and its detail's
// digest stay, so the day's seal still proves it. What is left holds
// nothing of the person but the subject hash the suppression list keeps
// too.
func (s *Store) redactLedger(ctx context.Context, items []map[string]types.AttributeValue, at []int, requestID string) error {
	for _, i := range at {
		it := items[i]
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ledger,
			Key:                       map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]},
			UpdateExpression:          aws.String("REMOVE #d, #salt SET #by = :by"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames:  map[string]string{"#d": ledger.AttrDetail, "#salt": ledger.AttrSalt, "#by": ledger.AttrRedactedBy},
			ExpressionAttributeValues: map[string]types.AttributeValue{":by": str(requestID)}})
		if err != nil && !isConditionFailed(err) {
			return fmt.Errorf("redact ledger entry: %w", err)
		}
	}
	return nil
}

// LedgerDay returns a day's entries as the by-day index holds them
// (key, hash, expiry), what the signer seals.
func (s *Store) LedgerDay(ctx context.Context, day string) ([]ledger.Entry, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ledger, IndexName: aws.String(ledgerByDay),
		KeyConditionExpression:    aws.String("#day = :day"),
		ExpressionAttributeNames:  map[string]string{"#day": ledger.AttrDay},
		ExpressionAttributeValues: map[string]types.AttributeValue{":day": str(day)}})
	if err != nil {
		return nil, fmt.Errorf("ledger of %s: %w", day, err)
	}
	out := make([]ledger.Entry, len(items))
	for i, it := range items {
		out[i] = ledgerEntry(it)
	}
	return out, nil
}

// ScanLedger reads every ledger entry (privacyctl ledger verify: an
// audit of the whole ledger, never a search for a person).
func (s *Store) ScanLedger(ctx context.Context) ([]ledger.Entry, error) {
	var out []ledger.Entry
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.tables.Ledger, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the ledger: %w", err)
		}
		for _, it := range page.Items {
			out = append(out, ledgerEntry(it))
		}
	}
	return out, nil
}

// The roots table: each sealed day's root, pk "ROOT", sk the day (the
// JWS, its count, when it was signed: nobody's data, what the public
// route serves; and the root), and its leaves, pk "LEAVES#<day>", sk
// "<root>#<page>", each page the JSON of up to leavesPerPage leaves (an
// item holds at most 400 KB; a leaf is about 200 bytes). The pages are
// keyed by their root: two runs sealing one day at once each write their
// own, only one root is written, and the other's pages are never read.
const (
	rootsPK       = "ROOT"
	leavesPrefix  = "LEAVES#"
	leavesPerPage = 1000
)

// SaveSealed stores a sealed day: its leaves' pages, then its root, once
// (a day already sealed is never sealed again: privacy.ErrExists).
func (s *Store) SaveSealed(ctx context.Context, d ledger.Sealed, signedAt string) error {
	root := ledger.Root(d.Leaves)
	pages := 0
	for i := 0; i == 0 || i < len(d.Leaves); i += leavesPerPage {
		b, err := json.Marshal(d.Leaves[i:min(i+leavesPerPage, len(d.Leaves))])
		if err != nil {
			return err
		}
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.LedgerRoots, Item: map[string]types.AttributeValue{
			attrPK: str(leavesPrefix + d.Day), attrSK: str(fmt.Sprintf("%s#%04d", root, pages)), "leaves": str(string(b))},
		}); err != nil {
			return fmt.Errorf("seal %s: leaves: %w", d.Day, err)
		}
		pages++
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.LedgerRoots, Item: map[string]types.AttributeValue{
		attrPK: str(rootsPK), attrSK: str(d.Day), "jws": str(d.JWS), "leaves": num(int64(len(d.Leaves))),
		"root": str(root), "pages": num(int64(pages)), "signed_at": str(signedAt)},
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		return fmt.Errorf("seal %s: %w", d.Day, privacy.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("seal %s: %w", d.Day, err)
	}
	return nil
}

// LastSealed is the last day sealed, "" when none is.
func (s *Store) LastSealed(ctx context.Context) (string, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.tables.LedgerRoots,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(rootsPK)},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(1), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("sk")})
	if err != nil {
		return "", fmt.Errorf("last sealed day: %w", err)
	}
	if len(out.Items) == 0 {
		return "", nil
	}
	return s1(out.Items[0], attrSK), nil
}

// Roots returns up to limit sealed days after the day after (all when
// ""), oldest first, and the last day returned when more may follow.
func (s *Store) Roots(ctx context.Context, after string, limit int) ([]ledger.Published, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.tables.LedgerRoots,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(rootsPK)},
		ProjectionExpression:      aws.String("sk, jws, leaves, signed_at"), Limit: aws.Int32(int32(limit))}
	if after != "" { // a key condition takes no empty string
		in.KeyConditionExpression = aws.String("pk = :pk AND sk > :after")
		in.ExpressionAttributeValues[":after"] = str(after)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("ledger roots: %w", err)
	}
	roots := make([]ledger.Published, 0, len(out.Items))
	for _, it := range out.Items {
		r := ledger.Published{Day: s1(it, attrSK), JWS: s1(it, "jws"), SignedAt: s1(it, "signed_at")}
		if n, ok := it["leaves"].(*types.AttributeValueMemberN); ok {
			r.Leaves, _ = strconv.Atoi(n.Value)
		}
		roots = append(roots, r)
	}
	next := ""
	if out.LastEvaluatedKey != nil && len(roots) > 0 {
		next = roots[len(roots)-1].Day
	}
	return roots, next, nil
}

// SealedDays returns every sealed day with the leaves kept under its
// root.
func (s *Store) SealedDays(ctx context.Context) ([]ledger.Sealed, error) {
	roots, err := s.query(ctx, s.tables.LedgerRoots, rootsPK)
	if err != nil {
		return nil, fmt.Errorf("ledger roots: %w", err)
	}
	out := make([]ledger.Sealed, 0, len(roots))
	for _, r := range roots {
		d := ledger.Sealed{Day: s1(r, attrSK), JWS: s1(r, "jws"), Leaves: []ledger.Leaf{}}
		pages, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.LedgerRoots, ConsistentRead: aws.Bool(true),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :root)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": str(leavesPrefix + d.Day), ":root": str(s1(r, "root") + "#")}})
		if err != nil {
			return nil, fmt.Errorf("leaves of %s: %w", d.Day, err)
		}
		for _, p := range pages {
			var leaves []ledger.Leaf
			if err := json.Unmarshal([]byte(s1(p, "leaves")), &leaves); err != nil {
				return nil, fmt.Errorf("leaves of %s: %w", d.Day, err)
			}
			d.Leaves = append(d.Leaves, leaves...)
		}
		out = append(out, d)
	}
	return out, nil
}
