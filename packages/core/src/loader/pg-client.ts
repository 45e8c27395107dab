/**
 * The members of a pg client the loader calls, typed structurally so core
 * does not tie a host to one copy of `pg`. A `pg.Client` or a checked-out
 * `pg.PoolClient` fits: the second overload is how pg runs a submittable
 * query such as pg-copy-streams' COPY stream.
 */
export interface PgQueryResultLike {
  rows: unknown[];
  rowCount: number | null;
}

/** What `client.query(submittable)` accepts: a COPY stream, a cursor. */
export interface PgSubmittableLike {
  submit(connection: unknown): void;
}

export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<PgQueryResultLike>;
  query<T extends PgSubmittableLike>(submittable: T): T;
}
