// Package template holds the tests that read template.yaml and check what
// a real deployment depends on and no local run can show: IAM conditions,
// deletion policies, the settings of each function.
package template
