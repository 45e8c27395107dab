import type { PublicImportRecord } from '@erp-import/core/contract';

/**
 * What `erp-import` exits with, for scripts. The usage and input codes
 * follow BSD's sysexits.h, so a wrapper that knows them reads them right.
 */
export const ExitCodes = {
  /** Done; with --wait, completed with no rejected row. */
  OK: 0,
  /** The server refused: a bad token, unknown entity, no such import. */
  REFUSED: 1,
  /** Completed, and some rows were rejected (`erp-import errors ID`). */
  COMPLETED_WITH_REJECTS: 2,
  /** The import failed: nothing from the file was applied. */
  FAILED: 3,
  /** No answer: the server could not be reached, or stopped answering. */
  UNREACHABLE: 4,
  /** The import was cancelled. */
  CANCELLED: 5,
  /** The import was applied, then reverted: its changes are undone. */
  REVERTED: 6,
  /** A wrong command line: unknown option, missing --entity or URL. */
  USAGE: 64,
  /** The file to push cannot be read. */
  NO_INPUT: 66,
  /** `status`: the import is still queued or processing. */
  NOT_FINISHED: 75,
  /** Interrupted with Ctrl-C. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/** The exit code an import's state stands for. */
export function exitCodeOf(record: PublicImportRecord): ExitCode {
  switch (record.state) {
    case 'completed':
      return record.counts.rejected > 0
        ? ExitCodes.COMPLETED_WITH_REJECTS
        : ExitCodes.OK;
    case 'failed':
      return ExitCodes.FAILED;
    case 'cancelled':
      return ExitCodes.CANCELLED;
    case 'reverted':
      return ExitCodes.REVERTED;
    case 'queued':
    case 'processing':
      return ExitCodes.NOT_FINISHED;
  }
}
