package awsreq

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

const (
	opsARN  = "arn:aws:dynamodb:ddblocal:000000000000:table/x-OpsTable"
	subjARN = "arn:aws:dynamodb:ddblocal:000000000000:table/x-SubjectsTable"
	strARN  = subjARN + "/stream/2026-12-07T00:00:00.000"
)

var tables = Tables{
	"x-OpsTable": {ARN: opsARN, PartitionKey: "pk", SortKey: "sk", Indexes: map[string][2]string{"by-due": {"due", "next_at"}}},
	"x-SubjectsTable": {ARN: subjARN, PartitionKey: "pk", SortKey: "sk",
		Indexes: map[string][2]string{"by-list": {"list_pk", "list_sk"}}},
}

func streamOf(it string) (string, bool) {
	if it == "iter-1" {
		return strARN, true
	}
	return "", false
}

// checks renders checks as one line each, for comparison:
// action resource key=value...
func render(cs []iamsim.Request) string {
	var lines []string
	for _, c := range cs {
		line := c.Action + " " + c.Resource
		b, _ := json.Marshal(c.Context)
		if len(c.Context) > 0 {
			line += " " + string(b)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// The checks of each DynamoDB operation the functions and privacyctl use,
// as the DynamoDB developer guide ("Using IAM policy conditions for
// fine-grained access control") and the Service Authorization Reference
// define them.
func TestDynamoDB(t *testing.T) {
	for _, tc := range []struct {
		name, op, body, want string
	}{
		{"GetItem: leading key, no projection so no attributes", "GetItem",
			`{"TableName":"x-OpsTable","Key":{"pk":{"S":"CTRL#a"},"sk":{"S":"CTRL"}}}`,
			`dynamodb:GetItem ` + opsARN + ` {"dynamodb:LeadingKeys":["CTRL#a"],"dynamodb:ReturnConsumedCapacity":"NONE"}`},
		{"GetItem with a projection: its names and the keys", "GetItem",
			`{"TableName":"x-OpsTable","Key":{"pk":{"S":"P"},"sk":{"S":"s"}},"ProjectionExpression":"#a, b.c, d[1]","ExpressionAttributeNames":{"#a":"state"}}`,
			`dynamodb:GetItem ` + opsARN + ` {"dynamodb:Attributes":["b","d","pk","sk","state"],"dynamodb:LeadingKeys":["P"],"dynamodb:ReturnConsumedCapacity":"NONE"}`},
		{"PutItem: the item's names and the condition's", "PutItem",
			`{"TableName":"x-OpsTable","Item":{"pk":{"S":"MAIL#1"},"sk":{"S":"m"},"state":{"S":"sending"}},"ConditionExpression":"attribute_not_exists(pk) OR lease < :now","ExpressionAttributeValues":{":now":{"N":"1"}}}`,
			`dynamodb:PutItem ` + opsARN + ` {"dynamodb:Attributes":["lease","pk","sk","state"],"dynamodb:LeadingKeys":["MAIL#1"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:ReturnValues":"NONE"}`},
		{"UpdateItem: keys, the update's names (first path element), the condition's", "UpdateItem",
			`{"TableName":"x-SubjectsTable","Key":{"pk":{"S":"S#ab"},"sk":{"S":"SUPP"}},"UpdateExpression":"SET #l = :t, meta.ip = :x REMOVE old_field ADD n :one","ConditionExpression":"attribute_exists(pk) AND begins_with(#k, :p)","ExpressionAttributeNames":{"#l":"lifted_at","#k":"kind"},"ReturnValues":"ALL_NEW"}`,
			`dynamodb:UpdateItem ` + subjARN + ` {"dynamodb:Attributes":["kind","lifted_at","meta","n","old_field","pk","sk"],"dynamodb:LeadingKeys":["S#ab"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:ReturnValues":"ALL_NEW"}`},
		{"DeleteItem: keys and the condition's names", "DeleteItem",
			`{"TableName":"x-OpsTable","Key":{"pk":{"S":"SWEEP#CHECKPOINT"},"sk":{"S":"SWEEP"}}}`,
			`dynamodb:DeleteItem ` + opsARN + ` {"dynamodb:Attributes":["pk","sk"],"dynamodb:LeadingKeys":["SWEEP#CHECKPOINT"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:ReturnValues":"NONE"}`},
		{"Query on the table: the partition key's equality, placeholders resolved", "Query",
			`{"TableName":"x-OpsTable","KeyConditionExpression":"#p = :p AND begins_with(sk, :s)","ExpressionAttributeNames":{"#p":"pk"},"ExpressionAttributeValues":{":p":{"S":"PROC#"},":s":{"S":"a"}}}`,
			`dynamodb:Query ` + opsARN + ` {"dynamodb:LeadingKeys":["PROC#"],"dynamodb:ReturnConsumedCapacity":"NONE"}`},
		{"Query on an index: its ARN and its partition key, written either way round", "Query",
			`{"TableName":"x-SubjectsTable","IndexName":"by-list","KeyConditionExpression":":h = list_pk","ExpressionAttributeValues":{":h":{"S":"holds"}}}`,
			`dynamodb:Query ` + subjARN + `/index/by-list {"dynamodb:LeadingKeys":["holds"],"dynamodb:ReturnConsumedCapacity":"NONE"}`},
		{"Query with a projection: the names; no Select the request does not send (IAM sees none)", "Query",
			`{"TableName":"x-OpsTable","KeyConditionExpression":"pk = :p","ProjectionExpression":"sk, version","ExpressionAttributeValues":{":p":{"S":"POLICY"}}}`,
			`dynamodb:Query ` + opsARN + ` {"dynamodb:Attributes":["pk","sk","version"],"dynamodb:LeadingKeys":["POLICY"],"dynamodb:ReturnConsumedCapacity":"NONE"}`},
		{"Query with a projection and its Select", "Query",
			`{"TableName":"x-OpsTable","KeyConditionExpression":"pk = :p","Select":"SPECIFIC_ATTRIBUTES","ProjectionExpression":"sk, version","ExpressionAttributeValues":{":p":{"S":"POLICY"}}}`,
			`dynamodb:Query ` + opsARN + ` {"dynamodb:Attributes":["pk","sk","version"],"dynamodb:LeadingKeys":["POLICY"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:Select":"SPECIFIC_ATTRIBUTES"}`},
		{"Scan: no leading keys", "Scan", `{"TableName":"x-OpsTable","Select":"COUNT"}`,
			`dynamodb:Scan ` + opsARN + ` {"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:Select":"COUNT"}`},
		{"BatchWriteItem: one check per table with every key", "BatchWriteItem",
			`{"RequestItems":{"x-SubjectsTable":[{"DeleteRequest":{"Key":{"pk":{"S":"S#a"},"sk":{"S":"1"}}}},{"PutRequest":{"Item":{"pk":{"S":"S#b"},"sk":{"S":"2"},"x":{"S":"y"}}}}],"x-OpsTable":[{"DeleteRequest":{"Key":{"pk":{"S":"CB#1"},"sk":{"S":"CB"}}}}]}}`,
			`dynamodb:BatchWriteItem ` + opsARN + ` {"dynamodb:Attributes":["pk","sk"],"dynamodb:LeadingKeys":["CB#1"]}` + "\n" +
				`dynamodb:BatchWriteItem ` + subjARN + ` {"dynamodb:Attributes":["pk","sk","x"],"dynamodb:LeadingKeys":["S#a","S#b"]}`},
		{"BatchGetItem: one check per table, no attributes without a projection", "BatchGetItem",
			`{"RequestItems":{"x-SubjectsTable":{"Keys":[{"pk":{"S":"S#a"},"sk":{"S":"1"}},{"pk":{"S":"S#a"},"sk":{"S":"2"}}],"ConsistentRead":true}}}`,
			`dynamodb:BatchGetItem ` + subjARN + ` {"dynamodb:LeadingKeys":["S#a"]}`},
		{"TransactWriteItems: each element as its own action", "TransactWriteItems",
			`{"TransactItems":[{"Put":{"TableName":"x-SubjectsTable","Item":{"pk":{"S":"S#a"},"sk":{"S":"1"}}}},{"ConditionCheck":{"TableName":"x-OpsTable","Key":{"pk":{"S":"CTRL#c"},"sk":{"S":"CTRL"}},"ConditionExpression":"attribute_exists(pk)"}},{"Update":{"TableName":"x-OpsTable","Key":{"pk":{"S":"RL#1"},"sk":{"S":"w"}},"UpdateExpression":"ADD uses :one"}},{"Delete":{"TableName":"x-SubjectsTable","Key":{"pk":{"S":"S#a"},"sk":{"S":"2"}}}}]}`,
			`dynamodb:PutItem ` + subjARN + ` {"dynamodb:Attributes":["pk","sk"],"dynamodb:LeadingKeys":["S#a"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:ReturnValues":"NONE"}` + "\n" +
				`dynamodb:ConditionCheckItem ` + opsARN + ` {"dynamodb:Attributes":["pk","sk"],"dynamodb:LeadingKeys":["CTRL#c"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:ReturnValues":"NONE"}` + "\n" +
				`dynamodb:UpdateItem ` + opsARN + ` {"dynamodb:Attributes":["pk","sk","uses"],"dynamodb:LeadingKeys":["RL#1"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:ReturnValues":"NONE"}` + "\n" +
				`dynamodb:DeleteItem ` + subjARN + ` {"dynamodb:Attributes":["pk","sk"],"dynamodb:LeadingKeys":["S#a"],"dynamodb:ReturnConsumedCapacity":"NONE","dynamodb:ReturnValues":"NONE"}`},
		{"TransactGetItems: each as GetItem", "TransactGetItems",
			`{"TransactItems":[{"Get":{"TableName":"x-OpsTable","Key":{"pk":{"S":"POLICY"},"sk":{"S":"v1"}}}}]}`,
			`dynamodb:GetItem ` + opsARN + ` {"dynamodb:LeadingKeys":["POLICY"],"dynamodb:ReturnConsumedCapacity":"NONE"}`},
		{"DescribeTable: the table, no keys", "DescribeTable", `{"TableName":"` + subjARN + `"}`,
			`dynamodb:DescribeTable ` + subjARN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DynamoDB("DynamoDB_20120810."+tc.op, []byte(tc.body), tables, streamOf)
			if err != nil {
				t.Fatal(err)
			}
			if r := render(got); r != tc.want {
				t.Errorf("got\n%s\nwant\n%s", r, tc.want)
			}
		})
	}
}

func TestDynamoDBStreams(t *testing.T) {
	for _, tc := range []struct{ op, body, want string }{
		{"DescribeStream", `{"StreamArn":"` + strARN + `"}`, "dynamodb:DescribeStream " + strARN},
		{"GetShardIterator", `{"StreamArn":"` + strARN + `","ShardId":"s","ShardIteratorType":"TRIM_HORIZON"}`, "dynamodb:GetShardIterator " + strARN},
		{"GetRecords", `{"ShardIterator":"iter-1"}`, "dynamodb:GetRecords " + strARN},
		{"ListStreams", `{}`, "dynamodb:ListStreams *"},
	} {
		got, err := DynamoDB("DynamoDBStreams_20120810."+tc.op, []byte(tc.body), tables, streamOf)
		if err != nil || render(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.op, render(got), err, tc.want)
		}
	}
}

// What cannot be translated exactly is refused, never let through
// unchecked.
func TestDynamoDBUntranslatable(t *testing.T) {
	for _, tc := range []struct{ name, op, body string }{
		{"a table not of the stack", "GetItem", `{"TableName":"other","Key":{"pk":{"S":"a"}}}`},
		{"no partition key", "GetItem", `{"TableName":"x-OpsTable","Key":{"sk":{"S":"a"}}}`},
		{"a query without an equality on the partition key", "Query", `{"TableName":"x-OpsTable","KeyConditionExpression":"sk = :s","ExpressionAttributeValues":{":s":{"S":"a"}}}`},
		{"a placeholder without a name", "UpdateItem", `{"TableName":"x-OpsTable","Key":{"pk":{"S":"a"},"sk":{"S":"b"}},"UpdateExpression":"SET #x = :v"}`},
		{"legacy parameters", "Query", `{"TableName":"x-OpsTable","KeyConditions":{"pk":{"ComparisonOperator":"EQ"}}}`},
		{"an index the table lacks", "Query", `{"TableName":"x-OpsTable","IndexName":"nope","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"a"}}}`},
		{"an operation not translated", "CreateTable", `{"TableName":"x-OpsTable"}`},
		{"a stream iterator of no known stream", "DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"forged"}`},
	} {
		op := tc.op
		if !strings.Contains(op, ".") {
			op = "DynamoDB_20120810." + op
		}
		if got, err := DynamoDB(op, []byte(tc.body), tables, streamOf); err == nil {
			t.Errorf("%s: translated to %s", tc.name, render(got))
		}
	}
}

func TestTopNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string
	}{
		{"SET a = :v, #b.c = if_not_exists(#b.c, :z) REMOVE d[2].e", "a,b,b,d"},
		{"attribute_not_exists(pk) OR (NOT contains(queue, :s) AND size(sent) > :n)", "pk,queue,sent"},
		{"a, b.c[0].d, #x", "a,b,x"},
		{"ADD counter :one DELETE tags :t", "counter,tags"},
		{"x BETWEEN :a AND :b OR y IN (:c, :d)", "x,y"},
		{"list_append(l, :v)", "l"},
		{"SET attempts = attempts + :one, n = :a - size(x)", "attempts,attempts,n,x"},
	} {
		got, err := topNames(tc.expr, map[string]string{"#b": "b", "#x": "x"})
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.expr, got, err, tc.want)
		}
	}
}

