package local

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Identity is a local IAM user: the access key pair a client signs with
// (SigV4) and the ARN API Gateway hands the function of a route whose
// authorizer is AWS_IAM.
type Identity struct {
	AccessKeyID, SecretAccessKey, ARN string
}

// DevIdentities are the IAM users the local gateway knows, development
// credentials that work nowhere else (make dev prints them): each may call
// every IAM-authorised route, as a role holding PrivacyTeamPolicy may.
func DevIdentities() []Identity {
	return []Identity{
		{AccessKeyID: "AKIALOCALPRIVACYTEAM", SecretAccessKey: "local-privacy-team-secret-access-key",
			ARN: "arn:aws:iam::000000000000:user/privacy-team"},
		{AccessKeyID: "AKIALOCALDPO", SecretAccessKey: "local-dpo-secret-access-key",
			ARN: "arn:aws:iam::000000000000:user/dpo"},
	}
}

// maxSkew is how far a signature's time may be from the gateway's, as AWS
// allows.
const maxSkew = 5 * time.Minute

// verifySigV4 checks req's Signature Version 4 (the Authorization header
// form) over body against the known identities, as API Gateway's IAM
// authorizer does, and returns who signed it.
func verifySigV4(req *http.Request, body []byte, ids []Identity, now time.Time) (*events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription, error) {
	fields, ok := sigV4Fields(req.Header.Get("Authorization"))
	if !ok {
		return nil, errors.New("no SigV4 Authorization header")
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return nil, errors.New("malformed SigV4 Authorization header")
	}
	keyID, region, service := scope[0], scope[2], scope[3]
	if service != "execute-api" {
		return nil, fmt.Errorf("signed for %q, not execute-api", service)
	}
	var id *Identity
	for i := range ids {
		if ids[i].AccessKeyID == keyID {
			id = &ids[i]
		}
	}
	if id == nil {
		return nil, errors.New("unknown access key")
	}
	at, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != scope[1] {
		return nil, errors.New("X-Amz-Date missing or not the credential's day")
	}
	if d := now.Sub(at); d > maxSkew || d < -maxSkew {
		return nil, errors.New("signature expired or not yet valid")
	}
	// Sign the same request (the headers it signed, its body) again and
	// compare.
	clone, err := http.NewRequest(req.Method, "http://"+req.Host+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
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
		return nil, errors.New("payload hash does not match the body")
	}
	creds := aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(req.Context(), creds, clone, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return nil, err
	}
	want, _ := sigV4Fields(clone.Header.Get("Authorization"))
	if want["SignedHeaders"] != fields["SignedHeaders"] || subtle.ConstantTimeCompare([]byte(want["Signature"]), []byte(fields["Signature"])) != 1 {
		return nil, errors.New("signature does not match")
	}
	account := strings.Split(id.ARN, ":")[4]
	return &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{AccessKey: id.AccessKeyID, AccountID: account,
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
