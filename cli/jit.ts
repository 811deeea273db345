// When V8 optimizes hunt's and normalize's code: later than its default, for runs that meet many input shapes.
import { setFlagsFromString } from 'node:v8';

/** Bytecode run between two of V8's looks at whether a function is hot (its default: 67 584). */
export const INTERRUPT_BUDGET = 400_000;

/**
 * By default TurboFan optimizes a function before it has met most of the record and event shapes of a
 * hunt (formats, channels, event IDs); each new shape deoptimizes it and it is compiled again, in every
 * worker. Over ../shared with 2 threads: 537 TurboFan compiles and 221 deoptimizations, the compiler
 * threads about 30% of the process's CPU; with this budget, 235 compiles and 85 deoptimizations. V8 flags
 * are the process's: this runs before the workers start. A budget given to node itself is left alone.
 * normalize over ../shared: CPU -9% on one thread, -12% with --threads 2 (dump gains nothing: one shape).
 */
export function optimizeLater(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => a.startsWith('--interrupt-budget') || a.startsWith('--interrupt_budget'))) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return true;
}
