package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/awsreq"
	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

// front is the stack's AWS endpoint: every AWS call a function makes (its
// SDK is pointed here by AWS_ENDPOINT_URL) and every call of privacyctl's
// maintenance commands arrives here, signed. It verifies the signature,
// finds the principal by its access key, translates the request into IAM's
// checks (package awsreq), has the gate decide them under the principal's
// policies, and then forwards the request to the emulator of the service
// (DynamoDB Local and its streams, the SES emulator, the SQS server),
// answers it itself (Secrets Manager's GetSecretValue for the template's
// secrets, Lambda's Invoke for its functions), or refuses it with the
// service's own AccessDenied error, in the service's protocol, so that the
// SDK in the function returns what it would in AWS.
type front struct {
	gate    *gate
	tables  awsreq.Tables
	queues  *queues
	secrets map[string]secretValue // by ARN
	fns     map[string]*Function   // by ARN
	// emulators are the services' local stand-ins, by signing name.
	emulators map[string]string
	region    string
	stack     *Stack
	log       io.Writer
}

// secretValue is one of the template's secrets as the front serves it.
type secretValue struct {
	arn, name, value string
}

// awsServices are the signing names (the SigV4 credential scope's
// service) the front answers.
var awsServices = map[string]bool{"dynamodb": true, "sqs": true, "ses": true, "secretsmanager": true, "lambda": true}

// isAWSCall reports whether req is signed for an AWS service rather than
// for the API (execute-api, or not signed).
func isAWSCall(req *http.Request) bool {
	fields, ok := sigV4Fields(req.Header.Get("Authorization"))
	if !ok {
		return false
	}
	scope := strings.Split(fields["Credential"], "/")
	return len(scope) == 5 && scope[3] != "execute-api"
}

// forwardClient passes bodies through as they are: no compression asked
// or undone (DynamoDB's X-Amz-Crc32 covers the bytes as sent).
var forwardClient = &http.Client{Timeout: 2 * time.Minute,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}

func (f *front) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	keyID, service, err := checkSigV4(req, body, f.gate.keyOf, time.Now())
	if err != nil {
		fmt.Fprintf(f.log, "gateway\tAWS front: %s %s: refused: %v\n", req.Method, req.URL.Path, err)
		code := "InvalidSignatureException"
		if errors.Is(err, errUnknownKey) {
			code = "UnrecognizedClientException"
		}
		f.fail(w, service, http.StatusForbidden, code, "The request signature we calculated does not match the signature you provided.")
		return
	}
	if !awsServices[service] {
		fmt.Fprintf(f.log, "gateway\tAWS front: %s is not emulated locally (%s %s)\n", service, req.Method, req.URL.Path)
		f.fail(w, service, http.StatusNotImplemented, "NotImplemented", service+" is not emulated by the local stack")
		return
	}
	who := f.gate.byKey[keyID]
	target := req.Header.Get("X-Amz-Target")
	var checks []iamsim.Request
	var fnARN string
	switch service {
	case "dynamodb":
		checks, err = awsreq.DynamoDB(target, body, f.tables, streamOfIterator)
	case "sqs":
		checks, err = awsreq.SQS(target, body, f.queueARN)
	case "ses":
		checks, err = awsreq.SESv2(req.Method, req.URL.Path, body, f.region, "000000000000")
	case "secretsmanager":
		checks, err = awsreq.SecretsManager(target, body, f.secretARN)
	case "lambda":
		checks, fnARN, err = awsreq.Lambda(req.Method, req.URL.Path, f.functionARN)
	}
	if err != nil {
		// Not what a function of this stack should ask: fail it rather
		// than let it through unchecked.
		fmt.Fprintf(f.log, "gateway\tAWS front: %s: cannot check %s %s: %v\n", who.name, service, target+req.URL.Path, err)
		f.fail(w, service, http.StatusNotImplemented, "NotImplemented", "the local stack cannot authorize this request: "+err.Error())
		return
	}
	refused, err := f.gate.decide(req.Context(), who, checks)
	if err != nil {
		f.fail(w, service, http.StatusNotImplemented, "NotImplemented", "the local IAM evaluator failed: "+err.Error())
		return
	}
	if refused != nil {
		status := http.StatusBadRequest // the JSON protocols
		if service == "ses" || service == "lambda" {
			status = http.StatusForbidden
		}
		f.fail(w, service, status, "AccessDeniedException", refused.Message())
		return
	}
	switch service {
	case "secretsmanager":
		f.getSecret(w, target, body)
	case "lambda":
		f.invoke(w, req, fnARN, body)
	default:
		f.forward(w, req, body, f.emulators[service])
		if f.stack != nil && service == "dynamodb" && dynamoWrites[strings.TrimPrefix(target, "DynamoDB_20120810.")] {
			f.stack.activity.wrote() // the stream readers read now
		}
	}
}

