// Which events no detector can use, from their channel and ID alone: the stream neither flattens their
// data nor builds their event when no sink takes every event (ingest/kafka/batch.ts).
import { detectorsUse } from '../../detectors/uses.js';
import { EXTRACTED_KEYS, identityOnly } from '../normalize/extract.js';
import { Normalizer } from '../normalize/index.js';

/** A record with every field the extractors read, to probe what the detectors could take from an ID. */
const PROBES: readonly Record<string, string>[] = ['5985', '10.0.0.1', 'C:\\Windows\\System32\\svchost.exe -k x', 'NT AUTHORITY\\NETWORK SERVICE', 'true', '%%14592', '3']
  .map((v) => Object.fromEntries(EXTRACTED_KEYS.map((k) => [k, v])));
const probeNormalizer = new Normalizer({ ingested: '2000-01-01T00:00:00.000Z' });
const unusedIds = new Map<string, Map<number, boolean>>();

/**
 * Whether no event of this channel (canonical) and ID can be one the detectors use, whatever its data:
 * its extraction gives only who and what logged it (identityOnly: no ports, command lines, PowerShell
 * fields, which is what the detectors look for beyond IDs), and the detectors take no event of that
 * channel and ID made from data that fills every field the extractors read. 85% of bench/stream's sd2
 * messages (Sysmon 7, 10, 12, 13; Security 4656, 4658, 4663, 4674, 4690...).
 */
export function neverUsed(channel: string, id: number): boolean {
  let ids = unusedIds.get(channel);
  if (ids === undefined) {
    if (unusedIds.size >= 64) return false;
    unusedIds.set(channel, (ids = new Map()));
  }
  let v = ids.get(id);
  if (v === undefined) {
    v = identityOnly(channel, id) && PROBES.every((data) => {
      const r = probeNormalizer.normalize({
        timestamp: '2020-01-01T00:00:00.000Z', channel, provider: channel === 'Security' ? 'Microsoft-Windows-Security-Auditing' : 'Microsoft-Windows-Sysmon',
        computer: 'host.example', event_id: id, event_data: data, event_data_kind: 'EventData', keywords: '0x8020000000000000', user_sid: 'S-1-5-18',
      }, { format: 'export-winevents' });
      return r.ok && !detectorsUse(r.event);
    });
    if (ids.size < 4096) ids.set(id, v);
  }
  return v;
}
