// Package ses sends notify.Messages with the SES v2 API. Simple content
// carries custom headers (List-Unsubscribe and List-Unsubscribe-Post for
// marketing mail), which the v1 raw API would make us assemble by hand.
package ses

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/sdkhttp"
)

// Sender sends through one SES client from one verified identity.
type Sender struct {
	Client *sesv2.Client
	From   string
	// ConfigurationSet routes bounce and complaint events; empty for none.
	ConfigurationSet string
}

// Send sends m and returns the SES message id.
func (s *Sender) Send(ctx context.Context, m notify.Message) (string, error) {
	utf8 := aws.String("UTF-8")
	msg := &types.Message{
		Subject: &types.Content{Data: aws.String(m.Subject), Charset: utf8},
		Body: &types.Body{
			Text: &types.Content{Data: aws.String(m.Text), Charset: utf8},
			Html: &types.Content{Data: aws.String(m.HTML), Charset: utf8},
		},
	}
	for _, h := range m.Headers {
		msg.Headers = append(msg.Headers, types.MessageHeader{Name: aws.String(h.Name), Value: aws.String(h.Value)})
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.From),
		Destination:      &types.Destination{ToAddresses: m.To},
		ReplyToAddresses: m.ReplyTo,
		Content:          &types.EmailContent{Simple: msg},
		EmailTags:        []types.MessageTag{{Name: aws.String("kind"), Value: aws.String(m.Kind)}},
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	out, err := s.Client.SendEmail(ctx, in)
	if permanent(err) {
		return "", fmt.Errorf("ses send %s: %w: %w", m.Kind, notify.ErrRejected, redact(err))
	}
	if err != nil {
		return "", fmt.Errorf("ses send %s: %w", m.Kind, redact(err))
	}
	return aws.ToString(out.MessageId), nil
}

// permanent reports whether SES refused this message or its recipient for
// good: MessageRejected, or BadRequestException (an address or content SES
// will never take). Anything else is about the sender's side and is
// retried until fixed (and alarmed): throttling and quotas, a paused or
// suspended account, AccessDenied from an IAM mistake, a missing
// configuration set or identity (NotFound, MailFromDomainNotVerified),
// server faults and network errors. Settling those as permanent would
// drop every email while the stack is misconfigured.
func permanent(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorFault() == smithy.FaultServer {
		return false
	}
	switch apiErr.ErrorCode() {
	case "MessageRejected", "BadRequestException":
		return true
	}
	return false
}

// redact keeps an SES API error's code and drops its message, which can
// quote the recipient's address ("... identities failed the check: a@b"):
// errors end up in logs, and logs hold no personal data.
func redact(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return &redactedError{code: apiErr.ErrorCode(), err: err}
	}
	return err
}

type redactedError struct {
	code string
	err  error
}

func (e *redactedError) Error() string {
	return "SES error " + e.code + " (message withheld: it may name a recipient)"
}
func (e *redactedError) Unwrap() error { return e.err }

// NewClient returns an SES v2 client, pointed at endpoint when one is
// given (the SES emulator, in development).
func NewClient(cfg aws.Config, endpoint string) *sesv2.Client {
	return sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		o.HTTPClient = sdkhttp.OwnBody(o.HTTPClient)
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// MaxSendRate is the account's SES maximum send rate (messages a second),
// from its sending quota.
func MaxSendRate(ctx context.Context, c *sesv2.Client) (float64, error) {
	out, err := c.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return 0, fmt.Errorf("ses account: %w", err)
	}
	if out.SendQuota == nil || out.SendQuota.MaxSendRate <= 0 {
		return 0, errors.New("ses account: no maximum send rate in the sending quota")
	}
	return out.SendQuota.MaxSendRate, nil
}
