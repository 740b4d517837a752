package dynamo

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A stored time is decoded once, by the record: both forms read, an
// absent or NULL one is zero, a corrupt one is an error (never the zero
// time, which a caller takes for "long ago"); the zero time is written as
// no attribute, any other as ts writes it.
func TestStamp(t *testing.T) {
	at := time.Date(2027, 3, 4, 5, 6, 7, 800, time.UTC)
	type rec struct {
		At  stamp    `dynamodbav:"at,omitempty"`
		Due deadline `dynamodbav:"due,omitempty"`
	}
	for _, tc := range []struct {
		name    string
		item    map[string]types.AttributeValue
		want    time.Time
		wantErr bool
	}{
		{"the store's form", map[string]types.AttributeValue{"at": str(ts(at))}, at, false},
		{"RFC 3339 of before", map[string]types.AttributeValue{"at": str("2027-03-04T05:06:07Z")}, at.Truncate(time.Second), false},
		{"absent", map[string]types.AttributeValue{}, time.Time{}, false},
		{"NULL", map[string]types.AttributeValue{"at": &types.AttributeValueMemberNULL{Value: true}}, time.Time{}, false},
		{"corrupt", map[string]types.AttributeValue{"at": str("04/03/2027")}, time.Time{}, true},
		{"a number", map[string]types.AttributeValue{"at": &types.AttributeValueMemberN{Value: "1"}}, time.Time{}, true},
	} {
		var r rec
		err := attributevalue.UnmarshalMap(tc.item, &r)
		if (err != nil) != tc.wantErr || !r.At.Equal(tc.want) {
			t.Errorf("%s: %v %v, want %v (error %v)", tc.name, r.At, err, tc.want, tc.wantErr)
		}
	}
	item, err := marshalItem(rec{At: stamp{at}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := item["due"]; ok || len(item) != 1 || item["at"].(*types.AttributeValueMemberS).Value != "2027-03-04T05:06:07.000000800Z" {
		t.Errorf("marshalled %v", item)
	}
	item, _ = marshalItem(rec{Due: deadline{at}})
	if v := item["due"].(*types.AttributeValueMemberS).Value; v != "2027-03-04T05:06:07Z" || len(item) != 1 {
		t.Errorf("deadline marshalled %v", item)
	}
}

// A request whose stored time is corrupt is an error, not a request with
// a zero time: a processor told "long ago" (recipients.<id>.at) was read
// as the zero time before.
func TestCorruptRequestTime(t *testing.T) {
	item, err := marshalItem(requestRecord{ID: "r1", Kind: KindRequest, Status: "pending", ReceivedAt: stamp{time.Now()},
		Recipients: map[string]recipientRecord{"p1": {Name: "P", State: "queued", At: stamp{time.Now()}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeRequest(item); err != nil {
		t.Fatalf("a sound request: %v", err)
	}
	item["recipients"].(*types.AttributeValueMemberM).Value["p1"].(*types.AttributeValueMemberM).Value["at"] = str("yesterday")
	if _, err := DecodeRequest(item); err == nil || !strings.Contains(err.Error(), "yesterday") {
		t.Errorf("a corrupt recipient time: %v", err)
	}
}
