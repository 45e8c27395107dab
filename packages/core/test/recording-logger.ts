import type { Logger } from '../src/index.js';

/** One line the engine logged: its message and its fields. */
export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
  /** The bindings of the children it was logged through, merged. */
  scope: Record<string, unknown>;
  /** Keys bound more than once along those children (pino repeats them). */
  rebound: string[];
}

/**
 * A logger that keeps every line in `lines`, children included, for
 * tests that read what the engine said (how an import was loaded, its
 * timings) and how its lines were scoped.
 */
export function recordingLogger(lines: LoggedLine[] = []): {
  logger: Logger;
  lines: LoggedLine[];
} {
  const scoped = (
    scope: Record<string, unknown>,
    rebound: string[],
  ): Logger => {
    const at =
      (level: LoggedLine['level']) =>
      (first: Record<string, unknown> | string, message?: string) => {
        const said =
          typeof first === 'string'
            ? { message: first, fields: {} }
            : { message: message ?? '', fields: first };
        lines.push({ level, ...said, scope, rebound });
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (bindings) =>
        scoped({ ...scope, ...bindings }, [
          ...rebound,
          ...Object.keys(bindings).filter((key) => key in scope),
        ]),
    };
  };
  const logger = scoped({}, []);
  return { logger, lines };
}
