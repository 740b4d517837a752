// Package lambdaenv reads a function's configuration from its environment
// (as template.yaml declares it), and its secrets, at cold start: a missing
// or malformed value fails the start, not a visitor's request. Development
// is explicit (DEVELOPMENT=true, set by the local gateway and
// infra/env.json, never by the template): only then are the emulators'
// endpoints, LOCAL_SECRET and insecure callbacks honoured. It links no
// page or email templates: each function builds what it uses.
package lambdaenv

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sdkhttp"
	"github.com/privacykeeper/privacykeeper/shared/secret"
	"github.com/privacykeeper/privacykeeper/shared/token"
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
	SQSEndpoint      string
	// UnsubscribeMailDomain is the domain of the mailto: unsubscribe
	// addresses ("": marketing mail carries none, and no mail is read).
	UnsubscribeMailDomain string
	// SNSEndpoint is where SNS's hosts are reached instead (the feedback
	// function's certificates and confirmations: the local stand-in).
	SNSEndpoint string
	// Development is a stack on the developer's machine.
	Development bool
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

// LocalReceiptKey is the receipt key of local development (RECEIPT_KEY).
const LocalReceiptKey = "local-development-receipt-key-not-for-production-use"

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
	dev := os.Getenv("DEVELOPMENT") == "true"
	e := &Env{
		AWS:         cfg,
		Development: dev,
		Tables: dynamo.Tables{
			Subjects:    os.Getenv("SUBJECTS_TABLE"),
			Ledger:      os.Getenv("LEDGER_TABLE"),
			Suppression: os.Getenv("SUPPRESSION_TABLE"),
			Requests:    os.Getenv("REQUESTS_TABLE"),
			// The sweep's only: the Platform's functions are given theirs
			// as REQUESTS_TABLE.
			PlatformRequests: os.Getenv("PLATFORM_REQUESTS_TABLE"),
			Ops:              os.Getenv("OPS_TABLE"),
			Records:          os.Getenv("RECORDS_TABLE"),
			LedgerRoots:      os.Getenv("LEDGER_ROOTS_TABLE"),
		},
		PolicyVersion:    os.Getenv("POLICY_VERSION"),
		Sender:           os.Getenv("SENDER_ADDRESS"),
		TeamInbox:        os.Getenv("TEAM_INBOX"),
		Company:          os.Getenv("COMPANY_NAME"),
		PolicyURL:        os.Getenv("POLICY_URL"),
		BaseURL:          strings.TrimRight(os.Getenv("PUBLIC_BASE_URL"), "/"),
		ConfigurationSet: os.Getenv("SES_CONFIGURATION_SET"),
		// A domain name goes into a header (List-Unsubscribe): letters,
		// digits, hyphens and dots only, or a cold start fails.
		UnsubscribeMailDomain: strings.ToLower(os.Getenv("UNSUBSCRIBE_MAIL_DOMAIN")),
	}
	if d := e.UnsubscribeMailDomain; d != "" && !mailDomain.MatchString(d) {
		return nil, fmt.Errorf("UNSUBSCRIBE_MAIL_DOMAIN %q is not a domain name", d)
	}
	// AWS_ENDPOINT_URL is the SDK's own (config.LoadDefaultConfig reads
	// it): the local gateway points every client of a function at its AWS
	// front with it, where each call is checked against the function's
	// role; sam local's env.json names the emulators with the others.
	if dev {
		e.DynamoDBEndpoint, e.SESEndpoint, e.SQSEndpoint = os.Getenv("DYNAMODB_ENDPOINT"), os.Getenv("SES_ENDPOINT"), os.Getenv("SQS_ENDPOINT")
		e.SNSEndpoint = os.Getenv("SNS_ENDPOINT")
		if err := profile(os.Getenv("PPROF_DIR"), os.Getenv("PPROF_SECONDS")); err != nil {
			return nil, err
		}
	} else if os.Getenv("DYNAMODB_ENDPOINT") != "" || os.Getenv("SES_ENDPOINT") != "" || os.Getenv("SQS_ENDPOINT") != "" ||
		os.Getenv("SNS_ENDPOINT") != "" || os.Getenv("AWS_ENDPOINT_URL") != "" {
		// SNS_ENDPOINT would send the feedback function's certificate
		// fetches elsewhere: a certificate of anyone's would then verify.
		return nil, fmt.Errorf("DYNAMODB_ENDPOINT, SES_ENDPOINT, SQS_ENDPOINT, SNS_ENDPOINT and AWS_ENDPOINT_URL are for development (DEVELOPMENT=true) only")
	}
	return e, nil
}

var mailDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

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

// Seconds reads the environment variable name as a whole number of
// seconds of at least 1, or def when it is unset; anything else fails the
// cold start.
func Seconds(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: %q is not a whole number of seconds of at least 1", name, v)
	}
	return time.Duration(n) * time.Second, nil
}

