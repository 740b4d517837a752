package awsreq

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

// SQS returns the checks of an SQS request in the JSON protocol: op is the
// X-Amz-Target's operation ("AmazonSQS.SendMessage"). The resource is the
// queue's ARN, which queueARN finds from the request's QueueUrl (or a
// GetQueueUrl's QueueName). A batch operation is authorized as its single
// action (the Service Authorization Reference for Amazon SQS: there is no
// sqs:SendMessageBatch).
func SQS(op string, body []byte, queueARN func(urlOrName string) (string, bool)) ([]iamsim.Request, error) {
	_, name, _ := strings.Cut(op, ".")
	var in struct{ QueueUrl, QueueName string }
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("sqs %s: %w", name, err)
		}
	}
	if name == "ListQueues" {
		return []iamsim.Request{{Action: "sqs:ListQueues", Resource: "*"}}, nil
	}
	ref := in.QueueUrl
	if ref == "" {
		ref = in.QueueName
	}
	arn, ok := queueARN(ref)
	if !ok {
		return nil, fmt.Errorf("sqs %s: %q is not a queue of the stack", name, ref)
	}
	action := strings.TrimSuffix(name, "Batch")
	switch action {
	case "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes",
		"GetQueueUrl", "PurgeQueue", "SetQueueAttributes", "ListQueueTags", "ListDeadLetterSourceQueues":
		return []iamsim.Request{{Action: "sqs:" + action, Resource: arn}}, nil
	}
	return nil, fmt.Errorf("sqs %s: not translated to IAM checks by the local stack", name)
}

// SESv2 returns the checks of an SES v2 request (REST: method and path).
// SendEmail is authorized on the sending identity and on the
// configuration set (and template) it names, each a check of
// ses:SendEmail, with ses:FromAddress, ses:FromDisplayName,
// ses:FeedbackAddress, ses:Recipients and ses:ApiVersion (the Service
// Authorization Reference for Amazon SES). Which identity SES uses
// depends on what is verified (the address, or its domain); the local
// stack verifies nothing and checks the domain's, the usual one.
// GetAccount is authorized on "*".
func SESv2(method, path string, body []byte, region, account string) ([]iamsim.Request, error) {
	arn := func(kind, name string) string {
		return fmt.Sprintf("arn:aws:ses:%s:%s:%s/%s", region, account, kind, name)
	}
	switch {
	case method == "GET" && path == "/v2/email/account":
		return []iamsim.Request{{Action: "ses:GetAccount", Resource: "*", Context: map[string]any{"ses:ApiVersion": "2"}}}, nil
	case method == "POST" && path == "/v2/email/outbound-emails":
	default:
		return nil, fmt.Errorf("ses %s %s: not translated to IAM checks by the local stack", method, path)
	}
	var in struct {
		FromEmailAddress               string
		FeedbackForwardingEmailAddress string
		ConfigurationSetName           string
		Destination                    struct{ ToAddresses, CcAddresses, BccAddresses []string }
		Content                        struct {
			Template *struct{ TemplateName, TemplateArn string }
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("ses SendEmail: %w", err)
	}
	from, err := mail.ParseAddress(in.FromEmailAddress)
	if err != nil {
		return nil, fmt.Errorf("ses SendEmail: FromEmailAddress: %w", err)
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	var recipients []string
	for _, l := range [][]string{in.Destination.ToAddresses, in.Destination.CcAddresses, in.Destination.BccAddresses} {
		for _, r := range l {
			if a, err := mail.ParseAddress(r); err == nil {
				recipients = append(recipients, a.Address)
			}
		}
	}
	ctx := map[string]any{"ses:FromAddress": from.Address, "ses:ApiVersion": "2", "ses:Recipients": set(recipients)}
	if from.Name != "" {
		ctx["ses:FromDisplayName"] = from.Name
	}
	if in.FeedbackForwardingEmailAddress != "" {
		ctx["ses:FeedbackAddress"] = in.FeedbackForwardingEmailAddress
	}
	resources := []string{arn("identity", domain)}
	if in.ConfigurationSetName != "" {
		resources = append(resources, arn("configuration-set", in.ConfigurationSetName))
	}
	if t := in.Content.Template; t != nil {
		if t.TemplateArn != "" {
			resources = append(resources, t.TemplateArn)
		} else if t.TemplateName != "" {
			resources = append(resources, arn("template", t.TemplateName))
		}
	}
	out := make([]iamsim.Request, 0, len(resources))
	for _, r := range resources {
		out = append(out, iamsim.Request{Action: "ses:SendEmail", Resource: r, Context: ctx})
	}
	return out, nil
}

// SecretsManager returns the checks of a Secrets Manager request: op is
// the X-Amz-Target's operation ("secretsmanager.GetSecretValue"), the
// resource the secret's ARN, which secretARN finds from the SecretId (an
// ARN or a name), with secretsmanager:SecretId, VersionId and
// VersionStage as the request gives them.
func SecretsManager(op string, body []byte, secretARN func(id string) (string, bool)) ([]iamsim.Request, error) {
	_, name, _ := strings.Cut(op, ".")
	if name != "GetSecretValue" && name != "DescribeSecret" {
		return nil, fmt.Errorf("secretsmanager %s: not translated to IAM checks by the local stack", name)
	}
	var in struct{ SecretId, VersionId, VersionStage string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("secretsmanager %s: %w", name, err)
	}
	arn, ok := secretARN(in.SecretId)
	if !ok {
		return nil, fmt.Errorf("secretsmanager %s: %q is not a secret of the stack", name, in.SecretId)
	}
	ctx := map[string]any{"secretsmanager:SecretId": in.SecretId}
	if in.VersionId != "" {
		ctx["secretsmanager:VersionId"] = in.VersionId
	}
	if in.VersionStage != "" {
		ctx["secretsmanager:VersionStage"] = in.VersionStage
	}
	return []iamsim.Request{{Action: "secretsmanager:" + name, Resource: arn, Context: ctx}}, nil
}

// lambdaFunctions begins the path of Lambda's Invoke API.
const lambdaFunctions = "/2015-03-31/functions/"

// Lambda returns the checks of a Lambda Invoke request (POST
// /2015-03-31/functions/{FunctionName}/invocations): lambda:InvokeFunction
// on the function's ARN, which functionARN finds from the name, ARN or
// partial ARN the path names (a qualifier dropped: the local stack runs
// $LATEST), and that ARN.
func Lambda(method, path string, functionARN func(name string) (string, bool)) ([]iamsim.Request, string, error) {
	rest, ok := strings.CutPrefix(path, lambdaFunctions)
	name, ok2 := strings.CutSuffix(rest, "/invocations")
	if !ok || !ok2 || method != "POST" || name == "" {
		return nil, "", fmt.Errorf("lambda %s %s: not translated to IAM checks by the local stack", method, path)
	}
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	arn, ok := functionARN(name)
	if !ok {
		return nil, "", fmt.Errorf("lambda Invoke: %q is not a function of the stack", name)
	}
	return []iamsim.Request{{Action: "lambda:InvokeFunction", Resource: arn}}, arn, nil
}
