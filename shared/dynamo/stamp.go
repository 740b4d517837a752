package dynamo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// stamp is a stored time that marshals and unmarshals itself
// (attributevalue.Marshaler and Unmarshaler): written as ts writes it,
// read as parseTS reads it (both forms), so a record's times are decoded
// once, by the record. A corrupt time is an error, never the zero time
// (which a caller would take for "long ago" or "never"). The zero time is
// no attribute: it marshals as NULL, which marshalItem leaves out under
// omitempty.
type stamp struct{ time.Time }

// deadline is a stamp written to the second (dueAt), as due_at and the
// deadlines an extension moves are.
type deadline struct{ time.Time }

func (t stamp) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return marshalTime(t.Time, ts)
}

func (t *stamp) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	return unmarshalTime(av, &t.Time)
}

func (t deadline) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return marshalTime(t.Time, dueAt)
}

func (t *deadline) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	return unmarshalTime(av, &t.Time)
}

func marshalTime(t time.Time, format func(time.Time) string) (types.AttributeValue, error) {
	if t.IsZero() {
		return &types.AttributeValueMemberNULL{Value: true}, nil
	}
	return str(format(t)), nil
}

func unmarshalTime(av types.AttributeValue, to *time.Time) error {
	switch v := av.(type) {
	case *types.AttributeValueMemberNULL:
		*to = time.Time{}
		return nil
	case *types.AttributeValueMemberS:
		t, err := parseTS(v.Value)
		if err != nil {
			return err
		}
		*to = t
		return nil
	}
	return fmt.Errorf("stored time: a %T, not a string", av)
}

// marshalItem is how the store marshals a record: a zero stamp under
// omitempty is left out, as an empty string is.
func marshalItem(v any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) { o.OmitNullAttributeValues = true })
}

// marshalValue is marshalItem for one attribute's value (a map of records).
func marshalValue(v any) (types.AttributeValue, error) {
	return attributevalue.MarshalWithOptions(v, func(o *attributevalue.EncoderOptions) { o.OmitNullAttributeValues = true })
}
