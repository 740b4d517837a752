package local

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Identity is a local IAM user: the access key pair a client signs with
// (SigV4), its ARN (which API Gateway hands the function of a route whose
// authorizer is AWS_IAM, and which AWS's refusals name) and the customer
// managed policies of the template attached to it, which the gateway
// evaluates for each of its calls.
type Identity struct {
	AccessKeyID, SecretAccessKey, ARN string
	Policies                          []string
}

// DevIdentities are the IAM users the local gateway knows, development
// credentials that work nowhere else (make dev prints them): two of the
// privacy team, holding PrivacyTeamPolicy (privacyctl's team commands,
// through the operator route), and the engineer on call, holding
// PrivacyMaintenancePolicy, PrivacyUpgradePolicy, PrivacyReplayPolicy,
// PrivacyBackfillPolicy and
// PrivacyLedgerVerifyPolicy
// (privacyctl's maintenance commands, against the stack's AWS front).
func DevIdentities() []Identity {
	return []Identity{
		{AccessKeyID: "AKIALOCALPRIVACYTEAM", SecretAccessKey: "local-privacy-team-secret-access-key",
			ARN: "arn:aws:iam::000000000000:user/privacy-team", Policies: []string{"PrivacyTeamPolicy"}},
		{AccessKeyID: "AKIALOCALDPO", SecretAccessKey: "local-dpo-secret-access-key",
			ARN: "arn:aws:iam::000000000000:user/dpo", Policies: []string{"PrivacyTeamPolicy"}},
		{AccessKeyID: "AKIALOCALMAINTENANCE", SecretAccessKey: "local-maintenance-secret-access-key",
			ARN: "arn:aws:iam::000000000000:user/maintenance", Policies: []string{"PrivacyMaintenancePolicy", "PrivacyUpgradePolicy", "PrivacyReplayPolicy", "PrivacyBackfillPolicy",
				"PrivacyLedgerVerifyPolicy"}},
	}
}

// maxSkew is how far a signature's time may be from the gateway's, as AWS
// allows.
const maxSkew = 5 * time.Minute

// errUnknownKey is a signature by a key the gateway does not know.
var errUnknownKey = errors.New("unknown access key")

// credential is what the gateway knows of an access key: its secret, and
// the session token a temporary key (a function's) must come with.
type credential struct {
	secret, token string
}

// checkSigV4 checks req's Signature Version 4 (the Authorization header
// form) over body, as AWS does, against the key the credential names
// (keyOf finds it), and returns that key and the credential scope's
// service.
func checkSigV4(req *http.Request, body []byte, keyOf func(id string) (credential, bool), now time.Time) (keyID, service string, err error) {
	fields, ok := sigV4Fields(req.Header.Get("Authorization"))
	if !ok {
		return "", "", errors.New("no SigV4 Authorization header")
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return "", "", errors.New("malformed SigV4 Authorization header")
	}
	keyID, region, service := scope[0], scope[2], scope[3]
	key, ok := keyOf(keyID)
	if !ok {
		return "", "", errUnknownKey
	}
	if req.Header.Get("X-Amz-Security-Token") != key.token {
		return "", "", errors.New("the session token is not the key's")
	}
	at, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != scope[1] {
		return "", "", errors.New("X-Amz-Date missing or not the credential's day")
	}
	if d := now.Sub(at); d > maxSkew || d < -maxSkew {
		return "", "", errors.New("signature expired or not yet valid")
	}
	// Sign the same request (the headers it signed, its body) again and
	// compare.
	clone, err := http.NewRequest(req.Method, "http://"+req.Host+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	clone.Host = req.Host
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
		case "content-length":
			clone.ContentLength = int64(len(body))
		default:
			clone.Header[http.CanonicalHeaderKey(h)] = req.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if p := req.Header.Get("X-Amz-Content-Sha256"); p != "" && p != hex.EncodeToString(sum[:]) {
		return "", "", errors.New("payload hash does not match the body")
	}
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: key.secret, SessionToken: key.token}
	if err := v4.NewSigner().SignHTTP(req.Context(), creds, clone, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return "", "", err
	}
	want, _ := sigV4Fields(clone.Header.Get("Authorization"))
	if want["SignedHeaders"] != fields["SignedHeaders"] || subtle.ConstantTimeCompare([]byte(want["Signature"]), []byte(fields["Signature"])) != 1 {
		return "", "", errors.New("signature does not match")
	}
	return keyID, service, nil
}

// verifySigV4 checks req's signature as API Gateway's IAM authorizer does
// (signed for execute-api by a known user) and returns who signed it.
func verifySigV4(req *http.Request, body []byte, ids []Identity, now time.Time) (*Identity, *events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription, error) {
	keyID, service, err := checkSigV4(req, body, func(id string) (credential, bool) {
		for _, i := range ids {
			if i.AccessKeyID == id {
				return credential{secret: i.SecretAccessKey}, true
			}
		}
		return credential{}, false
	}, now)
	if err != nil {
		return nil, nil, err
	}
	if service != "execute-api" {
		return nil, nil, fmt.Errorf("signed for %q, not execute-api", service)
	}
	i := slices.IndexFunc(ids, func(i Identity) bool { return i.AccessKeyID == keyID })
	id := &ids[i]
	account := strings.Split(id.ARN, ":")[4]
	return id, &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccessKey: id.AccessKeyID, AccountID: account,
		CallerID: id.AccessKeyID, UserARN: id.ARN, UserID: id.AccessKeyID}, nil
}

// sigV4Fields are the Credential, SignedHeaders and Signature of a SigV4
// Authorization header.
func sigV4Fields(auth string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return nil, false
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	return fields, true
}
