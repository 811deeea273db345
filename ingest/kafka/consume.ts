// Runs a consumer group member the way both stages do (manual commits; batches of several partitions of a
// fetch handed over concurrently, `concurrency`, each partition's in order; the caller serializes what
// must be) and keeps it
// running: kafkajs restarts a consumer only after retriable errors, and a broker outage can surface as a
// non-retriable one ("Failed to find group coordinator"), after which the member would stay stopped for good.
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Logger } from './log.js';

export async function runConsumer(c: Consumer, topic: string, eachBatch: (p: EachBatchPayload) => Promise<void>, log: Logger, stopping: () => boolean, label = '', concurrency = 1): Promise<void> {
  const config = { autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: concurrency, eachBatch };
  const restart = (): void => {
    setTimeout(() => {
      if (stopping()) return;
      // The crash disconnected it: connect again and run with the same subscription.
      c.connect().then(() => c.run(config)).then(
        () => log.info(`${label}consumer restarted`),
        (e: unknown) => { log.error(`${label}consumer restart failed: retrying`, { error: String(e) }); restart(); },
      );
    }, 1000).unref();
  };
  c.on(c.events.CRASH, (e) => {
    log.error(`${label}consumer crash`, { error: String(e.payload.error), restart: e.payload.restart });
    if (!e.payload.restart && !stopping()) restart();
  });
  await c.subscribe({ topic, fromBeginning: true });
  await c.run(config);
}
