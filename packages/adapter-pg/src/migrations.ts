/**
 * The adapter's schema, as versioned migrations. Each one runs once, in
 * order, inside the transaction that records its version in
 * `<schema>.migrations`. Never edit a released migration: add the next.
 *
 * `s` is the quoted schema name.
 */
export interface Migration {
  version: number;
  name: string;
  sql: (s: string) => string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'import records',
    sql: (s) => `
      CREATE TABLE ${s}.imports (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        id text PRIMARY KEY,
        tenant text NOT NULL,
        entity text NOT NULL,
        format text NOT NULL,
        state text NOT NULL,
        file_name text,
        submitted_by text,
        idempotency_key text,
        file_key text NOT NULL,
        byte_size bigint NOT NULL,
        checksum text NOT NULL,
        options jsonb NOT NULL,
        detected jsonb NOT NULL,
        counts jsonb NOT NULL,
        progress jsonb NOT NULL,
        failure jsonb,
        attempts integer NOT NULL,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz
      );
      CREATE UNIQUE INDEX imports_idempotency
        ON ${s}.imports (tenant, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      CREATE INDEX imports_tenant_newest
        ON ${s}.imports (tenant, created_at DESC, seq DESC);
      CREATE INDEX imports_state_newest
        ON ${s}.imports (state, created_at DESC, seq DESC);
      CREATE INDEX imports_finished
        ON ${s}.imports (finished_at)
        WHERE state IN ('completed', 'failed', 'cancelled');
    `,
  },
  {
    version: 2,
    name: 'error log',
    sql: (s) => `
      CREATE TABLE ${s}.import_errors (
        import_id text NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        severity text NOT NULL CHECK (severity IN ('error', 'warning')),
        record_number bigint NOT NULL,
        line bigint,
        end_line bigint,
        path text,
        column_name text,
        code text NOT NULL,
        message text NOT NULL,
        raw_value text,
        -- Tells a raw value that was null from one that was not given.
        raw_value_given boolean NOT NULL,
        entity text,
        PRIMARY KEY (import_id, seq)
      );
    `,
  },
  {
    version: 3,
    name: 'file store',
    sql: (s) => `
      CREATE TABLE ${s}.files (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key text NOT NULL,
        complete boolean NOT NULL DEFAULT false,
        size bigint,
        checksum text,
        chunks integer,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX files_complete_key
        ON ${s}.files (key) WHERE complete;
      CREATE TABLE ${s}.file_chunks (
        file_id bigint NOT NULL
          REFERENCES ${s}.files (id) ON DELETE CASCADE,
        chunk integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (file_id, chunk)
      );
    `,
  },
  {
    version: 4,
    name: 'reverted imports end too',
    // State is free text (no constraint to widen); only the partial index
    // of ended imports, which the file retention sweep reads, learns the
    // new final state.
    sql: (s) => `
      DROP INDEX ${s}.imports_finished;
      CREATE INDEX imports_finished
        ON ${s}.imports (finished_at)
        WHERE state IN ('completed', 'failed', 'cancelled', 'reverted');
    `,
  },
  {
    version: 5,
    name: 'file chunks compressed with lz4',
    // PostgreSQL compresses each 1 MiB chunk as it is stored; its default,
    // pglz, runs at some 30-60 MB/s, which made uploads several times
    // slower than the network. lz4 is about as small on ERP exports and
    // an order of magnitude faster. A server built without lz4 keeps
    // pglz. Applies to chunks written from now on.
    sql: (s) => `
      DO $$
      BEGIN
        IF EXISTS (
          SELECT 1 FROM pg_settings
          WHERE name = 'default_toast_compression'
            AND 'lz4' = ANY (enumvals)
        ) THEN
          ALTER TABLE ${s}.file_chunks
            ALTER COLUMN data SET COMPRESSION lz4;
        END IF;
      END
      $$;
    `,
  },
];
