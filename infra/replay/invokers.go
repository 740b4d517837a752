package replay

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Lambda invokes functions through Lambda's Invoke API (in AWS, or the
// local gateway's AWS front), synchronously.
type Lambda struct{ Client *lambda.Client }

// Invoke implements Invoker.
func (l Lambda) Invoke(ctx context.Context, functionARN string, payload []byte) ([]byte, error) {
	out, err := l.Client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(functionARN), Payload: payload})
	if err != nil {
		return nil, err
	}
	if out.FunctionError != nil {
		return nil, fmt.Errorf("%s: %s", aws.ToString(out.FunctionError), truncate(string(out.Payload)))
	}
	return out.Payload, nil
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