func TestOtherServices(t *testing.T) {
	queues := func(ref string) (string, bool) {
		if ref == "http://127.0.0.1:1/000000000000/x-CampaignQueue" || ref == "x-CampaignQueue" {
			return "arn:aws:sqs:us-east-1:000000000000:x-CampaignQueue", true
		}
		return "", false
	}
	q := `{"QueueUrl":"http://127.0.0.1:1/000000000000/x-CampaignQueue"}`
	for _, tc := range []struct{ op, body, want string }{
		{"AmazonSQS.SendMessageBatch", q, "sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:x-CampaignQueue"},
		{"AmazonSQS.DeleteMessageBatch", q, "sqs:DeleteMessage arn:aws:sqs:us-east-1:000000000000:x-CampaignQueue"},
		{"AmazonSQS.ReceiveMessage", q, "sqs:ReceiveMessage arn:aws:sqs:us-east-1:000000000000:x-CampaignQueue"},
		{"AmazonSQS.GetQueueUrl", `{"QueueName":"x-CampaignQueue"}`, "sqs:GetQueueUrl arn:aws:sqs:us-east-1:000000000000:x-CampaignQueue"},
	} {
		got, err := SQS(tc.op, []byte(tc.body), queues)
		if err != nil || render(got) != tc.want {
			t.Errorf("%s: %q %v", tc.op, render(got), err)
		}
	}
	if _, err := SQS("AmazonSQS.SendMessage", []byte(`{"QueueUrl":"http://elsewhere/1/q"}`), queues); err == nil {
		t.Error("a queue not of the stack was translated")
	}

	send := `{"FromEmailAddress":"Example Inc. <privacy@example.com>","Destination":{"ToAddresses":["Ann <ann@example.org>"]},"ConfigurationSetName":"Set1","Content":{"Simple":{}}}`
	got, err := SESv2("POST", "/v2/email/outbound-emails", []byte(send), "us-east-1", "000000000000")
	ctx := `{"ses:ApiVersion":"2","ses:FromAddress":"privacy@example.com","ses:FromDisplayName":"Example Inc.","ses:Recipients":["ann@example.org"]}`
	if want := "ses:SendEmail arn:aws:ses:us-east-1:000000000000:identity/example.com " + ctx + "\n" +
		"ses:SendEmail arn:aws:ses:us-east-1:000000000000:configuration-set/Set1 " + ctx; err != nil || render(got) != want {
		t.Errorf("SendEmail:\n%s\n%v", render(got), err)
	}
	if got, err := SESv2("GET", "/v2/email/account", nil, "us-east-1", "000000000000"); err != nil || render(got) != `ses:GetAccount * {"ses:ApiVersion":"2"}` {
		t.Errorf("GetAccount: %s %v", render(got), err)
	}

	secrets := func(id string) (string, bool) {
		return "arn:aws:secretsmanager:us-east-1:000000000000:secret:x-AppSecret-AbCdEf", id == "x-AppSecret" || strings.HasPrefix(id, "arn:")
	}
	if got, err := SecretsManager("secretsmanager.GetSecretValue", []byte(`{"SecretId":"x-AppSecret"}`), secrets); err != nil ||
		render(got) != `secretsmanager:GetSecretValue arn:aws:secretsmanager:us-east-1:000000000000:secret:x-AppSecret-AbCdEf {"secretsmanager:SecretId":"x-AppSecret"}` {
		t.Errorf("GetSecretValue: %s %v", render(got), err)
	}

	fns := func(name string) (string, bool) {
		return "arn:aws:lambda:us-east-1:000000000000:function:SweepFunction", name == "SweepFunction"
	}
	if got, arn, err := Lambda("POST", "/2015-03-31/functions/SweepFunction/invocations", fns); err != nil ||
		render(got) != "lambda:InvokeFunction arn:aws:lambda:us-east-1:000000000000:function:SweepFunction" || !strings.HasSuffix(arn, ":SweepFunction") {
		t.Errorf("Invoke: %s %v", render(got), err)
	}
	if _, _, err := Lambda("POST", "/2015-03-31/functions/Other/invocations", fns); err == nil {
		t.Error("a function not of the stack was translated")
	}
}
