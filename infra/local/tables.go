package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// CreateTables creates every AWS::DynamoDB::Table of the template in
// DynamoDB Local as the template defines it (keys, indexes, stream, TTL),
// named prefix+LogicalId. Tables that exist already are kept, so data
// persists across runs of `make dev`. It fills the resolver's Ref and
// GetAtt answers for the tables.
func CreateTables(ctx context.Context, db *dynamodb.Client, t *Template, r *Resolver, prefix string) error {
	// Kept tables that gained the retention index: what they hold was
	// written before it, and is filed as privacyctl retention backfill
	// files it after a deploy.
	unfiled := map[privacy.Table]string{}
	for _, id := range t.ResourcesOfType("AWS::DynamoDB::Table") {
		if ok, err := r.Exists(id); err != nil {
			return fmt.Errorf("table %s: %w", id, err)
		} else if !ok {
			continue // its Condition is false: not in this stack
		}
		props, err := r.Resolve(t.Resources[id].Properties)
		if err != nil {
			return fmt.Errorf("table %s: %w", id, err)
		}
		p := asMap(props)
		name := prefix + id
		in := &dynamodb.CreateTableInput{TableName: &name, BillingMode: types.BillingModePayPerRequest}
		for _, a := range asList(p["AttributeDefinitions"]) {
			am := asMap(a)
			in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
				AttributeName: aws.String(asString(am["AttributeName"])),
				AttributeType: types.ScalarAttributeType(asString(am["AttributeType"])),
			})
		}
		in.KeySchema = keySchema(p["KeySchema"])
		for _, g := range asList(p["GlobalSecondaryIndexes"]) {
			gm := asMap(g)
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
				IndexName: aws.String(asString(gm["IndexName"])), KeySchema: keySchema(gm["KeySchema"]),
				Projection: projection(gm["Projection"]),
			})
		}
		for _, l := range asList(p["LocalSecondaryIndexes"]) {
			lm := asMap(l)
			in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
				IndexName: aws.String(asString(lm["IndexName"])), KeySchema: keySchema(lm["KeySchema"]),
				Projection: projection(lm["Projection"]),
			})
		}
		if s := asMap(p["StreamSpecification"]); s != nil {
			in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true),
				StreamViewType: types.StreamViewType(asString(s["StreamViewType"]))}
		}
		_, err = db.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		switch {
		case errors.As(err, &inUse):
			// Kept from an earlier run: bring it up to the template.
			added, err := reconcile(ctx, db, in)
			if err != nil {
				return err
			}
			if role, swept := sweptTable(id); swept && slices.Contains(added, "by-retention") {
				unfiled[role] = name
			}
		case err != nil:
			return fmt.Errorf("create table %s: %w", name, err)
		}
		if ttl := asMap(p["TimeToLiveSpecification"]); ttl != nil && asString(ttl["Enabled"]) == "true" {
			_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &name,
				TimeToLiveSpecification: &types.TimeToLiveSpecification{
					AttributeName: aws.String(asString(ttl["AttributeName"])), Enabled: aws.Bool(true)}})
			if err != nil && !strings.Contains(err.Error(), "already enabled") {
				return fmt.Errorf("enable TTL on %s: %w", name, err)
			}
		}
		desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", name, err)
		}
		r.Refs[id] = name
		r.Attrs[id+".Arn"] = aws.ToString(desc.Table.TableArn)
		if desc.Table.LatestStreamArn != nil {
			r.Attrs[id+".StreamArn"] = aws.ToString(desc.Table.LatestStreamArn)
		}
	}
	if len(unfiled) > 0 {
		if _, err := dynamo.BackfillRetention(ctx, db, unfiled); err != nil {
			return err
		}
	}
	return nil
}

func keySchema(v any) []types.KeySchemaElement {
	var ks []types.KeySchemaElement
	for _, k := range asList(v) {
		km := asMap(k)
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(asString(km["AttributeName"])),
			KeyType: types.KeyType(asString(km["KeyType"]))})
	}
	return ks
}

func projection(v any) *types.Projection {
	m := asMap(v)
	p := &types.Projection{ProjectionType: types.ProjectionType(asString(m["ProjectionType"]))}
	if p.ProjectionType == "" {
		p.ProjectionType = types.ProjectionTypeAll
	}
	for _, a := range asList(m["NonKeyAttributes"]) {
		p.NonKeyAttributes = append(p.NonKeyAttributes, asString(a))
	}
	return p
}

// indexActive waits until the index is built (DynamoDB, and DynamoDB
// Local, build one index of a table at a time).
func indexActive(ctx context.Context, db *dynamodb.Client, table, index *string) error {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: table})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", aws.ToString(table), err)
		}
		for _, g := range desc.Table.GlobalSecondaryIndexes {
			if aws.ToString(g.IndexName) == aws.ToString(index) && g.IndexStatus == types.IndexStatusActive {
				return nil
			}
		}
	}
	return fmt.Errorf("index %s of %s is not active after 2 minutes", aws.ToString(index), aws.ToString(table))
}

// reconcile adds to an existing table what the template gained since it was
// created: global secondary indexes and the stream. A changed key schema
// cannot be changed in place; it is reported, and `make clean` starts over.
func reconcile(ctx context.Context, db *dynamodb.Client, want *dynamodb.CreateTableInput) (added []string, err error) {
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: want.TableName})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", aws.ToString(want.TableName), err)
	}
	have := map[string]bool{}
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = true
	}
	for _, k := range desc.Table.KeySchema {
		found := false
		for _, w := range want.KeySchema {
			found = found || (aws.ToString(w.AttributeName) == aws.ToString(k.AttributeName) && w.KeyType == k.KeyType)
		}
		if !found {
			return nil, fmt.Errorf("table %s has another key schema than the template: run make clean", aws.ToString(want.TableName))
		}
	}
	for _, g := range want.GlobalSecondaryIndexes {
		if have[aws.ToString(g.IndexName)] {
			continue
		}
		_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: want.TableName,
			AttributeDefinitions: want.AttributeDefinitions,
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection}}}})
		if err != nil {
			return added, fmt.Errorf("add index %s to %s: %w", aws.ToString(g.IndexName), aws.ToString(want.TableName), err)
		}
		// One index is built at a time per table: wait for this one.
		if err := indexActive(ctx, db, want.TableName, g.IndexName); err != nil {
			return added, err
		}
		added = append(added, aws.ToString(g.IndexName))
	}
	if want.StreamSpecification != nil && (desc.Table.StreamSpecification == nil || !aws.ToBool(desc.Table.StreamSpecification.StreamEnabled)) {
		_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: want.TableName, StreamSpecification: want.StreamSpecification})
		if err != nil {
			return added, fmt.Errorf("enable stream on %s: %w", aws.ToString(want.TableName), err)
		}
	}
	return added, nil
}

// sweptTable is the role of a table the retention sweep reads by its index.
func sweptTable(id string) (privacy.Table, bool) {
	switch id {
	case "SubjectsTable":
		return privacy.TableSubjects, true
	case "LedgerTable":
		return privacy.TableLedger, true
	case "RequestsTable":
		return privacy.TableRequests, true
	case "OpsTable":
		return privacy.TableOps, true
	case "SuppressionTable":
		return privacy.TableSuppression, true
	}
	return "", false
}
