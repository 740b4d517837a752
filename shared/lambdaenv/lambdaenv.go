// Package lambdaenv reads a function's configuration from its environment
// (as template.yaml declares it) and builds the AWS clients a warm Lambda
// keeps. Endpoint overrides point the clients at DynamoDB Local and the SES
// emulator in development; in AWS they are empty and the SDK's defaults apply.
package lambdaenv

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// Env is a function's configuration.
type Env struct {
	AWS              aws.Config
	Tables           dynamo.Tables
	PolicyVersion    string
	Sender           string
	TeamInbox        string
	Company          string
	PolicyURL        string
	BaseURL          string
	ConfigurationSet string
	DynamoDBEndpoint string
	SESEndpoint      string
}

// Secrets are the keys the system keeps out of its configuration. All are
// derived from one master secret, so a deployment has one secret to guard.
type Secrets struct {
	SubjectPepper []byte
	TokenKey      []byte
	// CredentialKey seals the credentials of the processors the site
	// tells of erasures (recipients.Seal).
	CredentialKey []byte
}

// LocalSecret is the master secret of local development (make dev, the
// tests, sam local's env.json): never a deployed stack's.
const LocalSecret = "local-development-secret-not-for-production-use"

// DeriveSecrets derives the purpose-bound keys from the master secret.
func DeriveSecrets(master string) Secrets {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, []byte(master))
		m.Write([]byte("privacykeeper/" + purpose + "/v1"))
		return m.Sum(nil)
	}
	return Secrets{SubjectPepper: derive("subject-pepper"), TokenKey: derive("token-key"), CredentialKey: derive("processor-credentials")}
}

// Load reads the environment. It fails on a missing required variable, so a
// misconfigured function stops at its cold start, not on a visitor's request.
func Load(ctx context.Context) (*Env, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	e := &Env{
		AWS: cfg,
		Tables: dynamo.Tables{
			Subjects:    os.Getenv("SUBJECTS_TABLE"),
			Ledger:      os.Getenv("LEDGER_TABLE"),
			Suppression: os.Getenv("SUPPRESSION_TABLE"),
			Requests:    os.Getenv("REQUESTS_TABLE"),
			Ops:         os.Getenv("OPS_TABLE"),
			Records:     os.Getenv("RECORDS_TABLE"),
		},
		PolicyVersion:    os.Getenv("POLICY_VERSION"),
		Sender:           os.Getenv("SENDER_ADDRESS"),
		TeamInbox:        os.Getenv("TEAM_INBOX"),
		Company:          os.Getenv("COMPANY_NAME"),
		PolicyURL:        os.Getenv("POLICY_URL"),
		BaseURL:          strings.TrimRight(os.Getenv("PUBLIC_BASE_URL"), "/"),
		ConfigurationSet: os.Getenv("SES_CONFIGURATION_SET"),
		DynamoDBEndpoint: os.Getenv("DYNAMODB_ENDPOINT"),
		SESEndpoint:      os.Getenv("SES_ENDPOINT"),
	}
	return e, nil
}

// Require fails unless every named value is set.
func Require(vals map[string]string) error {
	var missing []string
	for k, v := range vals {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing configuration: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Duration reads the environment variable name as a Go duration ("15m"),
// or def when it is unset; a value that is not a duration of at least 0 is
// an error, so a typo fails the cold start instead of being ignored.
func Duration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration like 15m", name, v)
	}
	return d, nil
}

// Ints reads each named environment variable that is set into its target,
// as a whole number of at least 0 (the template's abuse limits: 0 turns a
// limit off); one that is not such a number fails the cold start.
func Ints(targets map[string]*int) error {
	for name, p := range targets {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: %q is not a whole number of at least 0", name, v)
		}
		*p = n
	}
	return nil
}

// DynamoDB returns a client, pointed at DYNAMODB_ENDPOINT when set.
func (e *Env) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(e.AWS, func(o *dynamodb.Options) {
		if e.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(e.DynamoDBEndpoint)
		}
	})
}

// SES returns an SES v2 client, pointed at SES_ENDPOINT when set.
func (e *Env) SES() *sesv2.Client {
	return sesv2.NewFromConfig(e.AWS, func(o *sesv2.Options) {
		if e.SESEndpoint != "" {
			o.BaseEndpoint = aws.String(e.SESEndpoint)
		}
	})
}

// LoadSecrets reads the master secret: from Secrets Manager when SECRET_ARN
// names a secret (in AWS), or from LOCAL_SECRET (development only).
func (e *Env) LoadSecrets(ctx context.Context) (Secrets, error) {
	var master string
	if arn := os.Getenv("SECRET_ARN"); strings.HasPrefix(arn, "arn:") {
		out, err := secretsmanager.NewFromConfig(e.AWS).GetSecretValue(ctx,
			&secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			return Secrets{}, fmt.Errorf("read secret: %w", err)
		}
		master = aws.ToString(out.SecretString)
	} else {
		master = os.Getenv("LOCAL_SECRET")
	}
	if len(master) < 32 {
		return Secrets{}, fmt.Errorf("the master secret must be at least 32 characters")
	}
	return DeriveSecrets(master), nil
}

// InsecureCallbacks reports whether OpenDSR callbacks may use http and
// loopback hosts: only with ALLOW_INSECURE_CALLBACKS=true, which the local
// gateway sets and a deployed stack never does. It says so in the log.
func InsecureCallbacks(log *slog.Logger) bool {
	on := os.Getenv("ALLOW_INSECURE_CALLBACKS") == "true"
	if on {
		log.Warn("ALLOW_INSECURE_CALLBACKS: callbacks may use http and loopback hosts (development only)")
	}
	return on
}

// Logger returns the JSON logger every function uses. Log lines carry ids
// and counts, never personal data: no address, IP, name or message text.
func Logger() *slog.Logger {
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("LOG_LEVEL"), "debug") {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).
		With("function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}

// InvocationID returns the Lambda request id of the running invocation, for
// log lines, or "" outside Lambda.
func InvocationID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// Keys are the keyed primitives built from the secrets.
type Keys struct {
	Hasher *privacy.Hasher
	Tokens *token.Signer
}

// Start is every function's cold start: load the environment, require the
// named variables, read the secrets and build the keys.
func Start(ctx context.Context, required ...string) (*Env, Keys, error) {
	env, err := Load(ctx)
	if err != nil {
		return nil, Keys{}, err
	}
	vals := map[string]string{}
	for _, name := range required {
		vals[name] = os.Getenv(name)
	}
	if err := Require(vals); err != nil {
		return nil, Keys{}, err
	}
	secrets, err := env.LoadSecrets(ctx)
	if err != nil {
		return nil, Keys{}, err
	}
	h, err := privacy.NewHasher(secrets.SubjectPepper)
	if err != nil {
		return nil, Keys{}, err
	}
	t, err := token.New(secrets.TokenKey)
	if err != nil {
		return nil, Keys{}, err
	}
	return env, Keys{Hasher: h, Tokens: t}, nil
}

// Site is what the pages say about the site.
func (e *Env) Site() web.Site {
	return web.Site{PolicyURL: e.PolicyURL, PolicyVersion: e.PolicyVersion}
}

// Notify is the email configuration.
func (e *Env) Notify() notify.Config {
	return notify.Config{Company: e.Company, TeamInbox: e.TeamInbox, PolicyURL: e.PolicyURL, BaseURL: e.BaseURL}
}
