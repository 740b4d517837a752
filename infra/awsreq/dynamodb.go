// Package awsreq says what an AWS API request asks of IAM: the actions, the
// resources and the condition keys AWS authorizes it by, as the Service
// Authorization Reference and each service's guide define them. It is
// pure: the local gateway's AWS front (infra/local) decodes a function's
// request with it and asks the evaluator (infra/iamsim) each check.
//
// A request is allowed only when every check is.
package awsreq

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

// Table is what the checks need of a DynamoDB table: its ARN and the
// attribute names of its keys and of its indexes' keys.
type Table struct {
	ARN          string
	PartitionKey string
	SortKey      string
	// Indexes maps an index name to its partition key and sort key.
	Indexes map[string][2]string
}

// Tables are the tables a request may name, by table name.
type Tables map[string]Table

// lookup finds a table by the name or ARN a request gives.
func (ts Tables) lookup(name string) (Table, error) {
	if t, ok := ts[name]; ok {
		return t, nil
	}
	for _, t := range ts {
		if t.ARN == name {
			return t, nil
		}
	}
	return Table{}, fmt.Errorf("table %q is not one of the stack's", name)
}

// item is a DynamoDB item or key in the wire's JSON: attribute name to
// typed value ({"S": "x"}).
type item map[string]map[string]json.RawMessage

// value is an attribute value as a condition key compares it: the string
// of S, the digits of N, the base64 of B.
func value(av map[string]json.RawMessage) string {
	for _, t := range []string{"S", "N", "B"} {
		if raw, ok := av[t]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s
			}
		}
	}
	return ""
}

func (it item) names() []string {
	out := make([]string, 0, len(it))
	for k := range it {
		out = append(out, k)
	}
	return out
}

// ddbInput is the union of the fields of the DynamoDB operations the
// checks read.
type ddbInput struct {
	TableName                 string
	IndexName                 string
	Key                       item
	Item                      item
	KeyConditionExpression    string
	KeyConditions             map[string]json.RawMessage
	ProjectionExpression      string
	AttributesToGet           []string
	UpdateExpression          string
	AttributeUpdates          map[string]json.RawMessage
	ConditionExpression       string
	Expected                  map[string]json.RawMessage
	FilterExpression          string
	QueryFilter               map[string]json.RawMessage
	ScanFilter                map[string]json.RawMessage
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues item
	Select                    string
	ReturnValues              string
	ReturnConsumedCapacity    string
	RequestItems              json.RawMessage
	TransactItems             []map[string]json.RawMessage
	StreamArn                 string
	ShardIterator             string
}

// DynamoDB returns the checks of a DynamoDB or DynamoDB Streams request:
// op is the X-Amz-Target's operation ("DynamoDB_20120810.PutItem",
// "DynamoDBStreams_20120810.GetRecords"), body the JSON request.
//
// As "Using IAM policy conditions for fine-grained access control" (the
// DynamoDB developer guide) and the Service Authorization Reference for
// DynamoDB define them:
//   - the resource is the table's ARN; the index's (table ARN +
//     "/index/NAME") for a Query or Scan with IndexName; the stream's for
//     the stream operations;
//   - dynamodb:LeadingKeys is the partition key values the request
//     touches (the table's, or the queried index's: the equality on it in
//     the key condition);
//   - dynamodb:Attributes is the top-level attribute names the request
//     reads or writes: a PutItem's item, an UpdateItem's key and the names
//     its update and condition expressions use, a read's projection with
//     the key names (absent without a projection: the whole item);
//   - dynamodb:Select (Query, Scan: only as given; absent when the
//     request sends none), dynamodb:ReturnValues (writes: as given, or NONE) and
//     dynamodb:ReturnConsumedCapacity (as given, or NONE);
//   - BatchGetItem and BatchWriteItem are one check per table, of the
//     batch's action with all its leading keys; TransactWriteItems checks
//     each element as its own action (PutItem, UpdateItem, DeleteItem,
//     ConditionCheckItem) on its table, TransactGetItems each as GetItem.
//
// GetRecords names no stream, only an iterator; streamOf maps the iterator
// to the stream's ARN (DynamoDB Local's iterators begin with it).
func DynamoDB(op string, body []byte, tables Tables, streamOf func(iterator string) (string, bool)) ([]iamsim.Request, error) {
	_, name, _ := strings.Cut(op, ".")
	var in ddbInput
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("dynamodb %s: %w", name, err)
		}
	}
	if strings.HasPrefix(op, "DynamoDBStreams_") {
		return streamsChecks(name, in, streamOf)
	}
	switch name {
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem":
		t, err := tables.lookup(in.TableName)
		if err != nil {
			return nil, err
		}
		c, err := itemCheck(name, in, t)
		if err != nil {
			return nil, err
		}
		return []iamsim.Request{c}, nil
	case "Query", "Scan":
		t, err := tables.lookup(in.TableName)
		if err != nil {
			return nil, err
		}
		c, err := readCheck(name, in, t)
		if err != nil {
			return nil, err
		}
		return []iamsim.Request{c}, nil
	case "BatchGetItem", "BatchWriteItem":
		return batchChecks(name, in.RequestItems, tables)
	case "TransactWriteItems", "TransactGetItems":
		return transactChecks(name, in, tables)
	case "DescribeTable", "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource":
		t, err := tables.lookup(in.TableName)
		if err != nil {
			return nil, err
		}
		return []iamsim.Request{{Action: "dynamodb:" + name, Resource: t.ARN}}, nil
	case "ListTables":
		return []iamsim.Request{{Action: "dynamodb:ListTables", Resource: "*"}}, nil
	}
	return nil, fmt.Errorf("dynamodb %s: not translated to IAM checks by the local stack", name)
}

