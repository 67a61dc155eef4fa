/** A tiny structured logger: one JSON line per record on stderr. Level from WEIR_LOG_LEVEL. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function parseLogLevel(value: string | undefined): LogLevel {
  const v = (value ?? "").toLowerCase();
  return v in ORDER ? (v as LogLevel) : "info";
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (default: process.stderr). */
  write?: (line: string) => void;
  fields?: LogFields;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLogLevel(process.env.WEIR_LOG_LEVEL);
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.fields ?? {};
  const min = ORDER[level];
  const record = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < min) return;
    write(
      `${safeStringify({ t: new Date().toISOString(), level: lvl, msg, ...base, ...fields })}\n`,
    );
  };
  return {
    debug: (msg, fields) => record("debug", msg, fields),
    info: (msg, fields) => record("info", msg, fields),
    warn: (msg, fields) => record("warn", msg, fields),
    error: (msg, fields) => record("error", msg, fields),
    child: (fields) => createLogger({ level, write, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (library use, tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

/** Errors as { name, message, code, stack }; never throws on cycles. */
export function errorFields(err: unknown): LogFields {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { error: { name: err.name, message: err.message, code, stack: err.stack } };
  }
  return { error: String(err) };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify({ msg: "unserialisable log record" });
  }
}

/**
 * A NATS URL or comma-separated list without its user info (`user:password@`, `token@`), so
 * credentials never reach a log line or the console.
 */
export function withoutCredentials(urls: string): string {
  return urls.replace(/(^|,|\/\/)[^/@,]*@/g, "$1***@");
}
