// Test-only: writes BinXML token streams into a chunk-sized buffer, so unit tests can build the exact
// structures (every token, inline names, templates, substitutions, nested BinXML) they need to check.

export class BinXmlWriter {
  readonly buf = Buffer.alloc(0x10000);
  pos = 512;

  u8(v: number): this { this.buf[this.pos++] = v; return this; }
  u16(v: number): this { this.buf.writeUInt16LE(v, this.pos); this.pos += 2; return this; }
  u32(v: number): this { this.buf.writeUInt32LE(v >>> 0, this.pos); this.pos += 4; return this; }
  bytes(b: Buffer | number[]): this { Buffer.from(b).copy(this.buf, this.pos); this.pos += b.length; return this; }
  utf16(s: string): this { return this.bytes(Buffer.from(s, 'utf16le')); }

  /** A name reference followed by the name stored inline (offset == position after the reference). */
  name(s: string): this {
    this.u32(this.pos + 4);
    return this.u32(0).u16(0).u16(s.length).utf16(s).u16(0);
  }

  fragmentHeader(): this { return this.u8(0x0f).u8(1).u8(1).u8(0); }
  open(name: string, opts: { attrs?: boolean; dep?: boolean } = {}): this {
    this.u8(opts.attrs ? 0x41 : 0x01);
    if (opts.dep) this.u16(0xffff);
    this.u32(0).name(name);
    if (opts.attrs) this.u32(0);
    return this;
  }
  attr(name: string, more = false): this { return this.u8(more ? 0x46 : 0x06).name(name); }
  closeStart(): this { return this.u8(0x02); }
  closeEmpty(): this { return this.u8(0x03); }
  end(): this { return this.u8(0x04); }
  text(s: string): this { return this.u8(0x05).u8(0x01).u16(s.length).utf16(s); }
  cdata(s: string): this { return this.u8(0x07).u16(s.length).utf16(s); }
  charRef(code: number): this { return this.u8(0x08).u16(code); }
  entityRef(name: string): this { return this.u8(0x09).name(name); }
  pi(target: string, data: string): this { this.u8(0x0a).name(target); return this.u8(0x0b).u16(data.length).utf16(data); }
  sub(index: number, type: number, optional = false): this { return this.u8(optional ? 0x0e : 0x0d).u16(index).u8(type); }
  eof(): this { return this.u8(0x00); }

  /** A template instance with its definition inline; `body` writes the template's elements. */
  templateInstance(body: (w: this) => void, values: { type: number; data: Buffer }[]): this {
    this.u8(0x0c).u8(1).u32(0x1234);
    const defOff = this.pos + 4;
    this.u32(defOff);
    this.u32(0).bytes(Buffer.alloc(16, 0xab));
    const sizeAt = this.pos;
    this.u32(0);
    const start = this.pos;
    this.fragmentHeader();
    body(this);
    this.eof();
    this.buf.writeUInt32LE(this.pos - start, sizeAt);
    return this.values(values);
  }

  /**
   * `<Event><System>` opened and filled as Windows templates do: each field holds the substitution of its
   * index in `fields` (Provider, TimeCreated and Security as their attribute, the others as text). The
   * caller writes what follows System (EventData, UserData) and closes Event.
   */
  system(fields: ReadonlyArray<readonly [name: string, type: number, optional?: boolean]>): this {
    const ATTR: Record<string, string> = { Provider: 'Name', TimeCreated: 'SystemTime', Security: 'UserID' };
    this.open('Event', { dep: true }).closeStart().open('System', { dep: true }).closeStart();
    fields.forEach(([name, type, optional = false], i) => {
      const attr = ATTR[name];
      if (attr !== undefined) this.open(name, { attrs: true, dep: true }).attr(attr).sub(i, type, optional).closeEmpty();
      else this.open(name, { dep: true }).closeStart().sub(i, type, optional).end();
    });
    return this.end();
  }

  /** A template instance that refers to a definition written earlier at `defOff`. */
  templateRef(defOff: number, values: { type: number; data: Buffer }[]): this {
    this.u8(0x0c).u8(1).u32(0x1234).u32(defOff);
    return this.values(values);
  }

  values(values: { type: number; data: Buffer }[]): this {
    this.u32(values.length);
    for (const v of values) this.u16(v.data.length).u8(v.type).u8(0);
    for (const v of values) this.bytes(v.data);
    return this;
  }
}

export const str = (s: string) => ({ type: 0x01, data: Buffer.from(s, 'utf16le') });
export const u8v = (n: number) => ({ type: 0x04, data: Buffer.from([n]) });
export const u16v = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return { type: 0x06, data: b }; };
export const u32v = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return { type: 0x08, data: b }; };
export const u64v = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return { type: 0x0a, data: b }; };
export const hex64v = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return { type: 0x15, data: b }; };
export const filetimeV = (ticks: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(ticks); return { type: 0x11, data: b }; };
export const nullv = () => ({ type: 0x00, data: Buffer.alloc(0) });
