package ses

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/privacykeeper/privacykeeper/shared/notify"
)

func TestRedactKeepsCodeDropsAddress(t *testing.T) {
	api := &smithy.GenericAPIError{Code: "MessageRejected", Message: "Email address is not verified: ann@example.com", Fault: smithy.FaultClient}
	err := redact(api)
	if strings.Contains(err.Error(), "ann@example.com") || !strings.Contains(err.Error(), "MessageRejected") {
		t.Fatalf("%v", err)
	}
	var got smithy.APIError
	if !errors.As(err, &got) || !permanent(err) {
		t.Fatal("the API error must stay reachable for classification")
	}
	tests := []struct {
		code      string
		fault     smithy.ErrorFault
		permanent bool
	}{
		{"MessageRejected", smithy.FaultClient, true},
		{"BadRequestException", smithy.FaultClient, true},
		{"TooManyRequestsException", smithy.FaultClient, false},
		{"LimitExceededException", smithy.FaultClient, false},
		{"Throttling", smithy.FaultClient, false},
		{"SendingPausedException", smithy.FaultClient, false},
		{"AccountSuspendedException", smithy.FaultClient, false},
		{"AccessDeniedException", smithy.FaultClient, false},
		{"AccessDenied", smithy.FaultClient, false},
		{"NotFoundException", smithy.FaultClient, false}, // a missing configuration set: the stack's to fix
		{"MailFromDomainNotVerifiedException", smithy.FaultClient, false},
		{"InternalFailure", smithy.FaultServer, false},
		{"SomethingNew", smithy.FaultUnknown, false},
	}
	for _, tt := range tests {
		if got := permanent(&smithy.GenericAPIError{Code: tt.code, Fault: tt.fault}); got != tt.permanent {
			t.Errorf("%s: permanent %v, want %v", tt.code, got, tt.permanent)
		}
	}
}

// A send to an unreachable endpoint is a transient error, not a rejection.
func TestSendToDeadEndpointIsTransient(t *testing.T) {
	c := sesv2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")},
		func(o *sesv2.Options) { o.BaseEndpoint = aws.String("http://127.0.0.1:9"); o.RetryMaxAttempts = 1 })
	_, err := (&Sender{Client: c, From: "a@example.com"}).Send(context.Background(), notify.Message{Kind: "k", To: []string{"b@example.com"}})
	if err == nil || errors.Is(err, notify.ErrRejected) {
		t.Fatalf("got %v", err)
	}
}
