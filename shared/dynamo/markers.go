package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Sent-markers live in the ops table under an opaque key (the mailer hashes
// the source item key with the email kind), so they link to no one.
// A marker is "sending" while a mailer holds its lease and "sent" after.

// MailMarkerPrefix begins every sent-marker's key (the template's grants
// name it).
const MailMarkerPrefix = "MAIL#"

func markerKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: MailMarkerPrefix + key},
		attrSK: &types.AttributeValueMemberS{Value: "MAIL"},
	}
}

// ClaimMail takes the right to send the email identified by key. A lease
// left by a mailer that died runs out, and the email is then claimed again,
// so none is lost.
func (s *Store) ClaimMail(ctx context.Context, key string, now time.Time, lease time.Duration) (privacy.Claim, error) {
	item := markerKey(key)
	item["state"] = &types.AttributeValueMemberS{Value: "sending"}
	item["lease_until"] = num(now.Add(lease).Unix())
	item[attrTTL] = num(privacy.Retention().MailMarker.From(now).Unix())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &s.tables.Ops,
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR (#s = :sending AND lease_until < :now)"),
		ExpressionAttributeNames: map[string]string{"#s": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sending": &types.AttributeValueMemberS{Value: "sending"},
			":now":     num(now.Unix()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if st, ok := ccf.Item["state"].(*types.AttributeValueMemberS); ok && st.Value == "sent" {
			if id, ok := ccf.Item["message_id"].(*types.AttributeValueMemberS); ok && id.Value == privacy.RejectedMessageID {
				return privacy.RejectedBefore, nil
			}
			return privacy.AlreadySent, nil
		}
		return privacy.Busy, nil
	}
	if err != nil {
		return privacy.Busy, fmt.Errorf("claim mail marker: %w", err)
	}
	return privacy.Claimed, nil
}

// MailSent records that the claimed email went out, with the SES message id.
func (s *Store) MailSent(ctx context.Context, key, messageID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.tables.Ops,
		Key:                      markerKey(key),
		UpdateExpression:         aws.String("SET #s = :sent, message_id = :id REMOVE lease_until"),
		ExpressionAttributeNames: map[string]string{"#s": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sent": &types.AttributeValueMemberS{Value: "sent"},
			":id":   &types.AttributeValueMemberS{Value: messageID},
		},
	})
	if err != nil {
		return fmt.Errorf("mark mail sent: %w", err)
	}
	return nil
}

// ReleaseMail gives a claim back after a failed send, so the retry can
// claim it at once instead of waiting for the lease to run out.
func (s *Store) ReleaseMail(ctx context.Context, key string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                &s.tables.Ops,
		Key:                      markerKey(key),
		ConditionExpression:      aws.String("#s = :sending"),
		ExpressionAttributeNames: map[string]string{"#s": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sending": &types.AttributeValueMemberS{Value: "sending"},
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("release mail marker: %w", err)
	}
	return nil
}

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
