"""Prints, for each resource type in a template (JSON, after the SAM
transform, on stdin), the length limit and pattern cfn-lint's copy of the
CloudFormation resource schema gives each top-level string property:
{"AWS::Scheduler::Schedule": {"Name": {"maxLength": 64, "pattern": ...}}}."""
import json, sys
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
types = {r.get("Type") for r in json.load(sys.stdin)["Resources"].values()}
out = {}
for t in sorted(types):
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", t).schema
    except Exception:
        continue
    props = {}
    for name, p in schema.get("properties", {}).items():
        if p.get("type") == "string" and ("maxLength" in p or "pattern" in p):
            props[name] = {k: p[k] for k in ("maxLength", "pattern") if k in p}
    out[t] = props
json.dump(out, sys.stdout)
