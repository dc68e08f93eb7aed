// Apollo Client 4 against the running service: queries, every mutation, Relay cursor
// pagination merged by relayStylePagination, error codes as the client surfaces them,
// and automatic persisted queries through PersistedQueryLink (POST, then GET).
// The operations are operations/apollo-client.graphql, typed by GraphQL Code Generator
// (gql/graphql.ts): results and variables are checked by tsc (npm run typecheck).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql,
} from '@apollo/client';
import type { ObservableQuery, OperationVariables, TypedDocumentNode } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { relayStylePagination } from '@apollo/client/utilities';
import type { GraphQLFormattedError } from 'graphql';

import {
  ApolloAuthenticateDocument, ApolloCachedSessionFragmentDoc, ApolloCountDocument,
  ApolloCreateDocument, ApolloCreateTokenDocument, ApolloDeleteDocument, ApolloPageDocument,
  ApolloRevokeDocument, ApolloSessionDocument, ApolloUpdateDocument,
} from './gql/graphql.ts';
import type { ApolloPageQuery, ConnectSessionFilter } from './gql/graphql.ts';
import {
  ORG, PROJECT, bearer, createSession, gqlData, httpURL, needRedis, needServer, recordingFetch,
  server, sha256, unique,
} from './lib.mjs';

/** The client as the README shows it; key null sends no Authorization header. */
function makeClient({ key = server!.key, fetch = globalThis.fetch, link }: {
  key?: string | null, fetch?: typeof globalThis.fetch, link?: ApolloLink,
} = {}) {
  const http = new HttpLink({
    uri: httpURL,
    headers: key ? { Authorization: bearer(key) } : {},
    fetch,
  });
  return new ApolloClient({
    link: link ? ApolloLink.from([link, http]) : http,
    cache: new InMemoryCache({
      typePolicies: {
        Query: {
          fields: {
            // One cached list per tenant, filter and order; pages (after/before) merge into it.
            connectSessions: relayStylePagination(['organizationId', 'projectId', 'filter', 'orderBy']),
          },
        },
      },
    }),
  });
}

/**
 * Watches an ObservableQuery: until(pred) resolves with the first complete result (now or
 * later) for which pred(data) holds. Apollo Client 4 delivers the merged list after
 * fetchMore through the observable, not synchronously.
 */
