// Package deps holds the tests of the code's shape: the services import
// neither the AWS SDK nor the DynamoDB adapter, and each function's binary
// links only the packages of this module it is allowed.
package deps
