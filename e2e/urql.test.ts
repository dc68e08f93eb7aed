// urql (@urql/core 6) against the running service: the same queries and mutations as the
// Apollo Client tests, with urql's defaults (queries as GET within the URL limit).
// The operations are operations/urql.graphql, typed by GraphQL Code Generator
// (gql/graphql.ts): results and variables are checked by tsc (npm run typecheck).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Client, CombinedError, cacheExchange, fetchExchange, gql } from '@urql/core';
import type { ClientOptions, OperationResult } from '@urql/core';

import {
  UrqlAuthenticateDocument, UrqlCountDocument, UrqlCreateDocument, UrqlCreateTokenDocument,
  UrqlDeleteDocument, UrqlPageDocument, UrqlRevokeDocument, UrqlSessionDocument, UrqlUpdateDocument,
} from './gql/graphql.ts';
import type { OrderDirection, UrqlPageQuery } from './gql/graphql.ts';
import {
  ORG, PROJECT, bearer, createSession, httpURL, needRedis, needServer, recordingFetch, server, unique,
} from './lib.mjs';

/**
 * The client as the README shows it; key null sends no Authorization header. Without a
 * key, queries go as POST: the service refuses a GET that carries no header a browser
 * would preflight (its CSRF rule), and urql's GET has none once the key is gone.
 */
function makeClient({ key = server!.key, fetch = globalThis.fetch, preferGetMethod }: {
  key?: string | null, fetch?: typeof globalThis.fetch, preferGetMethod?: ClientOptions['preferGetMethod'],
} = {}) {
  preferGetMethod ??= key ? 'within-url-limit' : false;
  return new Client({
    url: httpURL!,
    fetch,
    preferGetMethod,
    fetchOptions: { headers: key ? { Authorization: bearer(key) } : {} },
    exchanges: [cacheExchange, fetchExchange],
  });
}

/** data of a result that must have no error. */
function dataOf<TData>(result: OperationResult<TData, any>): TData {
  assert.equal(result.error, undefined, `unexpected error: ${result.error}`);
  assert.ok(result.data, 'a result without data');
  return result.data;
}

/** The extensions.code of a result's single GraphQL error (and no network error). */
function codeOf(result: OperationResult<unknown, any>) {
  assert.ok(result.error instanceof CombinedError, `expected a CombinedError, got ${JSON.stringify(result.data)}`);
  assert.equal(result.error.networkError, undefined, `network error: ${result.error.networkError}`);
  assert.equal(result.error.graphQLErrors.length, 1, result.error.message);
  return result.error.graphQLErrors[0].extensions.code;
}

