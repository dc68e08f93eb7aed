// Editors find the schema and the typed operations through graphql.config.yml at the
// repository root (the GraphQL language server reads it): it must name what codegen.ts
// types, and every operation there must validate against that schema. Needs no server.
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { NoUnusedFragmentsRule, specifiedRules, validate } from 'graphql';
import { loadConfig } from 'graphql-config';

import codegen from './codegen.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const list = (v) => (Array.isArray(v) ? v : [v]);
// The rules editors and codegen apply to one file: a fragment may be defined for use
// elsewhere (as ApolloCachedSession is, for the cache).
const rules = specifiedRules.filter((r) => r !== NoUnusedFragmentsRule);

test('graphql.config.yml names the schema and operations codegen.ts types, and they validate', async () => {
  const config = await loadConfig({ rootDir: repo, throwOnMissing: true });
  assert.equal(config.filepath, resolve(repo, 'graphql.config.yml'));
  const project = config.getDefault();

  assert.deepEqual(list(project.schema).map((p) => resolve(repo, p)), list(codegen.schema).map((p) => resolve(here, p)));
  assert.deepEqual(list(project.documents).map((p) => resolve(repo, p)), list(codegen.documents).map((p) => resolve(here, p)));

  const schema = await project.getSchema();
  const documents = await project.getDocuments();
  assert.ok(documents.length >= 2, `documents: ${documents.map((d) => d.location).join(', ')}`);
  const names = [];
  for (const source of documents) {
    const errors = validate(schema, source.document, rules);
    assert.deepEqual(errors.map((e) => e.message), [], source.location);
    for (const d of source.document.definitions) names.push(d.name.value);
  }
  // The operations the Apollo Client and urql tests import.
  for (const name of ['ApolloSession', 'ApolloCreate', 'UrqlSession', 'UrqlCreate']) {
    assert.ok(names.includes(name), `no ${name} among ${names.join(', ')}`);
  }
});
