// Package deps holds the tests of the code's shape, as a few deny rules
// (rules in deps_test.go): the AWS SDK only in adapters, the DynamoDB
// adapter only where functions wire it, aws-lambda-go's event types only in
// the HTTP adapter and the functions (with today's exceptions listed), the
// page and email templates only in the functions that use them, and the
// console's door without the team's powers.
package deps