describe('urql', { skip: needServer }, () => {
  test('queries go as GET with the key, and return the stored session or null', async () => {
    const owner = unique('urql-query');
    const { id, session } = await createSession({
      originOwnerId: owner, originOwnerName: 'Urql Co', provider: 'personio',
      categories: ['ATS'], label: 'u1', metadata: { tier: 2 },
    });
    const rec = recordingFetch();
    const client = makeClient({ fetch: rec.fetch });
    const data = dataOf(await client.query(UrqlSessionDocument, { organizationId: ORG, projectId: PROJECT, id }).toPromise());
    assert.deepEqual(data.connectSession, {
      __typename: 'ConnectSession', id, organizationId: ORG, projectId: PROJECT, originOwnerId: owner,
      originOwnerName: 'Urql Co', provider: 'personio', categories: ['ATS'], label: 'u1',
      metadata: { tier: 2 }, type: 'PRODUCTION', multiple: false, status: 'PENDING',
      createdAt: session.createdAt, expiresAt: session.expiresAt, authenticatedAt: null,
      updatedAt: session.createdAt,
    });
    assert.equal(rec.calls.length, 1);
    assert.equal(rec.calls[0].method, 'GET', 'urql sends short queries as GET');
    assert.ok(rec.calls[0].url.searchParams.get('query').includes('connectSession'));
    assert.equal(rec.calls[0].headers.get('authorization'), bearer(server!.key));

    const missing = await client.query(UrqlSessionDocument, { organizationId: ORG, projectId: PROJECT, id: 2_000_000_000 }).toPromise();
    assert.equal(dataOf(missing).connectSession, null);
  });

  test('cursor pagination with first/after, in both orders', async () => {
    const owner = unique('urql-page');
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push((await createSession({ originOwnerId: owner })).id);
    const client = makeClient();
    const orders: Array<[OrderDirection, number[]]> = [['DESC', [...ids].reverse()], ['ASC', ids]];
    for (const [direction, expected] of orders) {
      const seen: number[] = [];
      const cursors: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 3; page += 1) {
        const data: UrqlPageQuery = dataOf(await client.query(UrqlPageDocument, {
          organizationId: ORG, projectId: PROJECT, filter: { originOwnerId: owner },
          orderBy: { direction }, first: 2, after,
        }).toPromise());
        const conn = data.connectSessions;
        assert.equal(conn.totalCount, 5);
        seen.push(...conn.edges.map((e) => e.node.id));
        cursors.push(...conn.edges.map((e) => e.cursor));
        assert.equal(conn.pageInfo.hasNextPage, page < 2, `${direction} page ${page}`);
        assert.equal(conn.pageInfo.endCursor, conn.edges.at(-1)?.cursor);
        after = conn.pageInfo.endCursor;
      }
      assert.deepEqual(seen, expected, direction);
      assert.equal(new Set(cursors).size, 5);
    }
  });

  test('every mutation: create, authenticate (no key), update, revoke, delete', async () => {
    const client = makeClient();
    const anonymous = makeClient({ key: null });
    const owner = unique('urql-mut');
    const created = dataOf(await client.mutation(UrqlCreateDocument, {
      input: {
        organizationId: ORG, projectId: PROJECT, originOwnerId: owner, originOwnerName: 'Urql Mutation Co',
        provider: 'hibob', categories: ['HRIS', 'LMS'], type: 'TEST', multiple: true,
      },
    }).toPromise()).createConnectSession;
    assert.match(created.token, /^cst_[A-Za-z0-9_-]{22,}$/);
    const { id } = created.connectSession;
    assert.deepEqual(created.connectSession, {
      __typename: 'ConnectSession', id, status: 'PENDING', originOwnerId: owner,
      categories: ['HRIS', 'LMS'], type: 'TEST', multiple: true,
    });

    const AUTH = UrqlAuthenticateDocument;
    const auth = dataOf(await anonymous.mutation(AUTH, { token: created.token }).toPromise()).authenticateConnectSession;
    assert.equal(auth.id, id);
    assert.equal(auth.status, 'AUTHENTICATED');
    assert.ok(auth.authenticatedAt !== null && !Number.isNaN(Date.parse(auth.authenticatedAt)));

    const updated = dataOf(await client.mutation(UrqlUpdateDocument, {
      input: { organizationId: ORG, projectId: PROJECT, id, provider: null, categories: ['CRM'], label: 'urql', originUsername: 'u@example.com' },
    }).toPromise()).updateConnectSession;
    assert.deepEqual(updated, {
      __typename: 'ConnectSession', id, provider: null, categories: ['CRM'], label: 'urql',
      originUsername: 'u@example.com', status: 'AUTHENTICATED',
    });

    const TENANT = { organizationId: ORG, projectId: PROJECT, id };
    const revoked = dataOf(await client.mutation(UrqlRevokeDocument, TENANT).toPromise()).revokeConnectSession;
    assert.deepEqual(revoked, { __typename: 'ConnectSession', id, status: 'REVOKED' });
    assert.equal(codeOf(await anonymous.mutation(AUTH, { token: created.token }).toPromise()), 'UNAUTHENTICATED');

    const DELETE = UrqlDeleteDocument;
    assert.deepEqual(dataOf(await client.mutation(DELETE, TENANT).toPromise()).deleteConnectSession,
      { __typename: 'DeleteConnectSessionPayload', id, deleted: true });
    assert.deepEqual(dataOf(await client.mutation(DELETE, TENANT).toPromise()).deleteConnectSession,
      { __typename: 'DeleteConnectSessionPayload', id, deleted: false });
    const gone = await client.query(UrqlSessionDocument, TENANT, { requestPolicy: 'network-only' }).toPromise();
    assert.equal(dataOf(gone).connectSession, null);
  });

  describe('error codes in CombinedError', () => {
    const LIST = UrqlCountDocument;

    test('UNAUTHENTICATED without a key', async () => {
      const rec = recordingFetch();
      const r = await makeClient({ key: null, fetch: rec.fetch }).query(LIST, { organizationId: ORG, projectId: PROJECT }).toPromise();
      assert.equal(rec.calls[0].method, 'POST');
      assert.equal(codeOf(r), 'UNAUTHENTICATED');
      // Refused before anything ran: a request error, without a path.
      assert.equal(r.error?.graphQLErrors[0].path, undefined);
    });

    test('a GET with no preflighted header is refused with 400 before anything runs (CSRF rule)', async () => {
      const rec = recordingFetch();
      const r = await makeClient({ key: null, fetch: rec.fetch, preferGetMethod: 'force' })
        .query(LIST, { organizationId: ORG, projectId: PROJECT }).toPromise();
      assert.equal(rec.calls.length, 1);
      assert.equal(rec.calls[0].method, 'GET');
      assert.equal(rec.calls[0].headers.get('authorization'), null);
      assert.equal(rec.calls[0].status, 400);
      // A GraphQL error answer like every refusal: urql reads its code, and no data.
      assert.equal(codeOf(r), 'BAD_REQUEST');
      assert.equal(r.data, null);
      // The same GET with the key header passes.
      const ok = await makeClient({ preferGetMethod: 'force' }).query(LIST, { organizationId: ORG, projectId: PROJECT }).toPromise();
      assert.equal(typeof dataOf(ok).connectSessions.totalCount, 'number');
    });

    test('FORBIDDEN for another organization', async () => {
      const r = await makeClient().query(LIST, { organizationId: 999, projectId: PROJECT }).toPromise();
      assert.equal(codeOf(r), 'FORBIDDEN');
    });

    test('FORBIDDEN for a read-only key that writes', { skip: needRedis }, async () => {
      const r = await makeClient({ key: server!.readKey }).mutation(UrqlRevokeDocument,
        { organizationId: ORG, projectId: PROJECT, id: 1 }).toPromise();
      assert.equal(codeOf(r), 'FORBIDDEN');
    });

    test('BAD_USER_INPUT with extensions.field', async () => {
      const r = await makeClient().mutation(UrqlCreateTokenDocument, {
        input: { organizationId: ORG, projectId: PROJECT, originOwnerId: unique('urql-bad'), originOwnerName: 'x', expiresIn: 59 },
      }).toPromise();
      assert.equal(codeOf(r), 'BAD_USER_INPUT');
      assert.equal(r.error?.graphQLErrors[0].extensions.field, 'input.expiresIn');
    });

    test('BAD_USER_INPUT for a malformed cursor', async () => {
      const r = await makeClient().query(UrqlPageDocument, { organizationId: ORG, projectId: PROJECT, first: 1, after: 'not a cursor' }).toPromise();
      assert.equal(codeOf(r), 'BAD_USER_INPUT');
    });

    test('NOT_FOUND for updating a session that does not exist', async () => {
      const r = await makeClient().mutation(UrqlUpdateDocument, {
        input: { organizationId: ORG, projectId: PROJECT, id: 2_000_000_000, label: 'x' },
      }).toPromise();
      assert.equal(codeOf(r), 'NOT_FOUND');
    });

    test('GRAPHQL_VALIDATION_FAILED for an unknown field', async () => {
      // Not in operations/: codegen refuses an operation the schema does not validate.
      const r = await makeClient().query(gql`query { connectSessionz { id } }`, {}).toPromise();
      assert.equal(codeOf(r), 'GRAPHQL_VALIDATION_FAILED');
    });
  });
});
