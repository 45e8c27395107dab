/**
 * A client checked out of a pool, with its connection's end heard.
 *
 * pg emits `error` on a client whose connection ends unexpectedly (the
 * server restarted, an administrator ended the backend), whether a query
 * was running or not, and pg-pool listens only while the client waits
 * in the pool. Unheard, that event ends the process: one broken
 * connection would take the worker down, and every other import with
 * it. Nothing is hidden by listening: the query in flight fails with
 * the same error, and any later one with pg's "not queryable".
 */
export async function connectHeard<Client extends object>(pool: {
  connect(): Promise<Client>;
}): Promise<Client> {
  const client = await pool.connect();
  const events = client as {
    on?: (event: 'error', listener: () => void) => unknown;
  };
  if (typeof events.on === 'function' && !heard.has(client)) {
    heard.add(client);
    events.on('error', () => undefined);
  }
  return client;
}

// A pooled client is checked out many times; one listener is enough.
const heard = new WeakSet<object>();
