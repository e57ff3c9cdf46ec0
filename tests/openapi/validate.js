#!/usr/bin/env node
// Validate docs/openapi.yaml (or the file given as the first argument) against the OpenAPI 3.0
// schema with @apidevtools/swagger-parser: structure, $refs, and the spec's own rules.
// Exit 0 when valid, 1 with the error on stderr otherwise.
// With --routes, also print the described operations as JSON lines ["METHOD", "/path"] on stdout.
'use strict';

const path = require('path');
const SwaggerParser = require('@apidevtools/swagger-parser');

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

async function main(argv) {
  const printRoutes = argv.includes('--routes');
  const files = argv.filter((a) => !a.startsWith('--'));
  const file = files[0] || path.join(__dirname, '..', '..', 'docs', 'openapi.yaml');

  // validate() dereferences the document; keep a parsed copy for listing routes.
  const api = await SwaggerParser.validate(file);
  if (!api.openapi || !api.openapi.startsWith('3.0.')) {
    throw new Error(`expected an OpenAPI 3.0.x document, got "${api.openapi || api.swagger}"`);
  }
  if (printRoutes) {
    for (const [p, item] of Object.entries(api.paths)) {
      for (const m of METHODS) {
        if (item[m]) process.stdout.write(JSON.stringify([m.toUpperCase(), p]) + '\n');
      }
    }
  }
  process.stderr.write(`${file}: valid OpenAPI ${api.openapi} (${api.info.title} ${api.info.version})\n`);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`openapi validation failed: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
