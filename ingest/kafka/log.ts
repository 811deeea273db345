// Structured logs: one JSON object per line on stderr (level, time, msg, fields). Small on purpose: the
// stream's hot path logs only on rare events and the metrics line.
export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(min: Level = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const at = (level: Level) => (msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[level] < RANK[min]) return;
    write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }) + '\n');
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
