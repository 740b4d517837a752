package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The retention index (see privacy.RetentionShards): attrDuePK is an
// item's shard, attrDueAt when the sweep next has something to do with it
// (epoch seconds, rounded down, so never later than the class's end).
// Each swept table has the sparse, keys-only GSI dueIndex on them.
const (
	attrDuePK = "retention_pk"
	attrDueAt = "retention_at"
	dueIndex  = "by-retention"
)

// dueShard is the index shard of an item's key.
func dueShard(key map[string]types.AttributeValue) string {
	return privacy.RetentionShard(s1(key, attrPK) + "|" + s1(key, attrSK))
}

// withDue files a whole item, as it will be stored in table t, under its
// next due time (privacy.NextDue); an item no class applies to is left
// out of the index. It returns item.
func withDue(t privacy.Table, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	delete(item, attrDuePK)
	delete(item, attrDueAt)
	if at, ok := privacy.NextDue(privacy.RetentionClasses(), t, sweepItem(item)); ok {
		item[attrDuePK], item[attrDueAt] = str(dueShard(item)), num(at.Unix())
	}
	return item
}

// FileForRetention is withDue for a tool that writes whole items the way
// the store does (a benchmark's seed, a restore).
func FileForRetention(t privacy.Table, item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return withDue(t, item)
}

// setDue adds to an update's values the index attributes of the item key,
// due at at, and returns the SET clause for them: for an update that
// starts a class (at its end), or that cannot know what applies to the
// item it changes (at the time of the change: the sweep reads the item at
// its next run and files it exactly).
func setDue(vals map[string]types.AttributeValue, key map[string]types.AttributeValue, at time.Time) string {
	vals[":retention_pk"], vals[":retention_at"] = str(dueShard(key)), num(at.Unix())
	return attrDuePK + " = :retention_pk, " + attrDueAt + " = :retention_at"
}

// setDueIfNone is setDue for an item whose first write starts its only
// class and whose later writes move its clock later (a callback's
// cursor): the first due stays, and the sweep files the item again when
// it reads it.
func setDueIfNone(vals map[string]types.AttributeValue, key map[string]types.AttributeValue, at time.Time) string {
	setDue(vals, key, at) // the values; the clause differs
	return attrDuePK + " = if_not_exists(" + attrDuePK + ", :retention_pk), " +
		attrDueAt + " = if_not_exists(" + attrDueAt + ", :retention_at)"
}

// dueOf reads an item's due time from the index attributes.
func dueOf(item map[string]types.AttributeValue) (time.Time, bool) {
	if _, ok := item[attrDuePK]; !ok {
		return time.Time{}, false
	}
	return sweepItem(item).Time(attrDueAt)
}

// BackfillAPI is the part of DynamoDB the retention backfill uses.
type BackfillAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// BackfillCount is what a backfill did to one table.
type BackfillCount struct {
	Read  int `json:"read"`  // items without index attributes
	Filed int `json:"filed"` // of those, filed under their next due time
}

// BackfillRetention files every item of the tables (by role) that predates
// the retention indexes under its next due time: the one scan of each
// table an upgrade needs, after which the sweep reads only what is due. An
// item filed already (by a writer, or an earlier backfill) is left alone,
// so it can be run again, and run while the system serves.
func BackfillRetention(ctx context.Context, db BackfillAPI, tables map[privacy.Table]string) (map[privacy.Table]BackfillCount, error) {
	out := map[privacy.Table]BackfillCount{}
	for _, t := range slices.Sorted(maps.Keys(tables)) {
		name := tables[t]
		var n BackfillCount
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &name, ConsistentRead: aws.Bool(true),
			FilterExpression: aws.String("attribute_not_exists(" + attrDuePK + ")")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return out, fmt.Errorf("backfill %s: %w", name, err)
			}
			for _, it := range page.Items {
				n.Read++
				at, ok := privacy.NextDue(privacy.RetentionClasses(), t, sweepItem(it))
				if !ok {
					continue
				}
				key := sweepItem(it).key()
				vals := map[string]types.AttributeValue{}
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &name, Key: key,
					UpdateExpression:          aws.String("SET " + setDue(vals, key, at)),
					ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(" + attrDuePK + ")"),
					ExpressionAttributeValues: vals})
				if isConditionFailed(err) {
					continue
				}
				if err != nil {
					return out, fmt.Errorf("backfill %s: %w", name, err)
				}
				n.Filed++
			}
		}
		out[t] = n
	}
	return out, nil
}
