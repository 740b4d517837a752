// The IAM policy evaluator of the local stack: @cloud-copilot/iam-simulate
// (npm, AGPL-3.0, installed by `make tools` into .tools/node and run as this
// process of its own, never linked into the product), asked by the gateway
// (package iamsim) over stdin/stdout, one JSON object a line.
//
//   {"id":1,"op":"load","set":"<id>","policies":[{"name":"...","policy":{...}}]}
//   {"id":2,"op":"eval","set":"<id>","principal":"arn:...","action":"dynamodb:Query",
//    "resource":"arn:...","accountId":"000000000000","context":{"dynamodb:LeadingKeys":["POLICY"]},
//    "validate":true}
//
// An evaluation runs runUnsafeSimulation (no input validation, ~0.3 ms); with
// "validate", or when the answer is not Allowed, it runs runSimulation too,
// which validates the request (the action exists, the resource ARN is one of
// the action's resource types, the context keys apply to it) and explains
// each statement; a validation error, a context key the action ignores, or
// two answers that differ is an error, so a mistake in the gateway's
// translation of a request shows instead of deciding.
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const modules = process.env.PK_NODE_MODULES;
if (!modules) {
  console.error('evaluator: PK_NODE_MODULES must name .tools/node/node_modules');
  process.exit(2);
}
const require = createRequire(path.join(modules, 'noop.js'));
const { runSimulation, runUnsafeSimulation } = await import(require.resolve('@cloud-copilot/iam-simulate'));

const sets = new Map(); // set id -> identity policies

function simulation(m) {
  return {
    identityPolicies: sets.get(m.set),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      principal: m.principal,
      action: m.action,
      resource: { resource: m.resource, accountId: m.accountId },
      contextVariables: m.context || {},
    },
  };
}

// explain names, for each statement that could have applied (its action
// and resource match), why it did or did not.
function explain(analysis) {
  const out = [];
  const id = analysis?.identityAnalysis;
  const name = (s) => `${s.policyId}/${s.explain?.identifier ?? '?'}`;
  for (const s of id?.denyStatements ?? []) out.push(`explicit Deny ${name(s)} matched`);
  for (const s of id?.allowStatements ?? []) out.push(`Allow ${name(s)} matched`);
  for (const s of id?.unmatchedStatements ?? []) {
    if (!s.actionMatch || !s.resourceMatch) continue;
    const failed = (s.explain?.conditions ?? []).filter((c) => !c.matches).map((c) => {
      const want = [c.values ?? []].flat().map((v) => v.value);
      const got = c.unmatchedValues ? ` (unmatched: ${JSON.stringify(c.unmatchedValues)})` : c.missingContextKey ? ' (key absent)' : '';
      return `${c.operator} ${c.conditionKeyValue} ${JSON.stringify(want)}${got}`;
    });
    out.push(`${s.explain?.effect} ${name(s)}: condition not met: ${failed.join('; ')}`);
  }
  return out;
}

async function handle(m) {
  if (m.op === 'load') {
    sets.set(m.set, m.policies);
    return { id: m.id, ok: true };
  }
  if (m.op !== 'eval') return { id: m.id, error: `unknown op ${m.op}` };
  if (!sets.has(m.set)) return { id: m.id, error: `unknown policy set ${m.set}` };
  const sim = simulation(m);
  // A request on "*" (an action with no resource type, such as
  // ses:GetAccount) is matched by runSimulation's rules for it, which
  // runUnsafeSimulation does not apply (it matches "*" as an ARN).
  const wildcard = m.resource === '*';
  const fast = wildcard ? undefined : runUnsafeSimulation(sim, {});
  if (!m.validate && fast === 'Allowed') return { id: m.id, result: fast };
  const full = await runSimulation(sim, {});
  if (full.resultType === 'error') return { id: m.id, error: `invalid request: ${JSON.stringify(full.errors)}` };
  if (full.resultType !== 'single') return { id: m.id, error: `resource ${m.resource} is a pattern, not one resource` };
  if (full.result.ignoredContextKeys?.length) {
    return { id: m.id, error: `context keys ${JSON.stringify(full.result.ignoredContextKeys)} do not apply to ${m.action}` };
  }
  if (!wildcard && full.overallResult !== fast) {
    return { id: m.id, error: `validated answer ${full.overallResult}, unvalidated ${fast}` };
  }
  return { id: m.id, result: full.overallResult, explain: explain(full.result.analysis) };
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  let m;
  try {
    m = JSON.parse(line);
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: 0, error: `bad request: ${e.message}` }) + '\n');
    continue;
  }
  let out;
  try {
    out = await handle(m);
  } catch (e) {
    out = { id: m.id, error: String(e?.stack ?? e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
