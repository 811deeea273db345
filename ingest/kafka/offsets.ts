// Which offsets may be committed. A message is done when nothing it can still change is held in memory:
// rejects and irrelevant events at once, events once the event time has moved past them by the state
// horizon (the engine has released, closed and paired everything that old, and the outputs were
// acknowledged before this is asked). A crash then replays from the first message still in state, so
// the rebuilt state is the same and no finding is lost (outputs are keyed: the replay duplicates nothing).
export class PartitionOffsets {
  private offs: number[] = [];
  private times: number[] = [];
  private head = 0;
  private committed: number | undefined;

  /** A processed message and its event time (-Infinity: nothing in state depends on it). */
  add(offset: number, eventTime: number): void {
    this.offs.push(offset);
    this.times.push(eventTime);
  }

  get pending(): number {
    return this.offs.length - this.head;
  }

  /** The next offset to commit for a state horizon `cutoff` (event time), or undefined when unchanged. */
  commitPoint(cutoff: number): number | undefined {
    let h = this.head;
    while (h < this.offs.length && this.times[h] < cutoff) h++;
    if (h === this.head) return undefined;
    const next = this.offs[h - 1] + 1;
    this.head = h;
    if (h > 4096 && h * 2 > this.offs.length) {
      this.offs = this.offs.slice(h);
      this.times = this.times.slice(h);
      this.head = 0;
    }
    if (this.committed !== undefined && next <= this.committed) return undefined;
    this.committed = next;
    return next;
  }
}

/** Per topic-partition trackers. */
export class OffsetBook {
  private readonly parts = new Map<string, { topic: string; partition: number; t: PartitionOffsets }>();

  /** The partition added to last: a batch adds all its messages to one. */
  private last: { topic: string; partition: number; t: PartitionOffsets } | undefined;

  add(topic: string, partition: number, offset: number, eventTime: number): void {
    let p = this.last;
    if (p === undefined || p.partition !== partition || p.topic !== topic) {
      const k = `${topic}/${partition}`;
      p = this.parts.get(k);
      if (!p) this.parts.set(k, (p = { topic, partition, t: new PartitionOffsets() }));
      this.last = p;
    }
    p.t.add(offset, eventTime);
  }

  pending(): number {
    let n = 0;
    for (const p of this.parts.values()) n += p.t.pending;
    return n;
  }

  /** Commits due for the cutoff; Infinity commits everything processed. */
  due(cutoff: number): { topic: string; partition: number; offset: string }[] {
    const out: { topic: string; partition: number; offset: string }[] = [];
    for (const p of this.parts.values()) {
      const o = p.t.commitPoint(cutoff);
      if (o !== undefined) out.push({ topic: p.topic, partition: p.partition, offset: String(o) });
    }
    return out;
  }

  /** A partition revoked in a rebalance: its new owner starts from the last commit. */
  forget(topic: string, partition: number): void {
    this.parts.delete(`${topic}/${partition}`);
    this.last = undefined;
  }
}
