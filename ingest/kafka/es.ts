// The Elasticsearch output of `hoptrail stream`: events, sessions and findings through the hoptrail ES
// sink (idempotent document IDs: a replay adds no document). flush() resolves when all is indexed, so the
// runner commits offsets only after Elasticsearch has what the messages produced.
import { HoptrailEsSink } from '../../sinks/elasticsearch/hoptrail.js';
import type { AlertRecord } from '../../detectors/live.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import type { StreamSink } from './runner.js';

export class EsStreamSink implements StreamSink {
  private constructor(private readonly sink: HoptrailEsSink) {}

  static async open(url: string): Promise<{ sink: EsStreamSink; description: string }> {
    const sink = new HoptrailEsSink({ connection: { url } });
    const info = await sink.open();
    return { sink: new EsStreamSink(sink), description: info.description };
  }

  async write(events: readonly NormalizedEvent[], alerts: readonly AlertRecord[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const e of events) pending.push(this.sink.event(e));
    for (const a of alerts) {
      if (a.kind === 'session') pending.push(this.sink.session(a.value));
      else if (a.kind === 'finding') pending.push(this.sink.finding(a.value));
      // A retraction stays on the alerts topic: the sink has no delete, the superseded document remains.
    }
    await Promise.all(pending);
  }

  async flush(): Promise<void> {
    await this.sink.flush();
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}
