package local

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/privacykeeper/privacykeeper/infra/awsreq"
	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

// syncLog is a log written by the front's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// The AWS front answers a refused call in each service's own protocol, so
// that the SDK in a function returns the error AWS would (AccessDenied, in
// AWS's words); a call allowed goes on to the emulator; a request not
// signed by a known key, or signed wrongly, is refused before anything is
// decided.
func TestFrontRefusesInEachProtocol(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	modules := filepath.Join(filepath.Dir(file), "..", "..", ".tools", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@cloud-copilot", "iam-simulate")); err != nil {
		if os.Getenv("PK_REQUIRE_SERVICES") != "" {
			t.Fatal("@cloud-copilot/iam-simulate is not installed (make tools)")
		}
		t.Skip("needs @cloud-copilot/iam-simulate: run make tools")
	}
	const (
		tableARN  = "arn:aws:dynamodb:us-east-1:000000000000:table/T"
		queueARN  = "arn:aws:sqs:us-east-1:000000000000:Q"
		secretARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:S-AbCdEf"
		fnARN     = "arn:aws:lambda:us-east-1:000000000000:function:Other"
		who       = "arn:aws:sts::000000000000:assumed-role/TestRole/TestFunction"
	)
	set, err := iamsim.NewSet([]iamsim.Policy{{Name: "TestRole/function", Document: map[string]any{"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Sid": "Read", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": tableARN}}}}})
	if err != nil {
		t.Fatal(err)
	}
	log := &syncLog{}
	p := &principal{name: "TestFunction", arn: who, policies: set, keyID: "ASIALOCALTEST", key: credential{secret: "secret", token: "token"}}
	g := &gate{eval: iamsim.Shared(modules), byKey: map[string]*principal{p.keyID: p}, byFunction: map[string]*principal{"TestFunction": p}, log: log}
	dynamoDB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"Item":{"pk":{"S":"a"}}}`))
	}))
	defer dynamoDB.Close()
	f := &front{gate: g, tables: awsreq.Tables{"T": {ARN: tableARN, PartitionKey: "pk"}},
		queues:  &queues{urls: map[string]string{queueARN: "http://sqs.local/000000000000/Q"}},
		secrets: map[string]secretValue{secretARN: {arn: secretARN, name: "S", value: "v"}},
		fns:     map[string]*Function{fnARN: {ID: "Other"}}, region: "us-east-1", log: log,
		emulators: map[string]string{"dynamodb": dynamoDB.URL}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx := context.Background()
	cfg := func(key, secret, token string) aws.Config {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, token)}
	}
	c := cfg(p.keyID, p.key.secret, p.key.token)
	denied := func(action, resource string) string {
		return "User: " + who + " is not authorized to perform: " + action + " on resource: " + resource +
			" because no identity-based policy allows the " + action + " action"
	}
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}}
	for _, tc := range []struct {
		name, code, message string
		call                func() error
	}{
		{"DynamoDB (awsJson 1.0)", "AccessDeniedException", denied("dynamodb:PutItem", tableARN), func() error {
			_, err := dynamodb.NewFromConfig(c).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("T"), Item: key})
			return err
		}},
		{"SQS (awsJson 1.0, query-compatible code)", "AccessDenied", denied("sqs:SendMessage", queueARN), func() error {
			_, err := sqs.NewFromConfig(c).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("http://sqs.local/000000000000/Q"),
				MessageBody: aws.String("x")})
			return err
		}},
		{"SES v2 (restJson1)", "AccessDeniedException", denied("ses:SendEmail", "arn:aws:ses:us-east-1:000000000000:identity/example.com"), func() error {
			_, err := sesv2.NewFromConfig(c).SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String("privacy@example.com"),
				Destination: &sestypes.Destination{ToAddresses: []string{"a@example.org"}},
				Content: &sestypes.EmailContent{Simple: &sestypes.Message{Subject: &sestypes.Content{Data: aws.String("s")},
					Body: &sestypes.Body{Text: &sestypes.Content{Data: aws.String("b")}}}}})
			return err
		}},
		{"Secrets Manager (awsJson 1.1)", "AccessDeniedException", denied("secretsmanager:GetSecretValue", secretARN), func() error {
			_, err := secretsmanager.NewFromConfig(c).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretARN)})
			return err
		}},
		{"Lambda (restJson1)", "AccessDeniedException", denied("lambda:InvokeFunction", fnARN), func() error {
			_, err := lambda.NewFromConfig(c).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Other")})
			return err
		}},
		{"a wrong secret", "InvalidSignatureException", "", func() error {
			_, err := dynamodb.NewFromConfig(cfg(p.keyID, "guess", p.key.token)).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("T"), Key: key})
			return err
		}},
		{"another key's token", "InvalidSignatureException", "", func() error {
			_, err := dynamodb.NewFromConfig(cfg(p.keyID, p.key.secret, "")).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("T"), Key: key})
			return err
		}},
		{"an unknown key", "UnrecognizedClientException", "", func() error {
			_, err := dynamodb.NewFromConfig(cfg("local", "local", "")).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("T"), Key: key})
			return err
		}},
	} {
		err := tc.call()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != tc.code || !strings.Contains(api.ErrorMessage(), tc.message) {
			t.Errorf("%s: %v; want %s %q", tc.name, err, tc.code, tc.message)
		}
	}
	// Allowed: forwarded to the emulator, its answer returned.
	out, err := dynamodb.NewFromConfig(c).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("T"), Key: key})
	if err != nil || out.Item["pk"] == nil {
		t.Fatalf("an allowed GetItem: %+v %v", out, err)
	}
	if n := strings.Count(log.String(), "IAM refused TestFunction ("+who+")"); n != 5 {
		t.Errorf("%d refusals logged, want 5:\n%s", n, log.String())
	}
}
