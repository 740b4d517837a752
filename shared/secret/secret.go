// Package secret reads a function's secrets: from AWS Secrets Manager
// when a variable names the secret's ARN (in AWS, and under the local
// gateway, which serves the template's secrets to each function under its
// role), or, in development without one (sam local, whose env.json gives
// secrets in the clear), from a variable of development.
package secret

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Get reads the string of the Secrets Manager secret arn.
func Get(ctx context.Context, cfg aws.Config, arn string) (string, error) {
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return aws.ToString(out.SecretString), nil
}

// FromEnv reads the secret the variable arnVar names (an ARN); in
// development without one, the value of devVar; else it fails.
func FromEnv(ctx context.Context, cfg aws.Config, development bool, arnVar, devVar string) (string, error) {
	switch arn := os.Getenv(arnVar); {
	case strings.HasPrefix(arn, "arn:"):
		return Get(ctx, cfg, arn)
	case development:
		return os.Getenv(devVar), nil
	default:
		return "", fmt.Errorf("%s %q names no secret", arnVar, arn)
	}
}