func streamsChecks(name string, in ddbInput, streamOf func(string) (string, bool)) ([]iamsim.Request, error) {
	switch name {
	case "DescribeStream", "GetShardIterator":
		if in.StreamArn == "" {
			return nil, fmt.Errorf("dynamodb streams %s: no StreamArn", name)
		}
		return []iamsim.Request{{Action: "dynamodb:" + name, Resource: in.StreamArn}}, nil
	case "GetRecords":
		arn, ok := streamOf(in.ShardIterator)
		if !ok {
			return nil, fmt.Errorf("dynamodb streams GetRecords: an iterator of no known stream")
		}
		return []iamsim.Request{{Action: "dynamodb:GetRecords", Resource: arn}}, nil
	case "ListStreams":
		// Service Authorization Reference: ListStreams has no resource type.
		return []iamsim.Request{{Action: "dynamodb:ListStreams", Resource: "*"}}, nil
	}
	return nil, fmt.Errorf("dynamodb streams %s: not translated to IAM checks by the local stack", name)
}

// itemCheck is the check of a single-item operation on t (also each
// element of a transaction, and a batch's per-table check's parts).
func itemCheck(name string, in ddbInput, t Table) (iamsim.Request, error) {
	if in.KeyConditions != nil || in.AttributeUpdates != nil || in.Expected != nil || len(in.AttributesToGet) > 0 {
		return iamsim.Request{}, fmt.Errorf("dynamodb %s: legacy parameters are not translated by the local stack", name)
	}
	key := in.Key
	if name == "PutItem" {
		key = in.Item
	}
	pk, ok := key[t.PartitionKey]
	if !ok {
		return iamsim.Request{}, fmt.Errorf("dynamodb %s: no partition key %s", name, t.PartitionKey)
	}
	ctx := map[string]any{"dynamodb:LeadingKeys": []string{value(pk)}}
	var attrs []string
	var err error
	switch name {
	case "PutItem":
		attrs = in.Item.names()
		attrs, err = withNames(attrs, in.ConditionExpression, in.ExpressionAttributeNames)
	case "UpdateItem":
		attrs = in.Key.names()
		if attrs, err = withNames(attrs, in.UpdateExpression, in.ExpressionAttributeNames); err == nil {
			attrs, err = withNames(attrs, in.ConditionExpression, in.ExpressionAttributeNames)
		}
	case "DeleteItem", "ConditionCheckItem":
		attrs = in.Key.names()
		attrs, err = withNames(attrs, in.ConditionExpression, in.ExpressionAttributeNames)
	case "GetItem":
		if in.ProjectionExpression != "" {
			attrs, err = withNames(in.Key.names(), in.ProjectionExpression, in.ExpressionAttributeNames)
		}
	}
	if err != nil {
		return iamsim.Request{}, fmt.Errorf("dynamodb %s: %w", name, err)
	}
	if attrs != nil {
		ctx["dynamodb:Attributes"] = set(attrs)
	}
	if name != "GetItem" {
		ctx["dynamodb:ReturnValues"] = orDefault(in.ReturnValues, "NONE")
	}
	ctx["dynamodb:ReturnConsumedCapacity"] = orDefault(in.ReturnConsumedCapacity, "NONE")
	return iamsim.Request{Action: "dynamodb:" + name, Resource: t.ARN, Context: ctx}, nil
}

