// Stream counters: a periodic snapshot for the log (rates since the last one) and Prometheus text.
export class StreamMetrics {
  events = 0;
  rejects = 0;
  sessions = 0;
  findings = 0;
  retractions = 0;
  commits = 0;
  paused = 0;
  private readonly lag = new Map<string, number>();
  private last = { at: Date.now(), events: 0 };

  setLag(topic: string, partition: number, lag: number): void {
    this.lag.set(`${topic}/${partition}`, lag);
  }

  dropLag(topic: string, partition: number): void {
    this.lag.delete(`${topic}/${partition}`);
  }

  /** The figures since the previous snapshot. */
  snapshot(now = Date.now()): Record<string, unknown> {
    const secs = Math.max((now - this.last.at) / 1000, 0.001);
    const rate = (this.events - this.last.events) / secs;
    this.last = { at: now, events: this.events };
    return {
      events: this.events, events_per_s: Math.round(rate), rejects: this.rejects, sessions: this.sessions,
      findings: this.findings, retractions: this.retractions, commits: this.commits, paused: this.paused,
      lag: Object.fromEntries(this.lag),
    };
  }

  prometheus(): string {
    const lines = [
      '# TYPE hoptrail_stream_events_total counter', `hoptrail_stream_events_total ${this.events}`,
      '# TYPE hoptrail_stream_rejects_total counter', `hoptrail_stream_rejects_total ${this.rejects}`,
      '# TYPE hoptrail_stream_sessions_total counter', `hoptrail_stream_sessions_total ${this.sessions}`,
      '# TYPE hoptrail_stream_findings_total counter', `hoptrail_stream_findings_total ${this.findings}`,
      '# TYPE hoptrail_stream_commits_total counter', `hoptrail_stream_commits_total ${this.commits}`,
      '# TYPE hoptrail_stream_partitions_paused gauge', `hoptrail_stream_partitions_paused ${this.paused}`,
      '# TYPE hoptrail_stream_lag gauge',
    ];
    for (const [k, v] of this.lag) {
      const i = k.lastIndexOf('/');
      lines.push(`hoptrail_stream_lag{topic=${JSON.stringify(k.slice(0, i))},partition="${k.slice(i + 1)}"} ${v}`);
    }
    return lines.join('\n') + '\n';
  }
}
