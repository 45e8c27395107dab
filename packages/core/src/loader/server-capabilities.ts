import type { PgClientLike } from './pg-client.js';

/**
 * What the server can do, detected once per client from its version
 * number (a capability read from the server, not a name check).
 */
export interface ServerCapabilities {
  /** `server_version_num`, such as 150020 or 180001. */
  serverVersionNum: number;
  /** PostgreSQL 17 added `MERGE ... RETURNING merge_action()`. */
  mergeReturning: boolean;
}

const detected = new WeakMap<object, Promise<ServerCapabilities>>();

export function detectServerCapabilities(
  client: PgClientLike,
): Promise<ServerCapabilities> {
  let capabilities = detected.get(client);
  if (capabilities === undefined) {
    capabilities = readCapabilities(client);
    detected.set(client, capabilities);
    // A failed probe (a dropped connection) must not be cached.
    capabilities.catch(() => detected.delete(client));
  }
  return capabilities;
}

async function readCapabilities(
  client: PgClientLike,
): Promise<ServerCapabilities> {
  const result = await client.query('SHOW server_version_num');
  const row = result.rows[0] as { server_version_num?: unknown } | undefined;
  const serverVersionNum = Number(row?.server_version_num);
  return {
    serverVersionNum,
    mergeReturning: serverVersionNum >= 170000,
  };
}
