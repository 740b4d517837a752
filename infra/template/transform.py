"""Prints template.yaml as CloudFormation after the SAM transform (the
translator cfn-lint ships), for the template tests: what SAM adds to each
function's role is only visible there. Code URIs are replaced by a stand-in,
as cfn-lint does."""
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
class NoLoader:
    """No managed-policy lookups: this machine reaches no AWS."""

    def load(self):
        return {}
tpl = yaml_parse(open(sys.argv[1]).read())
for r in tpl["Resources"].values():
    if r.get("Type") == "AWS::Serverless::Function":
        r["Properties"]["CodeUri"] = "s3://bucket/key"
params = {"SenderAddress":"a@b.c","TeamInbox":"a@b.c","PublicBaseURL":"https://x.y","SiteOrigins":"https://x.y"}
out = transform(tpl, params, NoLoader())
json.dump(out, sys.stdout)
