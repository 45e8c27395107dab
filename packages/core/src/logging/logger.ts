/**
 * The logger the host injects. It is the subset of pino's API the engine
 * calls, so a pino logger fits as is; the engine logs through children
 * scoped with the import id and never writes to the console itself.
 */
export interface LogFn {
  (message: string): void;
  (bindings: Record<string, unknown>, message?: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const ignore: LogFn = () => undefined;

/** The default: a logger that drops everything. */
export const silentLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  child: () => silentLogger,
};
