#!/usr/bin/env node
// Check answers recorded from a real dbaasd against docs/openapi.yaml.
// Usage: node check-responses.js RECORDS.json [SPEC]
// RECORDS.json is an array of {"method", "path" (the path as sent, without the query), "status",
// "contentType", "body" (parsed JSON, or null)}. For each record: the path must match a described
// route and method, the status must be among the operation's responses, and a JSON body must
// match the response's schema, "closed": every object schema is treated as if it had
// additionalProperties: false, so that a field the server adds but the document does not describe
// is reported too. Exit 0 when all match, 1 with one line per mismatch on stderr.
'use strict';

const fs = require('fs');
const path = require('path');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv');

// Merge allOf members into one schema and close every object schema that lists properties.
function closed(schema) {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  let s = { ...schema };
  if (Array.isArray(s.allOf)) {
    const parts = s.allOf.map(closed);
    delete s.allOf;
    const merged = {};
    for (const p of [...parts, s]) {
      for (const [k, v] of Object.entries(p)) {
        if (k === 'properties') merged.properties = { ...(merged.properties || {}), ...v };
        else if (k === 'required') merged.required = [...new Set([...(merged.required || []), ...v])];
        else merged[k] = v;
      }
    }
    s = merged;
  }
  for (const k of ['items', 'additionalProperties', 'not']) {
    if (s[k] && typeof s[k] === 'object') s[k] = closed(s[k]);
  }
  for (const k of ['oneOf', 'anyOf']) {
    if (Array.isArray(s[k])) s[k] = s[k].map(closed);
  }
  if (s.properties) {
    const props = {};
    for (const [k, v] of Object.entries(s.properties)) props[k] = closed(v);
    s.properties = props;
    if (s.additionalProperties === undefined) s.additionalProperties = false;
  }
  return s;
}

function routeMatch(template, actual) {
  const t = template.split('/');
  const a = actual.split('/');
  if (t.length !== a.length) return false;
  return t.every((seg, i) => (/^\{.+\}$/.test(seg) ? a[i] !== '' : seg === a[i]));
}

async function main(argv) {
  const recordsFile = argv[0];
  const specFile = argv[1] || path.join(__dirname, '..', '..', 'docs', 'openapi.yaml');
  if (!recordsFile) throw new Error('usage: check-responses.js RECORDS.json [SPEC]');
  const records = JSON.parse(fs.readFileSync(recordsFile, 'utf8'));
  const api = await SwaggerParser.dereference(JSON.parse(JSON.stringify(await SwaggerParser.parse(specFile))));
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const cache = new Map();
  const problems = [];
  const templates = Object.keys(api.paths);

  for (const rec of records) {
    const what = `${rec.method} ${rec.path} -> ${rec.status}`;
    // Prefer literal segments over parameters (e.g. /v1/hosts/x/drain).
    const matching = templates.filter((t) => routeMatch(t, rec.path));
    matching.sort((x, y) => (x.match(/\{/g) || []).length - (y.match(/\{/g) || []).length);
    if (matching.length === 0) {
      if (rec.status !== 404) problems.push(`${what}: no route in the document matches`);
      continue;
    }
    const item = api.paths[matching[0]];
    const op = item[rec.method.toLowerCase()];
    if (!op) {
      if (rec.status !== 405) problems.push(`${what}: method not described for ${matching[0]}`);
      continue;
    }
    const resp = op.responses[String(rec.status)];
    if (!resp) {
      problems.push(`${what}: status not described (${Object.keys(op.responses).join(', ')})`);
      continue;
    }
    const content = resp.content || {};
    if (rec.body === null || rec.body === undefined) {
      if (Object.keys(content).length && rec.status !== 204 && content['application/json']) {
        problems.push(`${what}: described with a JSON body, got none`);
      }
      continue;
    }
    const media = content['application/json'];
    if (!media || !media.schema) {
      problems.push(`${what}: a JSON body, but the document describes none`);
      continue;
    }
    if (!String(rec.contentType || '').startsWith('application/json')) {
      problems.push(`${what}: Content-Type ${rec.contentType}`);
    }
    const key = `${matching[0]} ${rec.method} ${rec.status}`;
    let validate = cache.get(key);
    if (!validate) {
      validate = ajv.compile(closed(media.schema));
      cache.set(key, validate);
    }
    if (!validate(rec.body)) {
      for (const e of validate.errors) {
        problems.push(`${what}: body${e.instancePath} ${e.message}` +
          (e.params && e.params.additionalProperty ? ` ("${e.params.additionalProperty}")` : ''));
      }
    }
  }
  if (problems.length) {
    process.stderr.write([...new Set(problems)].join('\n') + '\n');
    process.exit(1);
  }
  process.stderr.write(`${records.length} answers match ${specFile}\n`);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`check-responses failed: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
