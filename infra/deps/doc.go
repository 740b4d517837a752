// Package deps holds the tests of the code's shape, as a few deny rules
// (rules in deps_test.go): the AWS SDK only in adapters, the DynamoDB
// adapter only where functions wire it, aws-lambda-go's event types
// imported only by the HTTP adapter and the functions (with today's
// exceptions listed), the HTTP request read in a shared package only by
// its http.go (TestHTTPOnlyInAdapters), the page and email templates only
// in the functions that use them, and the console's door without the
// team's powers.
package deps
