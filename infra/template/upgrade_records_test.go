package template_test

import "testing"

// privacyctl platform upgrade-records (dynamo.Store.UpgradeLegacyRecords)
// under PrivacyMaintenancePolicy: its writes as the code sends them are
// allowed, and nothing beyond (a record keeping its raw email, a
// controller's sensitive key names).
func TestUpgradeRecordsWritesOnlyTheNewForm(t *testing.T) {
	record := []string{"attributes", "controller_id", "created_at", "identities", "keys", "kind", "pk", "record_id", "sk", "updated_at"}
	check(t, []ask{
		{"PrivacyUpgradePolicy", "dynamodb:Scan", table("RecordsTable"), nil, true},
		{"PrivacyUpgradePolicy", "dynamodb:PutItem", table("RecordsTable"), keys([]string{"C#acme#r1"}, record...), true},
		{"PrivacyUpgradePolicy", "dynamodb:PutItem", table("RecordsTable"), keys([]string{"K#acme#k1"}, "controller_id", "pk", "sk", "updated_at"), true},
		{"PrivacyUpgradePolicy", "dynamodb:PutItem", table("RecordsTable"), keys([]string{"C#acme#r1"}, append(record, "email")...), false},
		{"PrivacyUpgradePolicy", "dynamodb:PutItem", table("RecordsTable"), keys([]string{"S#acme"}, "key_names", "pk", "sk"), false},
		{"PrivacyUpgradePolicy", "dynamodb:UpdateItem", table("PlatformRequestsTable"), keys([]string{"R#1"}, "identity_keys", "pk", "sk"), true},
	})
}