function watch<TData, TVariables extends OperationVariables>(observable: ObservableQuery<TData, TVariables>) {
  type Waiter = { pred: (data: TData) => boolean, resolve: (r: { data: TData }) => void, reject: (e: unknown) => void };
  let latest: { data: TData } | undefined;
  let waiters: Waiter[] = [];
  let failure: unknown;
  const check = () => {
    waiters = waiters.filter((w) => {
      if (failure) { w.reject(failure); return false; }
      if (latest && w.pred(latest.data)) { w.resolve(latest); return false; }
      return true;
    });
  };
  const sub = observable.subscribe({
    next: (r) => { if (!r.loading && r.dataState === 'complete') { latest = { data: r.data }; check(); } },
    error: (e) => { failure = e; check(); },
  });
  return {
    until(pred: (data: TData) => boolean, what = 'the expected result') {
      return new Promise<{ data: TData }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; last: ${JSON.stringify(latest?.data)}`)), 10_000);
        waiters.push({ pred, resolve: (r) => { clearTimeout(timer); resolve(r); }, reject: (e) => { clearTimeout(timer); reject(e); } });
        check();
      });
    },
    stop: () => sub.unsubscribe(),
  };
}

/** The error a rejected client call threw, asserting it is CombinedGraphQLErrors. */
async function graphQLErrorsOf(promise: Promise<unknown>): Promise<readonly GraphQLFormattedError[]> {
  const err = await promise.then(
    (r) => assert.fail(`expected an error, got ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  assert.ok(CombinedGraphQLErrors.is(err), `not CombinedGraphQLErrors: ${err}`);
  return err.errors;
}

describe('Apollo Client', { skip: needServer }, () => {
  test('connectSession returns the stored session, and null without an error for an unknown id', async () => {
    const client = makeClient();
    const owner = unique('apollo-query');
    const { id, session } = await createSession({
      originOwnerId: owner, originOwnerName: 'Apollo Query Co', originUsername: 'ada@example.com',
      provider: 'hibob', categories: ['HRIS', 'ATS'], label: 'l1', metadata: { plan: 'gold', seats: 3 },
      type: 'TEST', multiple: true,
    });
    const { data } = await client.query({
      query: ApolloSessionDocument, variables: { organizationId: ORG, projectId: PROJECT, id },
    });
    assert.ok(data);
    assert.deepEqual(data.connectSession, {
      __typename: 'ConnectSession',
      id,
      organizationId: ORG,
      projectId: PROJECT,
      originOwnerId: owner,
      originOwnerName: 'Apollo Query Co',
      originUsername: 'ada@example.com',
      provider: 'hibob',
      categories: ['HRIS', 'ATS'],
      accountId: null,
      label: 'l1',
      metadata: { plan: 'gold', seats: 3 },
      type: 'TEST',
      multiple: true,
      status: 'PENDING',
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
      authenticatedAt: null,
      updatedAt: session.createdAt,
    });
    assert.ok(data.connectSession);
    assert.equal(Date.parse(data.connectSession.expiresAt) - Date.parse(data.connectSession.createdAt), 1800_000);

    // Another project of the same organization: "does not exist here", no error.
    const missing = await client.query({
      query: ApolloSessionDocument, variables: { organizationId: ORG, projectId: `${PROJECT}-other`, id },
    });
    assert.equal(missing.data?.connectSession, null);
    assert.equal(missing.error, undefined);
  });

  test('every mutation: create, authenticate (no key), update, revoke, delete', async () => {
    const client = makeClient();
    const anonymous = makeClient({ key: null });
    const owner = unique('apollo-mut');

    const created = await client.mutate({
      mutation: ApolloCreateDocument,
      variables: {
        input: {
          organizationId: ORG, projectId: PROJECT, originOwnerId: owner, originOwnerName: 'Mutation Co',
          provider: 'bamboohr', categories: ['HRIS'], label: 'before', metadata: { plan: 'basic' },
          expiresIn: 3600,
        },
      },
    });
    assert.ok(created.data);
    const c = created.data.createConnectSession;
    assert.match(c.token, /^cst_[A-Za-z0-9_-]{22,}$/);
    assert.equal(c.authLinkUrl, null);
    const { id } = c.connectSession;
    assert.ok(Number.isInteger(id) && id > 0);
    assert.deepEqual(
      { ...c.connectSession, id: undefined, createdAt: undefined, expiresAt: undefined, updatedAt: undefined },
      {
        __typename: 'ConnectSession', id: undefined, originOwnerId: owner, originOwnerName: 'Mutation Co',
        provider: 'bamboohr', categories: ['HRIS'], label: 'before', metadata: { plan: 'basic' },
        status: 'PENDING', type: 'PRODUCTION', multiple: false,
        createdAt: undefined, expiresAt: undefined, updatedAt: undefined,
      },
    );
    assert.equal(Date.parse(c.connectSession.expiresAt) - Date.parse(c.connectSession.createdAt), 3600_000);

    // The browser side: the token is the credential, no API key.
    const AUTH = ApolloAuthenticateDocument;
    const auth = await anonymous.mutate({ mutation: AUTH, variables: { token: c.token } });
    assert.ok(auth.data);
    const a = auth.data.authenticateConnectSession;
    assert.equal(a.id, id);
    assert.equal(a.status, 'AUTHENTICATED');
    assert.equal(a.originOwnerId, owner);
    assert.ok(a.authenticatedAt !== null && Date.parse(a.authenticatedAt) >= Date.parse(c.connectSession.createdAt));
    // Again within the expiry: the same session, the first authenticatedAt kept.
    const again = await anonymous.mutate({ mutation: AUTH, variables: { token: c.token } });
    assert.equal(again.data?.authenticateConnectSession.authenticatedAt, a.authenticatedAt);

    // Read it into the cache, then update: the normalized entry follows the mutation.
    await client.query({ query: ApolloSessionDocument, variables: { organizationId: ORG, projectId: PROJECT, id } });
    const updated = await client.mutate({
      mutation: ApolloUpdateDocument,
      variables: {
        input: {
          organizationId: ORG, projectId: PROJECT, id, label: 'after', provider: null,
          metadata: { plan: 'gold' },
        },
      },
    });
    assert.ok(updated.data);
    const u = updated.data.updateConnectSession;
    assert.deepEqual({ ...u, updatedAt: undefined }, {
      __typename: 'ConnectSession', id, label: 'after', provider: null, categories: ['HRIS'],
      metadata: { plan: 'gold' }, originOwnerName: 'Mutation Co', status: 'AUTHENTICATED',
      updatedAt: undefined,
    });
    assert.ok(Date.parse(u.updatedAt) >= Date.parse(c.connectSession.updatedAt));
    const cached = client.cache.readFragment({
      id: client.cache.identify({ __typename: 'ConnectSession', id }),
      fragment: ApolloCachedSessionFragmentDoc,
    });
    assert.deepEqual(cached, { __typename: 'ConnectSession', id, label: 'after', provider: null });

    const revoked = await client.mutate({
      mutation: ApolloRevokeDocument,
      variables: { organizationId: ORG, projectId: PROJECT, id },
    });
    assert.deepEqual(revoked.data?.revokeConnectSession, { __typename: 'ConnectSession', id, status: 'REVOKED', label: 'after' });
    // A revoked token is refused.
    const refused = await graphQLErrorsOf(anonymous.mutate({ mutation: AUTH, variables: { token: c.token } }));
    assert.equal(refused[0].extensions?.code, 'UNAUTHENTICATED');

    const DELETE = ApolloDeleteDocument;
    const deleted = await client.mutate({ mutation: DELETE, variables: { organizationId: ORG, projectId: PROJECT, id } });
    assert.deepEqual(deleted.data?.deleteConnectSession, { __typename: 'DeleteConnectSessionPayload', id, deleted: true });
    const twice = await client.mutate({ mutation: DELETE, variables: { organizationId: ORG, projectId: PROJECT, id } });
    assert.deepEqual(twice.data?.deleteConnectSession, { __typename: 'DeleteConnectSessionPayload', id, deleted: false });
    const gone = await client.query({
      query: ApolloSessionDocument, variables: { organizationId: ORG, projectId: PROJECT, id }, fetchPolicy: 'network-only',
    });
    assert.ok(gone.data);
    assert.equal(gone.data.connectSession, null);
  });

  test('cursor pagination: relayStylePagination merges first/after and last/before pages in order', async () => {
    const owner = unique('apollo-page');
    const ids = [];
    for (let i = 0; i < 5; i += 1) {
      // Sequential, so creation order (and the DESC order) is ids' order.
      ids.push((await createSession({ originOwnerId: owner, originOwnerName: `Page ${i}` })).id);
    }
    const newestFirst = [...ids].reverse();
    const vars = { organizationId: ORG, projectId: PROJECT, filter: { originOwnerId: owner } };
    const edgeIds = (data: ApolloPageQuery) => data.connectSessions.edges.map((e) => e.node.id);

    // Forwards, newest first (the default order).
    const client = makeClient();
    const forward = client.watchQuery({ query: ApolloPageDocument, variables: { ...vars, first: 2 } });
    const fw = watch(forward);
    try {
      const first = (await fw.until(() => true)).data;
      assert.deepEqual(edgeIds(first), newestFirst.slice(0, 2));
      assert.equal(first.connectSessions.totalCount, 5);
      assert.equal(first.connectSessions.pageInfo.hasNextPage, true);
      assert.equal(first.connectSessions.pageInfo.hasPreviousPage, false);
      assert.equal(first.connectSessions.pageInfo.startCursor, first.connectSessions.edges[0].cursor);
      assert.equal(first.connectSessions.pageInfo.endCursor, first.connectSessions.edges[1].cursor);

      const page2 = await forward.fetchMore({ variables: { after: first.connectSessions.pageInfo.endCursor } });
      assert.deepEqual(edgeIds(page2.data), newestFirst.slice(2, 4), 'the second page alone');
      let merged = (await fw.until((d) => d.connectSessions.edges.length > 2, 'two merged pages')).data;
      assert.deepEqual(edgeIds(merged), newestFirst.slice(0, 4));
      assert.equal(merged.connectSessions.pageInfo.hasNextPage, true);

      await forward.fetchMore({ variables: { after: merged.connectSessions.pageInfo.endCursor } });
      merged = (await fw.until((d) => d.connectSessions.edges.length > 4, 'three merged pages')).data;
      assert.deepEqual(edgeIds(merged), newestFirst);
      assert.equal(merged.connectSessions.pageInfo.hasNextPage, false);
      assert.equal(merged.connectSessions.pageInfo.hasPreviousPage, false);
      assert.equal(merged.connectSessions.pageInfo.endCursor, merged.connectSessions.edges[4].cursor);
      const cursors = merged.connectSessions.edges.map((e) => e.cursor);
      assert.equal(new Set(cursors).size, 5, 'every edge has its own cursor');
      assert.ok(merged.connectSessions.edges.every((e) => e.node.originOwnerId === owner));
    } finally {
      fw.stop();
    }

    // Backwards from the end of the oldest-first order: last/before pages are prepended.
    const backward = makeClient().watchQuery({
      query: ApolloPageDocument, variables: { ...vars, orderBy: { direction: 'ASC' }, last: 2 },
    });
    const bw = watch(backward);
    try {
      const last = (await bw.until(() => true)).data;
      assert.deepEqual(edgeIds(last), ids.slice(3));
      assert.equal(last.connectSessions.pageInfo.hasPreviousPage, true);
      assert.equal(last.connectSessions.pageInfo.hasNextPage, false);
      await backward.fetchMore({ variables: { before: last.connectSessions.pageInfo.startCursor } });
      let merged = (await bw.until((d) => d.connectSessions.edges.length > 2, 'two merged pages')).data;
      assert.deepEqual(edgeIds(merged), ids.slice(1));
      assert.equal(merged.connectSessions.pageInfo.hasPreviousPage, true);
      await backward.fetchMore({ variables: { before: merged.connectSessions.pageInfo.startCursor } });
      merged = (await bw.until((d) => d.connectSessions.edges.length > 4, 'three merged pages')).data;
      assert.deepEqual(edgeIds(merged), ids);
      assert.equal(merged.connectSessions.pageInfo.hasPreviousPage, false);
    } finally {
      bw.stop();
    }
  });

  describe('error codes reach the client', () => {
    const LIST = ApolloCountDocument;

    test('UNAUTHENTICATED for an unknown key', async () => {
      const client = makeClient({ key: `csk_0000000000000000_${'A'.repeat(43)}` });
      const errors = await graphQLErrorsOf(client.query({ query: LIST, variables: { organizationId: ORG, projectId: PROJECT } }));
      assert.equal(errors.length, 1);
      assert.equal(errors[0].extensions?.code, 'UNAUTHENTICATED');
      // Refused before anything ran: a request error, without a path.
      assert.equal(errors[0].path, undefined);
    });

    test('UNAUTHENTICATED for an unknown connect-session token', async () => {
      const errors = await graphQLErrorsOf(makeClient({ key: null }).mutate({
        mutation: ApolloAuthenticateDocument, variables: { token: 'cst_not-a-real-token-at-all-000000' },
      }));
      assert.equal(errors[0].extensions?.code, 'UNAUTHENTICATED');
    });

    test('FORBIDDEN for another organization, with partial data under errorPolicy "all"', async () => {
      const client = makeClient();
      const { data, error } = await client.query({
        query: ApolloSessionDocument, variables: { organizationId: 999, projectId: PROJECT, id: 1 }, errorPolicy: 'all',
      });
      assert.equal(data?.connectSession, null);
      assert.ok(CombinedGraphQLErrors.is(error));
      assert.equal(error.errors[0].extensions?.code, 'FORBIDDEN');
      assert.deepEqual(error.errors[0].path, ['connectSession']);
    });

    test('FORBIDDEN for a read-only key that writes', { skip: needRedis }, async () => {
      const errors = await graphQLErrorsOf(makeClient({ key: server!.readKey }).mutate({
        mutation: ApolloCreateTokenDocument,
        variables: { input: { organizationId: ORG, projectId: PROJECT, originOwnerId: unique('ro'), originOwnerName: 'RO' } },
      }));
      assert.equal(errors[0].extensions?.code, 'FORBIDDEN');
      // ...while it reads.
      const { data } = await makeClient({ key: server!.readKey }).query({
        query: LIST, variables: { organizationId: ORG, projectId: PROJECT },
      });
      assert.equal(typeof data?.connectSessions.totalCount, 'number');
    });

    test('BAD_USER_INPUT names the field, and nothing is written', async () => {
      const owner = unique('apollo-bad');
      const errors = await graphQLErrorsOf(makeClient().mutate({
        mutation: ApolloCreateTokenDocument,
        variables: {
          input: { organizationId: ORG, projectId: PROJECT, originOwnerId: owner, originOwnerName: 'Bad', provider: 'Not A Provider!' },
        },
      }));
      assert.equal(errors[0].extensions?.code, 'BAD_USER_INPUT');
      assert.equal(errors[0].extensions?.field, 'input.provider');
      const data = await gqlData(`query($o: String!) {
        connectSessions(organizationId: ${ORG}, projectId: "${PROJECT}", filter: {originOwnerId: $o}) { totalCount }
      }`, { o: owner });
      assert.equal(data.connectSessions.totalCount, 0);
    });

    test('BAD_USER_INPUT for first and last together', async () => {
      const errors = await graphQLErrorsOf(makeClient().query({
        query: ApolloPageDocument, variables: { organizationId: ORG, projectId: PROJECT, first: 1, last: 1 },
      }));
      assert.equal(errors[0].extensions?.code, 'BAD_USER_INPUT');
    });

    test('NOT_FOUND for revoking a session that does not exist', async () => {
      const errors = await graphQLErrorsOf(makeClient().mutate({
        mutation: ApolloRevokeDocument, variables: { organizationId: ORG, projectId: PROJECT, id: 2_000_000_000 },
      }));
      assert.equal(errors[0].extensions?.code, 'NOT_FOUND');
    });

    test('GRAPHQL_VALIDATION_FAILED for a field the schema lacks', async () => {
      // Not in operations/: codegen refuses an operation the schema does not validate.
      // Apollo Client 4 accepts application/graphql-response+json first; the service answers
      // a validation failure in that media type (HTTP 400), which the client parses into
      // CombinedGraphQLErrors. (With plain application/json, a non-2xx answer would be a
      // ServerError instead.)
      const rec = recordingFetch();
      const errors = await graphQLErrorsOf(makeClient({ fetch: rec.fetch }).query({
        query: gql`query { connectSessionz { id } }`,
      }));
      assert.equal(errors[0].extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
      assert.match(rec.calls[0].headers.get('accept'), /application\/graphql-response\+json/);
    });
  });

  describe('automatic persisted queries (PersistedQueryLink)', () => {
    /**
     * A query text no other test or earlier run sent, so its hash starts unknown: built
     * at run time, so it is not one of operations/'s typed documents.
     */
    function uniqueQuery(owner: string) {
      // Its types written out, as codegen types only operations/.
      type Result = { connectSessions: { totalCount: number, nodes: Array<{ id: number, originOwnerId: string }> } };
      return gql`query APQ($filter: ConnectSessionFilter) {
        connectSessions(organizationId: ${ORG}, projectId: "${PROJECT}", filter: $filter) {
          totalCount nodes { id originOwnerId }
        }
        ${owner.replace(/[^A-Za-z0-9_]/g, '_')}: __typename
      }` as TypedDocumentNode<Result, { filter?: ConnectSessionFilter | null }>;
    }

    for (const useGET of [false, true]) {
      test(`miss, register, hit ${useGET ? 'with useGETForHashedQueries (GET)' : 'over POST'}`, async () => {
        const owner = unique(useGET ? 'apq-get' : 'apq-post');
        const { id } = await createSession({ originOwnerId: owner, originOwnerName: 'APQ Co' });
        const query = uniqueQuery(owner);
        const rec = recordingFetch();
        const client = makeClient({
          fetch: rec.fetch,
          link: new PersistedQueryLink({ sha256, useGETForHashedQueries: useGET }),
        });
        const variables = { filter: { originOwnerId: owner } };
        const expected = { totalCount: 1, nodes: [{ __typename: 'ConnectSession', id, originOwnerId: owner }] };
        const hashedMethod = useGET ? 'GET' : 'POST';

        /** The operation as the request carried it: from the body (POST) or the URL (GET). */
        const sent = (call: { method: string, body: any, url: URL }) => {
          if (call.method === 'POST') return call.body;
          const p = call.url.searchParams;
          return {
            query: p.get('query') ?? undefined,
            extensions: p.has('extensions') ? JSON.parse(p.get('extensions')!) : undefined,
            variables: p.has('variables') ? JSON.parse(p.get('variables')!) : undefined,
          };
        };

        // 1. The first request sends only the hash and misses; the link retries with the
        //    query text (always POST), which registers it.
        const r1 = await client.query({ query, variables, fetchPolicy: 'network-only' });
        assert.ok(r1.data);
        assert.deepEqual(r1.data.connectSessions, { __typename: 'ConnectSessionConnection', ...expected });
        assert.equal(rec.calls.length, 2, `requests: ${rec.calls.map((c) => c.method).join(', ')}`);
        const [miss, register] = rec.calls;
        assert.equal(miss.method, hashedMethod);
        const missSent = sent(miss);
        assert.equal(missSent.query, undefined, 'the first request must not carry the query text');
        const hash = missSent.extensions.persistedQuery.sha256Hash;
        assert.deepEqual(missSent.extensions.persistedQuery, { version: 1, sha256Hash: hash });
        assert.deepEqual(missSent.variables, variables);
        assert.equal(miss.headers.get('authorization'), bearer(server!.key));
        assert.deepEqual(miss.response?.errors?.map((e: GraphQLFormattedError) => e.extensions?.code), ['PERSISTED_QUERY_NOT_FOUND'],
          `miss answered ${miss.status}: ${JSON.stringify(miss.response)}`);

        assert.equal(register.method, 'POST');
        assert.equal(typeof register.body.query, 'string');
        assert.equal(sha256(register.body.query), hash, 'the hash is SHA-256 of the query text sent');
        assert.deepEqual(register.body.extensions.persistedQuery, { version: 1, sha256Hash: hash });
        assert.equal(register.status, 200);
        assert.equal(register.response.errors, undefined);

        // 2. The same operation again: only the hash, and the service knows it.
        const r2 = await client.query({ query, variables, fetchPolicy: 'network-only' });
        assert.deepEqual(r2.data?.connectSessions, r1.data.connectSessions);
        assert.equal(rec.calls.length, 3);
        const hit = rec.calls[2];
        assert.equal(hit.method, hashedMethod);
        if (useGET) {
          assert.equal(hit.url.searchParams.has('query'), false, `GET carried the query: ${hit.url}`);
          assert.equal(hit.url.pathname, '/graphql');
        }
        assert.equal(sent(hit).query, undefined, 'a hit must not carry the query text');
        assert.deepEqual(sent(hit).extensions.persistedQuery, { version: 1, sha256Hash: hash });
        assert.equal(hit.status, 200);
        assert.equal(hit.response.errors, undefined, JSON.stringify(hit.response));

        // 3. A fresh client (no link state) hits at once: the service stored the hash.
        const rec2 = recordingFetch();
        const fresh = makeClient({
          fetch: rec2.fetch, link: new PersistedQueryLink({ sha256, useGETForHashedQueries: useGET }),
        });
        const r3 = await fresh.query({ query, variables });
        assert.deepEqual(r3.data?.connectSessions, r1.data.connectSessions);
        assert.equal(rec2.calls.length, 1);
        assert.equal(rec2.calls[0].method, hashedMethod);
        assert.equal(sent(rec2.calls[0]).query, undefined);
      });
    }
  });
});
