import type { Logger } from '../src/index.js';

/** One line the engine logged: its message and its fields. */
export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

/**
 * A logger that keeps every line in `lines`, children included, for
 * tests that read what the engine said (how an import was loaded, its
 * timings).
 */
export function recordingLogger(lines: LoggedLine[] = []): {
  logger: Logger;
  lines: LoggedLine[];
} {
  const at =
    (level: LoggedLine['level']) =>
    (first: Record<string, unknown> | string, message?: string) => {
      lines.push(
        typeof first === 'string'
          ? { level, message: first, fields: {} }
          : { level, message: message ?? '', fields: first },
      );
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return { logger, lines };
}
