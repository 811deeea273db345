// Structured logs: one JSON object per line on stderr (level, time, the fields, msg), written by pino.
// Written synchronously: a line logged just before a crash or a kill is on stderr, and the stream's hot
// path logs only on rare events and the metrics line, so a blocking write costs nothing that matters.
import { pino } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(min: Level = 'info', write?: (line: string) => void): Logger {
  const out = write ? { write } : pino.destination({ dest: 2, sync: true });
  // Levels by name and ISO times, no pid or host name: the lines the stream wrote before pino.
  const p = pino({ level: min, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, out);
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
  };
}