// dynamoWrites are the DynamoDB actions that may add a stream record.
var dynamoWrites = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true,
	"TransactWriteItems": true, "ExecuteStatement": true, "BatchExecuteStatement": true, "ExecuteTransaction": true}

// fail answers an error in the service's protocol: awsJson 1.0
// (DynamoDB; SQS, whose query-compatible code the X-Amzn-Query-Error
// header carries: AccessDenied), awsJson 1.1 (Secrets Manager) or
// restJson1 (SES v2, Lambda: the code in X-Amzn-ErrorType).
func (f *front) fail(w http.ResponseWriter, service string, status int, code, msg string) {
	h := w.Header()
	var body map[string]any
	switch service {
	case "dynamodb", "sqs":
		h.Set("Content-Type", "application/x-amz-json-1.0")
		body = map[string]any{"__type": "com.amazon.coral.service#" + code, "message": msg}
		if service == "sqs" {
			q := strings.TrimSuffix(code, "Exception")
			h.Set("X-Amzn-Query-Error", q+";Sender")
		}
	case "secretsmanager":
		h.Set("Content-Type", "application/x-amz-json-1.1")
		body = map[string]any{"__type": code, "Message": msg}
	default:
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-ErrorType", code)
		body = map[string]any{"message": msg}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// forward sends the request on to the emulator at base and copies its
// answer back.
func (f *front) forward(w http.ResponseWriter, req *http.Request, body []byte, base string) {
	if base == "" {
		f.fail(w, "", http.StatusNotImplemented, "NotImplemented", "no local emulator for this service")
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, strings.TrimRight(base, "/")+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for k, v := range req.Header {
		switch k {
		case "Host", "Content-Length", "Connection":
		default:
			out.Header[k] = v
		}
	}
	resp, err := forwardClient.Do(out)
	if err != nil {
		// As an unreachable service: the SDK retries, then fails.
		http.Error(w, "the local emulator is unreachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if k != "Content-Length" && k != "Connection" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// streamOfIterator is the stream a DynamoDB Local shard iterator reads:
// its iterators begin with the stream's ARN and a "|".
func streamOfIterator(it string) (string, bool) {
	arn, _, ok := strings.Cut(it, "|")
	return arn, ok && strings.HasPrefix(arn, "arn:")
}

func (f *front) queueARN(ref string) (string, bool) {
	for arn, url := range f.queues.urlsOrEmpty() {
		if ref == url || ref == arn[strings.LastIndex(arn, ":")+1:] {
			return arn, true
		}
	}
	return "", false
}

func (f *front) secretARN(id string) (string, bool) {
	for arn, s := range f.secrets {
		if id == arn || id == s.name {
			return arn, true
		}
	}
	return "", false
}

func (f *front) functionARN(name string) (string, bool) {
	for arn, fn := range f.fns {
		if name == fn.ID || name == arn || strings.HasPrefix(name, arn+":") {
			return arn, true
		}
	}
	return "", false
}

// getSecret answers GetSecretValue (and DescribeSecret) for one of the
// template's secrets with its local value.
func (f *front) getSecret(w http.ResponseWriter, target string, body []byte) {
	var in struct{ SecretId string }
	_ = json.Unmarshal(body, &in)
	arn, _ := f.secretARN(in.SecretId)
	s := f.secrets[arn]
	out := map[string]any{"ARN": s.arn, "Name": s.name, "CreatedDate": float64(time.Now().Unix())}
	if strings.HasSuffix(target, ".GetSecretValue") {
		out["SecretString"], out["VersionId"], out["VersionStages"] = s.value, "local", []string{"AWSCURRENT"}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// invoke answers Lambda's Invoke: synchronously (RequestResponse: the
// response, with X-Amz-Function-Error when the function failed), or
// asynchronously (Event: 202, then retries and the on-failure destination
// as Lambda applies them); DryRun checks the permission only (204).
func (f *front) invoke(w http.ResponseWriter, req *http.Request, arn string, payload []byte) {
	fn := f.fns[arn]
	switch req.Header.Get("X-Amz-Invocation-Type") {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		f.stack.async(f.stack.runCtx, fn, payload)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, err := fn.Invoke(req.Context(), payload)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	var fe *FunctionError
	switch {
	case errors.As(err, &fe):
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		out, _ = json.Marshal(map[string]string{"errorMessage": fe.Message, "errorType": "FunctionError"})
	case err != nil:
		f.fail(w, "lambda", http.StatusBadGateway, "ServiceException", err.Error())
		return
	}
	_, _ = w.Write(out)
}

// tablesOf is what the front's checks need of the template's tables:
// names, ARNs and key attributes of each table and index.
func tablesOf(t *Template, r *Resolver) (awsreq.Tables, error) {
	out := awsreq.Tables{}
	for _, id := range t.ResourcesOfType("AWS::DynamoDB::Table") {
		name, ok := r.Refs[id]
		if !ok {
			continue // not in this stack
		}
		props, err := r.Resolve(t.Resources[id].Properties)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		p := asMap(props)
		keys := func(v any) [2]string {
			var k [2]string
			for _, e := range keySchema(v) {
				if e.KeyType == "HASH" {
					k[0] = *e.AttributeName
				} else {
					k[1] = *e.AttributeName
				}
			}
			return k
		}
		own := keys(p["KeySchema"])
		tb := awsreq.Table{ARN: r.Attrs[id+".Arn"], PartitionKey: own[0], SortKey: own[1], Indexes: map[string][2]string{}}
		for _, kind := range []string{"GlobalSecondaryIndexes", "LocalSecondaryIndexes"} {
			for _, ix := range asList(p[kind]) {
				tb.Indexes[asString(asMap(ix)["IndexName"])] = keys(asMap(ix)["KeySchema"])
			}
		}
		out[name] = tb
	}
	return out, nil
}

// streamRead are the actions Lambda's event source mapping performs on a
// DynamoDB stream with the function's role, as the local poller does
// (streams.go): AWS's refusal at CreateEventSourceMapping names these and
// ListStreams ("Please ensure the role can perform the GetRecords,
// GetShardIterator, DescribeStream, and ListStreams Actions on your
// stream"), but ListStreams has no resource type (the Service
// Authorization Reference), so a statement on the stream's ARN, as SAM's
// own DynamoDBStreamReadPolicy writes it, would never grant it: it is not
// checked here.
var streamRead = []string{"dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"}

// queueRead are what it performs on an SQS queue (the Lambda developer
// guide, "Using Lambda with Amazon SQS": the execution role needs
// ReceiveMessage, DeleteMessage and GetQueueAttributes).
var queueRead = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

// checkServiceAccess refuses a stack whose functions' roles do not allow
// what Lambda does with them: read the streams and poll the queues of
// their event source mappings, send to their on-failure destinations and
// dead-letter queues. AWS refuses these at deploy (CreateEventSourceMapping,
// CreateFunction, PutFunctionEventInvokeConfig answer
// InvalidParameterValueException: "The provided execution role does not
// have permissions to call ..."), so the local stack does not start.
func checkServiceAccess(ctx context.Context, g *gate, t *Template, r *Resolver, fns []*Function) error {
	var errs []error
	for _, f := range fns {
		for name, e := range f.Events {
			var err error
			switch e.Type {
			case "DynamoDB":
				err = g.serviceMay(ctx, f.ID, asString(e.Properties["Stream"]), streamRead...)
			case "SQS":
				err = g.serviceMay(ctx, f.ID, asString(e.Properties["Queue"]), queueRead...)
			}
			if err == nil {
				if dest := onFailure(e.Properties); dest != "" {
					err = g.serviceMay(ctx, f.ID, dest, "sqs:SendMessage")
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("event %s: %w", name, err))
			}
		}
		if f.AsyncOnFailure != "" {
			if err := g.serviceMay(ctx, f.ID, f.AsyncOnFailure, "sqs:SendMessage"); err != nil {
				errs = append(errs, fmt.Errorf("EventInvokeConfig: %w", err))
			}
		}
		dlq, err := r.Resolve(asMap(t.Resources[f.ID].Properties["DeadLetterQueue"]))
		if err != nil {
			return err
		}
		if d := asMap(dlq); asString(d["Type"]) == "SQS" {
			if err := g.serviceMay(ctx, f.ID, asString(d["TargetArn"]), "sqs:SendMessage"); err != nil {
				errs = append(errs, fmt.Errorf("DeadLetterQueue: %w", err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("AWS would refuse this stack at deploy: %w", errors.Join(errs...))
	}
	return nil
}
