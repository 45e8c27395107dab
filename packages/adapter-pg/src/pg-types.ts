import { connectHeard } from '@erp-import/core';

/**
 * The few members of `pg` the adapter calls, typed structurally so that a
 * host's own copy of `pg` (a `pg.Pool`) fits without tying the adapter to
 * one version of its types.
 */
export interface PgResult {
  rows: unknown[];
  rowCount: number | null;
}

export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<PgResult>;
}

/** What `client.query(submittable)` accepts: a COPY stream, a cursor. */
export interface PgSubmittable {
  submit(connection: unknown): void;
}

export interface PgPoolClient extends PgQueryable {
  /** How pg runs a submittable query, such as a pg-copy-streams COPY. */
  query<T extends PgSubmittable>(submittable: T): T;
  query(text: string, values?: unknown[]): Promise<PgResult>;
  release(error?: Error | boolean): void;
}

export interface PgPool extends PgQueryable {
  connect(): Promise<PgPoolClient>;
}

/** Runs `work` in one transaction on a client of its own. */
export async function inTransaction<T>(
  pool: PgPool,
  work: (client: PgPoolClient) => Promise<T>,
): Promise<T> {
  const client = await connectHeard(pool);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    // A client whose ROLLBACK fails is broken: hand it back for disposal.
    await client.query('ROLLBACK').then(
      () => client.release(),
      (rollbackError: unknown) =>
        client.release(rollbackError instanceof Error ? rollbackError : true),
    );
    throw error;
  }
}
