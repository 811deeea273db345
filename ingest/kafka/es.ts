// The Elasticsearch output of `hoptrail stream`: events, sessions and findings through the hoptrail ES
// sink (idempotent document IDs: a replay adds no document). flush() resolves when all is indexed, so the
// runner commits offsets only after Elasticsearch has what the messages produced. A retracted finding
// (superseded on the alerts topic) is deleted by its ID once the indexing before it is done.
import { HoptrailEsSink } from '../../sinks/elasticsearch/hoptrail.js';
import { connect, type EsConnection } from '../../sinks/elasticsearch/index.js';
import type { IndexPeriod } from '../../sinks/elasticsearch/templates.js';
import type { AlertRecord } from '../../detectors/live.js';
import type { NormalizedEvent } from '../../schemas/event.js';
import type { StreamSink } from './runner.js';

export class EsStreamSink implements StreamSink {
  private retracted: string[] = [];

  private constructor(private readonly sink: HoptrailEsSink, private readonly conn: EsConnection) {}

  static async open(url: string, prefix?: string, indexPeriod?: IndexPeriod): Promise<{ sink: EsStreamSink; description: string }> {
    const sink = new HoptrailEsSink({ connection: { url }, ...(prefix ? { prefix } : {}), indexPeriod });
    const info = await sink.open();
    const conn = await connect({ url });
    return { sink: new EsStreamSink(sink, conn), description: info.description };
  }

  async write(events: readonly NormalizedEvent[], alerts: readonly AlertRecord[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const e of events) pending.push(this.sink.event(e));
    for (const a of alerts) {
      if (a.kind === 'session') pending.push(this.sink.session(a.value));
      else if (a.kind === 'finding') pending.push(this.sink.finding(a.value));
      else this.retracted.push(a.key);
    }
    await Promise.all(pending);
  }

  async flush(): Promise<void> {
    await this.sink.flush();
    if (this.retracted.length === 0) return;
    const ids = this.retracted;
    this.retracted = [];
    const pattern = this.sink.patterns().findings;
    const indices = Object.keys(await this.conn.client.indices.get({ index: pattern, expand_wildcards: 'all', ignore_unavailable: true }));
    for (const index of indices) {
      for (const id of ids) await this.conn.client.delete({ index, id }, { ignore: [404] });
    }
  }

  async close(): Promise<void> {
    await this.sink.close();
    await this.conn.client.close();
  }
}