// readCheck is a Query's or Scan's check.
func readCheck(name string, in ddbInput, t Table) (iamsim.Request, error) {
	if in.KeyConditions != nil || in.QueryFilter != nil || in.ScanFilter != nil || len(in.AttributesToGet) > 0 {
		return iamsim.Request{}, fmt.Errorf("dynamodb %s: legacy parameters are not translated by the local stack", name)
	}
	resource, pkName := t.ARN, t.PartitionKey
	if in.IndexName != "" {
		keys, ok := t.Indexes[in.IndexName]
		if !ok {
			return iamsim.Request{}, fmt.Errorf("dynamodb %s: %s has no index %s", name, t.ARN, in.IndexName)
		}
		resource, pkName = t.ARN+"/index/"+in.IndexName, keys[0]
	}
	ctx := map[string]any{}
	if name == "Query" {
		v, err := partitionValue(in.KeyConditionExpression, pkName, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
		if err != nil {
			return iamsim.Request{}, fmt.Errorf("dynamodb Query: %w", err)
		}
		ctx["dynamodb:LeadingKeys"] = []string{v}
	}
	// Only as the request gives it: AWS's own example of an
	// attribute-limited grant conditions on it with StringEqualsIfExists
	// (IAM User Guide, "Amazon DynamoDB: Allows access to specific
	// attributes"), so a request that sends none has no key, and a
	// StringEquals on it fails. Filling in DynamoDB's default here let a
	// Query without Select pass locally that AWS refuses (the rights
	// function's read of the processors to tell).
	if in.Select != "" {
		ctx["dynamodb:Select"] = in.Select
	}
	if in.ProjectionExpression != "" {
		keys := []string{t.PartitionKey, t.SortKey}
		if in.IndexName != "" {
			ik := t.Indexes[in.IndexName]
			keys = append(keys, ik[0], ik[1])
		}
		attrs, err := withNames(keys, in.ProjectionExpression, in.ExpressionAttributeNames)
		if err == nil {
			attrs, err = withNames(attrs, in.FilterExpression, in.ExpressionAttributeNames)
		}
		if err != nil {
			return iamsim.Request{}, fmt.Errorf("dynamodb %s: %w", name, err)
		}
		ctx["dynamodb:Attributes"] = set(attrs)
	}
	ctx["dynamodb:ReturnConsumedCapacity"] = orDefault(in.ReturnConsumedCapacity, "NONE")
	return iamsim.Request{Action: "dynamodb:" + name, Resource: resource, Context: ctx}, nil
}

// batchChecks: one check per table of the batch action, with every
// partition key and attribute name the batch touches there.
func batchChecks(name string, raw json.RawMessage, tables Tables) ([]iamsim.Request, error) {
	var byTable map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byTable); err != nil {
		return nil, fmt.Errorf("dynamodb %s: RequestItems: %w", name, err)
	}
	var out []iamsim.Request
	for _, tn := range sortedKeys(byTable) {
		t, err := tables.lookup(tn)
		if err != nil {
			return nil, err
		}
		var keys, attrs []string
		withAttrs := true
		addItem := func(it item) error {
			pk, ok := it[t.PartitionKey]
			if !ok {
				return fmt.Errorf("dynamodb %s: an item of %s without its partition key", name, tn)
			}
			keys = append(keys, value(pk))
			attrs = append(attrs, it.names()...)
			return nil
		}
		if name == "BatchGetItem" {
			var req struct {
				Keys                     []item
				ProjectionExpression     string
				AttributesToGet          []string
				ExpressionAttributeNames map[string]string
			}
			if err := json.Unmarshal(byTable[tn], &req); err != nil {
				return nil, fmt.Errorf("dynamodb %s: %w", name, err)
			}
			if len(req.AttributesToGet) > 0 {
				return nil, fmt.Errorf("dynamodb %s: legacy parameters are not translated by the local stack", name)
			}
			for _, k := range req.Keys {
				if err := addItem(k); err != nil {
					return nil, err
				}
			}
			if withAttrs = req.ProjectionExpression != ""; withAttrs {
				if attrs, err = withNames(attrs, req.ProjectionExpression, req.ExpressionAttributeNames); err != nil {
					return nil, fmt.Errorf("dynamodb %s: %w", name, err)
				}
			}
		} else {
			var reqs []struct {
				PutRequest    *struct{ Item item }
				DeleteRequest *struct{ Key item }
			}
			if err := json.Unmarshal(byTable[tn], &reqs); err != nil {
				return nil, fmt.Errorf("dynamodb %s: %w", name, err)
			}
			for _, r := range reqs {
				var it item
				switch {
				case r.PutRequest != nil:
					it = r.PutRequest.Item
				case r.DeleteRequest != nil:
					it = r.DeleteRequest.Key
				}
				if err := addItem(it); err != nil {
					return nil, err
				}
			}
		}
		ctx := map[string]any{"dynamodb:LeadingKeys": set(keys)}
		if withAttrs {
			ctx["dynamodb:Attributes"] = set(attrs)
		}
		out = append(out, iamsim.Request{Action: "dynamodb:" + name, Resource: t.ARN, Context: ctx})
	}
	return out, nil
}

// transactChecks: each element is authorized as the single-item action it
// is (the DynamoDB developer guide, "Using IAM with DynamoDB
// transactions").
func transactChecks(name string, in ddbInput, tables Tables) ([]iamsim.Request, error) {
	actions := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
		"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
	var out []iamsim.Request
	for _, el := range in.TransactItems {
		if len(el) != 1 {
			return nil, fmt.Errorf("dynamodb %s: an element with %d operations", name, len(el))
		}
		for kind, raw := range el {
			action, ok := actions[kind]
			if !ok || (name == "TransactGetItems") != (kind == "Get") {
				return nil, fmt.Errorf("dynamodb %s: element %s", name, kind)
			}
			var part ddbInput
			if err := json.Unmarshal(raw, &part); err != nil {
				return nil, fmt.Errorf("dynamodb %s: %w", name, err)
			}
			t, err := tables.lookup(part.TableName)
			if err != nil {
				return nil, err
			}
			c, err := itemCheck(action, part, t)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// set is the distinct non-empty strings of l, sorted.
func set(l []string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
