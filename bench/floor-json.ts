// The JSON half of bench/hunt's floor: each record of the JSON inputs (plain, gzip, zip, tar) read as hunt
// reads it (openEntries, splitJson), then only JSON.parse'd and JSON.stringify'd back into a buffer that is
// reused: no adapting, normalizing or detection, no output file. What any hunt of these inputs must spend
// at least. Prints the records and bytes written, so that a run that read nothing is seen.
// Usage: node dist/bench/floor-json.js <json inputs...>
import { openEntries } from '../ingest/json/archive.js';
import { splitJson } from '../ingest/json/split.js';

async function main(files: string[]): Promise<void> {
  let records = 0;
  let bytes = 0;
  let buf = Buffer.allocUnsafe(1 << 20);
  for (const f of files) {
    for await (const e of openEntries(f)) {
      if ('error' in e) throw new Error(`${f}: ${e.error}`);
      for await (const p of splitJson(e.chunks)) {
        const line = JSON.stringify(JSON.parse(p.text));
        if (3 * line.length > buf.length) buf = Buffer.allocUnsafe(3 * line.length);
        bytes += buf.write(line, 0, 'utf8') + 1;
        records++;
      }
    }
  }
  console.log(`${records} record(s), ${bytes} bytes`);
}

await main(process.argv.slice(2));
