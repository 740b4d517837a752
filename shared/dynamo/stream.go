package dynamo

import (
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// FromStreamImage converts a stream record's image, as aws-lambda-go decodes
// it, to the SDK's attribute values, so stream items decode with the same
// code as items read from the table.
func FromStreamImage(img map[string]events.DynamoDBAttributeValue) map[string]types.AttributeValue {
	if img == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		out[k] = fromStream(v)
	}
	return out
}

func fromStream(v events.DynamoDBAttributeValue) types.AttributeValue {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}
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
			out[i] = fromStream(e)
		}
		return &types.AttributeValueMemberL{Value: out}
	case events.DataTypeMap:
		return &types.AttributeValueMemberM{Value: FromStreamImage(v.Map())}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}

// StringAttr returns a string attribute of a stream image, or "".
func StringAttr(img map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// ToStreamImage converts an item read from a table to a stream record's
// image, so an item read again is handled by the code that handles its
// stream record.
func ToStreamImage(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = toStream(v)
	}
	return out
}

func toStream(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = toStream(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(ToStreamImage(x.Value))
	}
	return events.NewNullAttribute()
}

// DecodeChange reads one stream record as the domain's change.
func DecodeChange(rec events.DynamoDBEventRecord) privacy.Change {
	c := privacy.Change{Seq: rec.Change.SequenceNumber, Source: rec.EventSourceArn,
		PK: StringAttr(rec.Change.Keys, attrPK), SK: StringAttr(rec.Change.Keys, attrSK),
		Removed: rec.EventName == string(events.DynamoDBOperationTypeRemove),
		Expired: rec.UserIdentity != nil && rec.UserIdentity.Type == "Service" &&
			rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com",
		OldMailDue: privacy.ParseMailDue(StringAttr(rec.Change.OldImage, AttrMailDue)),
		OldStatus:  StringAttr(rec.Change.OldImage, "status"),
		Replayed: StringAttr(rec.Change.NewImage, AttrReplayedAt) != "" &&
			StringAttr(rec.Change.NewImage, AttrReplayedAt) != StringAttr(rec.Change.OldImage, AttrReplayedAt)}
	if !c.Removed {
		decodeItem(&c, FromStreamImage(rec.Change.NewImage))
	}
	return c
}

// decodeItem sets what c says of the item as it now is.
func decodeItem(c *privacy.Change, item map[string]types.AttributeValue) {
	c.Kind, c.Status = s1(item, "kind"), s1(item, "status")
	c.MailDue = privacy.ParseMailDue(s1(item, AttrMailDue))
	switch c.Kind {
	case KindInquiry:
		inq, err := DecodeInquiry(item)
		c.Inquiry, c.Err = &inq, err
	case KindSubscription:
		sub, err := DecodeSubscription(item)
		c.Subscription, c.Err = &sub, err
	case KindRequest:
		req, err := DecodeRequest(item)
		c.Request, c.Err = &req, err
	case KindNotice:
		n, err := DecodeNotice(item)
		c.Notice, c.Err = &n, err
	case KindDelivery:
		d, err := decodeDelivery(item)
		c.Delivery, c.Err = &d, err
	}
}
