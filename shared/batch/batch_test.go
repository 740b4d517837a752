package batch_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// keep is a decoder that records the record's own facts and its new
// image's kind, so a test sees what the adapter handed on.
func keep(c privacy.Change, keys, _, newImage map[string]types.AttributeValue) privacy.Change {
	if v, ok := keys["pk"].(*types.AttributeValueMemberS); ok {
		c.PK = v.Value
	}
	if v, ok := newImage["kind"].(*types.AttributeValueMemberS); ok {
		c.Kind = v.Value
	}
	return c
}

func TestChanges(t *testing.T) {
	s := events.NewStringAttribute
	tests := []struct {
		name string
		rec  events.DynamoDBEventRecord
		want privacy.Change
	}{
		{"insert", events.DynamoDBEventRecord{EventName: "INSERT", EventSourceArn: "arn:t",
			Change: events.DynamoDBStreamRecord{SequenceNumber: "1", Keys: map[string]events.DynamoDBAttributeValue{"pk": s("S#a")},
				NewImage: map[string]events.DynamoDBAttributeValue{"kind": s("inquiry")}}},
			privacy.Change{Seq: "1", Source: "arn:t", PK: "S#a", Kind: "inquiry"}},
		{"a removal by someone", events.DynamoDBEventRecord{EventName: "REMOVE",
			Change: events.DynamoDBStreamRecord{SequenceNumber: "2"}},
			privacy.Change{Seq: "2", Removed: true}},
		{"a TTL expiry", events.DynamoDBEventRecord{EventName: "REMOVE",
			UserIdentity: &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
			Change:       events.DynamoDBStreamRecord{SequenceNumber: "3"}},
			privacy.Change{Seq: "3", Removed: true, Expired: true}},
		{"another service's removal is no expiry", events.DynamoDBEventRecord{EventName: "REMOVE",
			UserIdentity: &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "other.amazonaws.com"},
			Change:       events.DynamoDBStreamRecord{SequenceNumber: "4"}},
			privacy.Change{Seq: "4", Removed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := batch.Changes(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{tt.rec}}, keep)
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Every attribute type of a stream image reaches the decoder as the SDK's
// value, nested ones too.
func TestImageValues(t *testing.T) {
	var got map[string]types.AttributeValue
	decode := func(c privacy.Change, _, _, newImage map[string]types.AttributeValue) privacy.Change {
		got = newImage
		return c
	}
	img := map[string]events.DynamoDBAttributeValue{
		"s": events.NewStringAttribute("x"), "n": events.NewNumberAttribute("7"), "b": events.NewBinaryAttribute([]byte{1}),
		"t": events.NewBooleanAttribute(true), "null": events.NewNullAttribute(),
		"ss": events.NewStringSetAttribute([]string{"a"}), "ns": events.NewNumberSetAttribute([]string{"1"}),
		"bs": events.NewBinarySetAttribute([][]byte{{2}}),
		"l":  events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("y")}),
		"m":  events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"k": events.NewNumberAttribute("1")}),
	}
	batch.Changes(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{Change: events.DynamoDBStreamRecord{NewImage: img}}}}, decode)
	want := map[string]types.AttributeValue{
		"s": &types.AttributeValueMemberS{Value: "x"}, "n": &types.AttributeValueMemberN{Value: "7"},
		"b": &types.AttributeValueMemberB{Value: []byte{1}}, "t": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true}, "ss": &types.AttributeValueMemberSS{Value: []string{"a"}},
		"ns": &types.AttributeValueMemberNS{Value: []string{"1"}}, "bs": &types.AttributeValueMemberBS{Value: [][]byte{{2}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "y"}}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberN{Value: "1"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("image %#v, want %#v", got, want)
	}
}

// The partial batch response names exactly what the service says failed,
// by sequence number (stream) or message id (queue); none failed is an
// empty list, which Lambda reads as the whole batch done.
func TestPartialBatchResponses(t *testing.T) {
	ctx := context.Background()
	recs := []events.DynamoDBEventRecord{{Change: events.DynamoDBStreamRecord{SequenceNumber: "10"}},
		{Change: events.DynamoDBStreamRecord{SequenceNumber: "20"}}, {Change: events.DynamoDBStreamRecord{SequenceNumber: "30"}}}
	msgs := []events.SQSMessage{{MessageId: "a", Body: "1"}, {MessageId: "b", Body: "2"}}
	tests := []struct {
		name   string
		failed []string
	}{{"none", nil}, {"one", []string{"20"}}, {"two", []string{"20", "30"}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			resp, err := batch.Stream(keep, func(_ context.Context, cs []privacy.Change) []string {
				for _, c := range cs {
					seen = append(seen, c.Seq)
				}
				return tt.failed
			})(ctx, events.DynamoDBEvent{Records: recs})
			if err != nil || !reflect.DeepEqual(seen, []string{"10", "20", "30"}) {
				t.Fatalf("the service saw %v (%v)", seen, err)
			}
			var got []string
			for _, f := range resp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if !reflect.DeepEqual(got, tt.failed) {
				t.Errorf("stream failures %v, want %v", got, tt.failed)
			}

			qresp, _ := batch.Queue(func(_ context.Context, ms []batch.Message) []string {
				if !reflect.DeepEqual(ms, []batch.Message{{ID: "a", Body: "1"}, {ID: "b", Body: "2"}}) {
					t.Errorf("the service got %+v", ms)
				}
				return tt.failed
			})(ctx, events.SQSEvent{Records: msgs})
			got = nil
			for _, f := range qresp.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if !reflect.DeepEqual(got, tt.failed) {
				t.Errorf("queue failures %v, want %v", got, tt.failed)
			}
		})
	}
}

// A function a stream and a schedule both invoke hands the stream's
// batches to the service and anything else to the schedule's handler.
func TestStreamOr(t *testing.T) {
	tests := []struct {
		name, event, want string
	}{
		{"a stream batch", `{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"5"}}]}`, "stream 5"},
		{"the schedule's event", `{"retry_mail":true}`, "other"},
		{"an empty batch", `{"Records":[]}`, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := batch.StreamOr(keep, func(_ context.Context, cs []privacy.Change) []string {
				got = "stream " + cs[0].Seq
				return nil
			}, func(_ context.Context, raw json.RawMessage) (any, error) {
				got = "other"
				return nil, nil
			})
			if _, err := h(context.Background(), json.RawMessage(tt.event)); err != nil || got != tt.want {
				t.Errorf("%s: %q (%v), want %q", tt.event, got, err, tt.want)
			}
		})
	}
	if _, err := batch.StreamOr(keep, nil, nil)(context.Background(), json.RawMessage(`[`)); err == nil {
		t.Error("an unreadable event was accepted")
	}
}
