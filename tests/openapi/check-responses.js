#!/usr/bin/env node
// Check answers recorded from a real dbaasd against docs/openapi.yaml.
// Usage: node check-responses.js RECORDS.json [SPEC]
// RECORDS.json is an array of {"method", "path" (the path as sent, without the query), "status",
// "contentType", "hasBody", "body" (parsed JSON, or null), "headers" (name -> value of the
// headers the document may declare: Content-Type, Location, Idempotent-Replayed, Allow)}. For
// each record the documented response is found: the operation's response for the status; for a
// path no route matches, components/responses/NotFound (status 404 only); for a route that does
// not serve the method, components/responses/MethodNotAllowed (status 405 only, with an Allow
// header naming exactly the methods the route serves). Anything else matches no documented
// response and fails. A body's Content-Type must be one the response describes; a JSON body must
// match the response's schema, "closed": every object schema is treated as if it had
// additionalProperties: false, so that a field the server adds but the document does not describe
// is reported too. Each declared header must be present when required and match its schema
// when present; a recorded Location, Idempotent-Replayed or Allow the response does not declare
// fails. Exit 0 when all match, 1 with one line per mismatch on stderr.
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

// Whether an answer's Content-Type is the described media type: the same type, and every
// parameter the document names with the same value (the server may add others, e.g. charset).
function mediaMatch(described, actual) {
  const parse = (v) => {
    const [type, ...params] = String(v || '').split(';').map((x) => x.trim().toLowerCase());
    return { type, params: new Map(params.filter((x) => x).map((x) => x.split('=').map((y) => y.trim()))) };
  };
  const d = parse(described);
  const a = parse(actual);
  return d.type === a.type && [...d.params].every(([k, v]) => a.params.get(k) === v);
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

  const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
  const WATCHED = ['location', 'idempotent-replayed', 'allow'];
  const shared = (api.components && api.components.responses) || {};
  for (const rec of records) {
    const what = `${rec.method} ${rec.path} -> ${rec.status}`;
    const got = {};
    for (const [k, v] of Object.entries(rec.headers || {})) got[k.toLowerCase()] = v;
    // Prefer literal segments over parameters (e.g. /v1/hosts/x/drain).
    const matching = templates.filter((t) => routeMatch(t, rec.path));
    matching.sort((x, y) => (x.match(/\{/g) || []).length - (y.match(/\{/g) || []).length);
    let resp;
    let key;
    if (matching.length === 0) {
      if (rec.status !== 404) {
        problems.push(`${what}: no route in the document matches (only 404 NotFound is documented)`);
        continue;
      }
      resp = shared.NotFound;
      key = 'NotFound';
    } else {
      const item = api.paths[matching[0]];
      const op = item[rec.method.toLowerCase()];
      if (!op) {
        if (rec.status !== 405) {
          problems.push(`${what}: method not described for ${matching[0]} (only 405 MethodNotAllowed is documented)`);
          continue;
        }
        resp = shared.MethodNotAllowed;
        key = 'MethodNotAllowed';
        const served = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase()).sort();
        const allow = String(got.allow || '').split(',').map((m) => m.trim()).filter((m) => m).sort();
        if (allow.join(',') !== served.join(',')) {
          problems.push(`${what}: Allow "${got.allow || ''}", the route serves ${served.join(', ')}`);
        }
      } else {
        resp = op.responses[String(rec.status)];
        key = `${matching[0]} ${rec.method} ${rec.status}`;
      }
      if (!resp) {
        problems.push(`${what}: status not described (${Object.keys(op.responses).join(', ')})`);
        continue;
      }
    }
    if (!resp) {
      problems.push(`${what}: the document has no ${key} response`);
      continue;
    }
    const declared = {};
    for (const [k, v] of Object.entries(resp.headers || {})) declared[k.toLowerCase()] = v;
    for (const [name, h] of Object.entries(declared)) {
      if (!(name in got)) {
        if (h.required) problems.push(`${what}: header ${name} is required, got none`);
        continue;
      }
      const hkey = `header ${key} ${name}`;
      let check = cache.get(hkey);
      if (!check) {
        check = ajv.compile(h.schema || {});
        cache.set(hkey, check);
      }
      if (!check(got[name])) problems.push(`${what}: header ${name} "${got[name]}" does not match its schema`);
    }
    for (const name of WATCHED) {
      if (name in got && !(name in declared)) {
        problems.push(`${what}: header ${name} "${got[name]}" is not described`);
      }
    }
    const content = resp.content || {};
    if (rec.hasBody) {
      if (!Object.keys(content).some((m) => mediaMatch(m, rec.contentType))) {
        problems.push(`${what}: Content-Type "${rec.contentType}", described: ${Object.keys(content).join(', ') || 'no body'}`);
      }
    }
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
