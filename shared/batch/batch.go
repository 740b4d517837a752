// Package batch is the edge of the functions a DynamoDB stream or an SQS
// queue invokes: it turns a stream's records into the domain's changes
// (privacy.Change) and a queue's messages into plain values, hands them to
// a service, and answers the records the service says failed as Lambda's
// partial batch response (ReportBatchItemFailures). It is the only package
// of shared/ besides the HTTP one (httpapi/apigw) that knows aws-lambda-go's
// event types: the services take and return plain values.
package batch

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Decoder completes a change from its record's key and images as the
// SDK's attribute values (dynamo.DecodeChange): c carries what the record
// says of itself (sequence number, source, removal, TTL expiry).
type Decoder func(c privacy.Change, keys, oldImage, newImage map[string]types.AttributeValue) privacy.Change

// Changes turns a stream batch into its changes, in order.
func Changes(ev events.DynamoDBEvent, decode Decoder) []privacy.Change {
	out := make([]privacy.Change, len(ev.Records))
	for i, rec := range ev.Records {
		c := privacy.Change{Seq: rec.Change.SequenceNumber, Source: rec.EventSourceArn,
			Removed: rec.EventName == string(events.DynamoDBOperationTypeRemove),
			// A deletion by TTL is the service dynamodb.amazonaws.com's
			// (docs.aws.amazon.com, "DynamoDB Streams and Time to Live").
			Expired: rec.UserIdentity != nil && rec.UserIdentity.Type == "Service" &&
				rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com"}
		if at := rec.Change.ApproximateCreationDateTime.Time; !at.IsZero() {
			c.At = at.UTC()
		}
		out[i] = decode(c, image(rec.Change.Keys), image(rec.Change.OldImage), image(rec.Change.NewImage))
	}
	return out
}

// Stream is the handler of a stream-triggered function: handle takes the
// batch's changes and answers the sequence numbers of those that failed,
// from which the stream retries.
func Stream(decode Decoder, handle func(context.Context, []privacy.Change) []string) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var resp events.DynamoDBEventResponse
		for _, seq := range handle(ctx, Changes(ev, decode)) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seq})
		}
		return resp, nil
	}
}

// StreamOr is the handler of a function a stream and a schedule both
// invoke: a stream batch goes to handle (as Stream), any other event to
// other (the schedule's, which other reads itself).
func StreamOr(decode Decoder, handle func(context.Context, []privacy.Change) []string,
	other func(context.Context, json.RawMessage) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	stream := Stream(decode, handle)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		if len(ev.Records) == 0 {
			return other(ctx, raw)
		}
		return stream(ctx, ev)
	}
}

// Message is a queue message as a service takes it: its id, which a
// partial batch response names, and its body. It is an alias of an
// unnamed struct so that a service declares the same type without
// importing this package (campaign.Message).
type Message = struct{ ID, Body string }

// Queue is the handler of an SQS-triggered function: handle takes the
// batch's messages and answers the ids of those that failed, which come
// back after the queue's visibility timeout; the others are deleted.
func Queue(handle func(context.Context, []Message) []string) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		msgs := make([]Message, len(ev.Records))
		for i, m := range ev.Records {
			msgs[i] = Message{ID: m.MessageId, Body: m.Body}
		}
		var resp events.SQSEventResponse
		for _, id := range handle(ctx, msgs) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		}
		return resp, nil
	}
}

// image converts a stream record's image, as aws-lambda-go decodes it, to
// the SDK's attribute values, so stream items decode with the code that
// decodes items read from the table.
func image(img map[string]events.DynamoDBAttributeValue) map[string]types.AttributeValue {
	if img == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		out[k] = value(v)
	}
	return out
}

func value(v events.DynamoDBAttributeValue) types.AttributeValue {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			out[i] = value(e)
		}
		return &types.AttributeValueMemberL{Value: out}
	case events.DataTypeMap:
		return &types.AttributeValueMemberM{Value: image(v.Map())}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}
