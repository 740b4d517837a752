// Package privacy holds the domain of the privacy backend: what people give
// us, why we keep it, for how long, and the rules that check it. It knows
// nothing of AWS; adapters for DynamoDB, SES and API Gateway live in their own
// packages and depend on this one.
package privacy
