package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Lambda invokes functions in AWS, synchronously.
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

// Gateway invokes the functions of the local stack (make dev) through its
// POST /_local/invoke/<LogicalId>, the function's name in a local ARN.
type Gateway struct {
	URL    string
	Client *http.Client
}

// Invoke implements Invoker.
func (g Gateway) Invoke(ctx context.Context, functionARN string, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(g.URL, "/")+"/_local/invoke/"+name(functionARN),
		bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	c := g.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(string(body)))
	}
	return body, nil
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
