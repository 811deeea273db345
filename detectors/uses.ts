// Which normalized events the detectors use at all: those the session engine takes (isRelevant) and those
// an observer of the findings collector acts on. Whoever moves events between threads or processes
// (hunt's workers, the stream's internal topic) sends these and may drop the rest: nothing else reads them.
import type { NormalizedEvent } from '../schemas/event.js';
import { isRelevant } from './engine.js';
import { FindingsCollector } from './findings/collector.js';

export function detectorsUse(e: NormalizedEvent): boolean {
  return isRelevant(e) || FindingsCollector.wants(e);
}
