// Shared by the client tests: which server to talk to, a plain fetch helper, a fetch
// wrapper that records what a client sent, and names that keep tests apart.
//
// bash e2e/run.sh sets the environment:
//   CS_REDIS_URL, CS_KEY      a server on the real Redis (when run.sh had REDIS_URL) and a
//                             write key for organization 1, every project
//   CS_READ_KEY               a read key for organization 1
//   CS_ORG2_KEY               a write key for organization 2
//   CS_URL, CS_DEV_KEY        the embedded-mode server and its development key (write,
//                             organization 1); the fallback when CS_REDIS_URL is unset
// With CI set (as .ci/run does), CS_REDIS_URL is required: importing this module throws
// without it, so a CI run without Redis fails instead of skipping every client test.
import { createHash, randomBytes } from 'node:crypto';

const env = process.env;
const inCI = Boolean(env.CI) && !['false', '0'].includes(env.CI.toLowerCase());
if (inCI && !env.CS_REDIS_URL) {
  throw new Error('CI is set but CS_REDIS_URL is not: the client tests need the Redis-backed '
    + 'server that bash e2e/run.sh starts when REDIS_URL is set');
}

/**
 * The server the client tests use: the Redis-backed one when run.sh started it, else the
 * embedded-mode one. null when neither is set (tests then skip).
 * @type {{ mode: 'redis' | 'embedded', url: string, key: string, readKey?: string, org2Key?: string } | null}
 */
export const server = env.CS_REDIS_URL
  ? {
    mode: 'redis', url: env.CS_REDIS_URL, key: env.CS_KEY,
    readKey: env.CS_READ_KEY, org2Key: env.CS_ORG2_KEY,
  }
  : env.CS_URL
    ? { mode: 'embedded', url: env.CS_URL, key: env.CS_DEV_KEY }
    : null;

if (server && !server.key) throw new Error(`no API key for the ${server.mode} server in the environment`);

/** The GraphQL endpoint over HTTP and over WebSocket. */
export const httpURL = server ? `${server.url}/graphql` : undefined;
export const wsURL = server ? httpURL.replace(/^http/, 'ws') : undefined;

/** Skip reason for tests that need any server, false when one is set. */
export const needServer = server ? false : 'no server: run bash e2e/run.sh (CS_REDIS_URL or CS_URL unset)';

/**
 * Skip reason for tests that need the Redis-backed server and its extra keys (read-only,
 * organization 2), false when it is there.
 */
export const needRedis = server?.mode === 'redis'
  ? false
  : 'CS_REDIS_URL is not set: run REDIS_URL=redis://127.0.0.1:6379/0 bash e2e/run.sh';

/** The Authorization header value for key. */
export const bearer = (key) => `Bearer ${key}`;

const runId = randomBytes(4).toString('hex');
let counter = 0;

/** A name no other test (or earlier run) uses: filter lists on it to see only your sessions. */
export function unique(label) {
  counter += 1;
  return `e2e-${label}-${runId}-${process.pid}-${counter}`;
}

/** The organization every key but CS_ORG2_KEY belongs to. */
export const ORG = 1;

/** A project of our own: events and lists stay apart from the demo data and other tests. */
export const PROJECT = `e2e-${runId}`;

/** SHA-256 in hex, as Apollo's persisted queries hash the printed query. */
export const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/**
 * POSTs one GraphQL request with key (none when null) and returns the parsed body;
 * throws on a non-JSON answer. Tests use it to set up and check state outside the client
 * under test.
 */
export async function gql(query, variables = {}, { key = server?.key, url = httpURL } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers.Authorization = bearer(key);
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${res.status} from ${url}, not JSON: ${text.slice(0, 500)}`);
  }
}

/** Like gql, but throws unless the answer has data and no errors; returns data. */
export async function gqlData(query, variables = {}, opts = {}) {
  const body = await gql(query, variables, opts);
  if (body.errors?.length || !body.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(body.errors ?? body)}`);
  }
  return body.data;
}

/**
 * A fetch that records every request a client makes and the JSON it got back:
 * calls[i] = { method, url (URL), body (parsed JSON or null), headers (Headers), status,
 * response (parsed JSON or null) }.
 */
export function recordingFetch() {
  const calls = [];
  const recorded = async (input, init = {}) => {
    const req = new Request(input, init);
    const text = req.method === 'GET' ? '' : await req.clone().text();
    const call = {
      method: req.method,
      url: new URL(req.url),
      headers: req.headers,
      body: text ? JSON.parse(text) : null,
    };
    calls.push(call);
    const res = await fetch(req);
    call.status = res.status;
    try {
      call.response = JSON.parse(await res.clone().text());
    } catch {
      call.response = null;
    }
    return res;
  };
  return { fetch: recorded, calls };
}

const sessionFields = `id organizationId projectId originOwnerId originOwnerName originUsername
  provider categories accountId label metadata type multiple status createdAt expiresAt
  authenticatedAt updatedAt`;

/**
 * Creates a session over plain HTTP (not through the client under test) and returns
 * { id, token, session }. input is merged over a minimal valid one in ORG / PROJECT.
 */
export async function createSession(input = {}, { key = server?.key } = {}) {
  const data = await gqlData(
    `mutation($input: CreateConnectSessionInput!) {
      createConnectSession(input: $input) { token connectSession { ${sessionFields} } }
    }`,
    {
      input: {
        organizationId: ORG, projectId: PROJECT, originOwnerId: unique('owner'),
        originOwnerName: 'E2E Owner', ...input,
      },
    },
    { key },
  );
  const { token, connectSession } = data.createConnectSession;
  return { id: connectSession.id, token, session: connectSession };
}

/** Resolves after ms milliseconds. */
export const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
