// Validates what an MCP server showed a client, with ajv in strict mode (what the
// TypeScript SDK validates with): `node validate-tools.mjs FILE`, where FILE is
// {"tools": [tool definitions from tools/list], "results": [{"tool", "result"}]}.
//
// Checks (each failure is printed; exit 1 if any):
// - every inputSchema and outputSchema compiles under `strict: true` (unknown
//   keywords, unknown formats, ignored keywords are errors, not log lines);
// - every result with structuredContent validates against its tool's outputSchema;
// - every error result (isError) carries no structuredContent.
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const file = process.argv[2];
const { tools, results = [] } = JSON.parse(readFileSync(file, "utf8"));
const failures = [];
const options = { strict: true, allErrors: true, allowUnionTypes: true };
const draft07 = addFormats.default ? addFormats.default(new Ajv.default(options)) : addFormats(new Ajv(options));
const draft2020 = addFormats.default ? addFormats.default(new Ajv2020.default(options)) : addFormats(new Ajv2020(options));

function compile(tool, which) {
  const schema = structuredClone(tool[which]);
  const ajv = String(schema.$schema ?? "").includes("2020-12") ? draft2020 : draft07;
  delete schema.$schema;
  try {
    return ajv.compile(schema);
  } catch (e) {
    failures.push(`${tool.name}.${which}: ${e.message}`);
    return null;
  }
}

const outputs = new Map();
for (const tool of tools) {
  compile(tool, "inputSchema");
  if (tool.outputSchema) outputs.set(tool.name, compile(tool, "outputSchema"));
}
for (const { tool, result } of results) {
  if (result.isError) {
    if (result.structuredContent !== undefined) {
      failures.push(`${tool}: an error result carries structuredContent`);
    }
    continue;
  }
  const validate = outputs.get(tool);
  if (validate && result.structuredContent !== undefined && !validate(result.structuredContent)) {
    failures.push(`${tool}: result does not match its outputSchema: ${JSON.stringify(validate.errors)}`);
  }
}
for (const f of failures) console.log(f);
console.log(`checked ${tools.length} tools, ${results.length} results, ${failures.length} failures`);
process.exit(failures.length ? 1 : 0);
