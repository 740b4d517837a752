package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// ControllerPrefix starts the partition key of every controller
// credential in the ops table. The template denies writes under it to
// every internet-facing function (dynamodb:LeadingKeys), so only the
// operator's role can issue or revoke one.
const ControllerPrefix = "CTRL#"

func controllerKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(ControllerPrefix + id), attrSK: str("CTRL")}
}

// controllerListKey is a controller's entry in the list of controllers:
// one partition the sweep reads with one query.
func controllerListKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(ControllerPrefix), attrSK: str(id)}
}

// PutController stores a new controller credential and its list entry,
// and e (who issued it) in the ledger, in one write.
func (s *Store) PutController(ctx context.Context, c privacy.Controller, e privacy.Event) error {
	created := ts(e.At)
	list := controllerListKey(c.ID)
	list["controller_id"], list["name"], list["created_at"] = str(c.ID), str(c.Name), str(created)
	credential := map[string]types.AttributeValue{
		attrPK: str(ControllerPrefix + c.ID), attrSK: str("CTRL"), "controller_id": str(c.ID), "secret_hash": str(c.SecretHash),
		"name": str(c.Name), "created_at": str(created)}
	if c.Region != "" {
		credential["region"], list["region"] = str(string(c.Region)), str(string(c.Region))
	}
	items, err := s.withLedger(e,
		types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Ops, Item: credential,
			ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Ops, Item: list}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return fmt.Errorf("put controller: %w", err)
	}
	return nil
}

// Controllers lists every controller with its retention settings (not
// its credential).
func (s *Store) Controllers(ctx context.Context) ([]privacy.Controller, error) {
	items, err := s.query(ctx, s.tables.Ops, ControllerPrefix)
	if err != nil {
		return nil, fmt.Errorf("list controllers: %w", err)
	}
	out := make([]privacy.Controller, 0, len(items))
	for _, it := range items {
		var rec struct {
			ID            string `dynamodbav:"controller_id"`
			Name          string `dynamodbav:"name"`
			CreatedAt     stamp  `dynamodbav:"created_at"`
			RetentionDays int    `dynamodbav:"retention_days"`
			TerminatedAt  string `dynamodbav:"terminated_at"`
			Region        string `dynamodbav:"region"`
		}
		if err := attributevalue.UnmarshalMap(it, &rec); err != nil {
			return nil, fmt.Errorf("list controllers: %w", err)
		}
		c := privacy.Controller{ID: rec.ID, Name: rec.Name, RetentionDays: rec.RetentionDays, Region: privacy.Region(rec.Region)}
		c.CreatedAt = rec.CreatedAt.Time
		if c.TerminatedAt, err = parseTS(rec.TerminatedAt); err != nil {
			return nil, fmt.Errorf("controller %s: terminated_at: %w", rec.ID, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// SetControllerRetention sets how many days a controller's records are
// kept after their last write (0: no limit of the controller's), with e
// (who set it) in the ledger.
func (s *Store) SetControllerRetention(ctx context.Context, id string, days int, e privacy.Event) error {
	return s.updateControllerEntry(ctx, id, "SET retention_days = :v", num(int64(days)), false, e)
}

// TerminateController starts the 12-month clock for a controller's
// records (the first termination counts; a second changes nothing) and
// revokes its credentials in the same write: a client that has left the
// Platform makes no more calls.
func (s *Store) TerminateController(ctx context.Context, id string, e privacy.Event) error {
	return s.updateControllerEntry(ctx, id, "SET terminated_at = if_not_exists(terminated_at, :v)", str(ts(e.At)), true, e)
}

// updateControllerEntry updates a controller's list entry, only while its
// credential exists (privacy.ErrNotFound otherwise), and revokes the
// credential with it when revoke is set; e goes to the ledger with it.
func (s *Store) updateControllerEntry(ctx context.Context, id, set string, v types.AttributeValue, revoke bool, e privacy.Event) error {
	credential := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.tables.Ops, Key: controllerKey(id),
		ConditionExpression: aws.String("attribute_exists(pk)")}}
	if revoke {
		credential = types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Ops, Key: controllerKey(id),
			UpdateExpression: aws.String("SET revoked = :t"), ConditionExpression: aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}}}
	}
	items, err := s.withLedger(e, credential,
		types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Ops, Key: controllerListKey(id),
			UpdateExpression:          aws.String(set + ", controller_id = :id"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": v, ":id": str(id)}}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if refusedAt(err, 0) {
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("update controller %s: %w", id, err)
	}
	return nil
}

// LookupController returns a controller's credential; privacy.ErrNotFound when
// there is none.
func (s *Store) LookupController(ctx context.Context, id string) (privacy.Controller, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops, Key: controllerKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.Controller{}, fmt.Errorf("get controller: %w", err)
	}
	if out.Item == nil {
		return privacy.Controller{}, privacy.ErrNotFound
	}
	c := privacy.Controller{ID: id}
	if v, ok := out.Item["secret_hash"].(*types.AttributeValueMemberS); ok {
		c.SecretHash = v.Value
	}
	if v, ok := out.Item["revoked"].(*types.AttributeValueMemberBOOL); ok {
		c.Revoked = v.Value
	}
	if v, ok := out.Item["region"].(*types.AttributeValueMemberS); ok {
		c.Region = privacy.Region(v.Value)
	}
	return c, nil
}

// SetControllerRegion records the region of a controller registered
// before regions, once: privacy.ErrNotFound without its credential,
// privacy.ErrExists when a region is recorded already (moving a
// controller's data between regions is not a write of this attribute).
// e (who recorded it) goes to the ledger with it. Each of the two items
// carries a condition, so the refusal tells which case it is without a
// read (the operator may not read a credential).
func (s *Store) SetControllerRegion(ctx context.Context, id string, r privacy.Region, e privacy.Event) error {
	update := func(key map[string]types.AttributeValue, cond string) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Ops, Key: key,
			UpdateExpression: aws.String("SET #region = :r"), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: map[string]string{"#region": "region"}, ExpressionAttributeValues: map[string]types.AttributeValue{":r": str(string(r))}}}
	}
	items, err := s.withLedger(e,
		update(controllerKey(id), "attribute_exists(pk) AND attribute_not_exists(#region)"),
		update(controllerListKey(id), "attribute_not_exists(#region)"))
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	switch {
	case refusedAt(err, 1):
		return privacy.ErrExists
	case refusedAt(err, 0):
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set controller %s region: %w", id, err)
	}
	return nil
}

// RevokeController withdraws a controller's credential, with e (who
// revoked it) in the ledger.
func (s *Store) RevokeController(ctx context.Context, id string, e privacy.Event) error {
	items, err := s.withLedger(e, types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Ops, Key: controllerKey(id),
		UpdateExpression: aws.String("SET revoked = :t"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if refusedAt(err, 0) {
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke controller: %w", err)
	}
	return nil
}