// PolicyCacheTTL is how long a function keeps the policy version in force
// before reading the published versions again: POLICY_CACHE_SECONDS,
// default 60.
func PolicyCacheTTL() (time.Duration, error) { return Seconds("POLICY_CACHE_SECONDS", time.Minute) }

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

// Float reads the environment variable name as a number of at least 0, or
// def when it is unset; anything else fails the cold start.
func Float(name string, def float64) (float64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s: %q is not a number of at least 0", name, v)
	}
	return f, nil
}

// DynamoDB returns a client, pointed at DYNAMODB_ENDPOINT when set.
func (e *Env) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(e.AWS, func(o *dynamodb.Options) {
		o.HTTPClient = sdkhttp.OwnBody(o.HTTPClient)
		if e.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(e.DynamoDBEndpoint)
		}
	})
}

// LoadSecrets reads the master secret: from Secrets Manager when SECRET_ARN
// names a secret (in AWS, and under the local gateway, which serves the
// template's secrets), or, in development without one (sam local), from
// LOCAL_SECRET.
func (e *Env) LoadSecrets(ctx context.Context) (Secrets, error) {
	master, err := e.secretOr(ctx, "SECRET_ARN", "LOCAL_SECRET")
	if err != nil {
		return Secrets{}, err
	}
	if len(master) < 32 {
		return Secrets{}, fmt.Errorf("the master secret must be at least 32 characters")
	}
	return DeriveSecrets(master), nil
}

// secretOr reads the secret the variable arnVar names (an ARN: in AWS, and
// under the local gateway); in development without one (sam local, whose
// env.json gives secrets in the clear), the value of devVar.
func (e *Env) secretOr(ctx context.Context, arnVar, devVar string) (string, error) {
	return secret.FromEnv(ctx, e.AWS, e.Development, arnVar, devVar)
}

// OpenDSRSigningKey is the PEM of the key that signs OpenDSR responses and
// callbacks: the secret OPENDSR_SIGNING_KEY_SECRET_ARN names (the operator
// puts the PEM there; the local gateway serves a key of development), or
// in development without one OPENDSR_SIGNING_KEY.
func (e *Env) OpenDSRSigningKey(ctx context.Context) ([]byte, error) {
	pem, err := e.secretOr(ctx, "OPENDSR_SIGNING_KEY_SECRET_ARN", "OPENDSR_SIGNING_KEY")
	return []byte(pem), err
}

// ReceiptKey is the key that signs receipts (a random seed or a PEM EC
// P-256 key, receipt.NewSigner): the secret RECEIPT_KEY_SECRET_ARN names
// (generated by the stack; the local gateway serves a key of development),
// or in development without one RECEIPT_KEY.
func (e *Env) ReceiptKey(ctx context.Context) (string, error) {
	return e.secretOr(ctx, "RECEIPT_KEY_SECRET_ARN", "RECEIPT_KEY")
}

// InsecureCallbacks reports whether OpenDSR callbacks may use http and
// loopback hosts: only in development with ALLOW_INSECURE_CALLBACKS=true,
// which the local gateway sets. It says so in the log.
func (e *Env) InsecureCallbacks(log *slog.Logger) bool {
	on := e.Development && os.Getenv("ALLOW_INSECURE_CALLBACKS") == "true"
	if on {
		log.Warn("ALLOW_INSECURE_CALLBACKS: callbacks may use http and loopback hosts (development only)")
	}
	return on
}

// Keys are the keyed primitives built from the secrets.
type Keys struct {
	Hasher *privacy.Hasher
	Tokens *token.Signer
	// CredentialKey seals processors' credentials (Secrets.CredentialKey).
	CredentialKey []byte
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
	return env, Keys{Hasher: h, Tokens: t, CredentialKey: secrets.CredentialKey}, nil
}

// profile writes, in development, CPU profiles of this process to dir
// (PPROF_DIR), one a period (PPROF_SECONDS, 10 when unset) for as long as
// it runs, each named after the function, the pid and its number, for go
// tool pprof (which merges several): how infra/bench's CPU per request is
// taken apart (docs/benchmarks.md). The period a process is killed in is
// lost. Nothing when dir is empty.
func profile(dir, seconds string) error {
	if dir == "" {
		return nil
	}
	d := 10 * time.Second
	if seconds != "" {
		n, err := strconv.Atoi(seconds)
		if err != nil || n < 1 {
			return fmt.Errorf("PPROF_SECONDS: %q is not a whole number of seconds of at least 1", seconds)
		}
		d = time.Duration(n) * time.Second
	}
	name := cmp.Or(os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), "function")
	start := func(i int) (*os.File, error) {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d-%03d.pprof", name, os.Getpid(), i)))
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("profile: %w", err)
		}
		return f, nil
	}
	f, err := start(0)
	if err != nil {
		return err
	}
	go func() {
		for i := 1; f != nil; i++ {
			time.Sleep(d)
			pprof.StopCPUProfile()
			f.Close()
			f, _ = start(i)
		}
	}()
	return nil
}
