import { DateTime } from 'luxon';
import type { ExportItem, ExportManifest } from './layout.js';

/**
 * The human-readable parts of an export copy: payload file names, bag-info.txt, the
 * HTML index and the printable disc label. Pure functions of the export manifest.
 */

/** Characters that are unsafe in a file name on some system an archive may be read on, or in a manifest line. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must go
const UNSAFE = /[\u0000-\u001f\u007f/\\:*?"<>|%]/g;

export function safeName(s: string, max = 120): string {
  const t = s.replace(UNSAFE, '_').replace(/^[.\s]+/, '_').trim();
  // Truncate by code points, keeping the extension.
  const chars = [...t];
  if (chars.length <= max) return t || '_';
  const dot = t.lastIndexOf('.');
  const ext = dot > 0 && t.length - dot <= 10 ? t.slice(dot) : '';
  return [...t.slice(0, t.length - ext.length)].slice(0, max - [...ext].length).join('') + ext;
}

/**
 * Longest payload file name: Joliet (the ISO's Windows names) keeps 103 UTF-16 units with
 * -joliet-long, and Linux file systems 255 bytes (a Chinese character is 3 bytes).
 */
const MAX_NAME_CHARS = 100;
const MAX_NAME_BYTES = 240;

/** `data/<officer>_<recorder>_<yyyyMMdd-HHmmss local>_<original name>`; unique within the export. */
export function payloadName(i: { officer: string | null; recorder: string; recordedStart: string; sourceName: string; evidenceId: string }, zone: string, taken: Set<string>): string {
  const at = DateTime.fromISO(i.recordedStart, { zone: 'utc' }).setZone(zone);
  const stamp = at.isValid ? at.toFormat('yyyyMMdd-HHmmss') : 'unknown-time';
  const make = (prefix: string): string => {
    let room = Math.max(12, MAX_NAME_CHARS - [...prefix].length);
    let base = prefix + safeName(i.sourceName, room);
    while ((Buffer.byteLength(base) > MAX_NAME_BYTES || [...base].length > MAX_NAME_CHARS) && room > 12) {
      room--;
      base = prefix + safeName(i.sourceName, room);
    }
    return `data/${base}`;
  };
  const prefix = `${safeName(i.officer ?? 'unknown-officer', 24)}_${safeName(i.recorder, 24)}_${stamp}_`;
  let name = make(prefix);
  if (taken.has(name.toLowerCase())) name = make(`${safeName(i.evidenceId, 36)}_${prefix}`);
  taken.add(name.toLowerCase());
  return name;
}

/** bag-info.txt values are one line each. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

export function bagInfo(m: ExportManifest, opts: { baggingDate: string; payloadBytes: number; payloadFiles: number }): string {
  const fields: Array<[string, string]> = [
    ['Source-Organization', m.organization],
    ['Contact-Name', m.maker],
    ['Bagging-Date', opts.baggingDate],
    ['External-Identifier', m.case.number],
    ['External-Description', m.case.name],
    ['Bag-Group-Identifier', m.exportId],
    ['Bag-Count', `${m.copy} of ${m.copies}`],
    ['Payload-Oxum', `${opts.payloadBytes}.${opts.payloadFiles}`],
    ['Bag-Software-Agent', 'custody (docs/archive.md)'],
  ];
  return fields.map(([k, v]) => `${k}: ${oneLine(v)}\n`).join('');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function localTime(iso: string, zone: string): string {
  const t = DateTime.fromISO(iso, { zone: 'utc' }).setZone(zone);
  return t.isValid ? t.toFormat('yyyy-MM-dd HH:mm:ss ZZ') : iso;
}

export function indexHtml(m: ExportManifest, zone: string): string {
  const e = escapeHtml;
  const rows = m.items
    .map(
      (i: ExportItem) =>
        `<tr><td><a href="${e(encodeURI(i.path))}">${e(i.path.slice('data/'.length))}</a></td><td>${e(i.mediaType)}</td><td>${e(i.officer ?? '')}</td><td>${e(i.recorder)}</td>` +
        `<td>${e(localTime(i.recordedStart, zone))}</td><td>${e(i.sourceName)}</td><td class="n">${i.size}</td><td><code>${e(i.sha256)}</code></td><td class="n">${i.ingestSeq}</td></tr>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${e(m.case.number)} ${e(m.case.name)} — copy ${m.copy} of ${m.copies}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em;font-size:90%}td.n{text-align:right}code{font-size:85%}</style></head>
<body>
<h1>${e(m.case.name)} (${e(m.case.number)})</h1>
<p>Making unit: ${e(m.organization)} · Maker: ${e(m.maker)} · Made: ${e(localTime(m.createdAt, zone))} · Copy ${m.copy} of ${m.copies} · Export ${e(m.exportId)}</p>
<p>${m.items.length} items. Each is listed with its SHA-256; manifest-sha256.txt and manifest-sha512.txt hold every checksum, custody/ledger.jsonl the ledger entries that recorded them.
Check this copy with <code>custody verify-export &lt;this folder&gt;</code> or any BagIt validator.</p>
<table><thead><tr><th>file</th><th>kind</th><th>officer</th><th>recorder</th><th>recorded</th><th>original name</th><th>bytes</th><th>SHA-256</th><th>ledger seq</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}

export function labelHtml(m: ExportManifest, zone: string): string {
  const e = escapeHtml;
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Disc label ${e(m.case.number)} copy ${m.copy} of ${m.copies}</title>
<style>@page{size:A4;margin:15mm}body{font-family:sans-serif}.disc{width:116mm;height:116mm;border:1px dashed #888;border-radius:50%;display:flex;flex-direction:column;align-items:center;justify-content:center;text-align:center;padding:8mm;box-sizing:border-box}
.disc h1{font-size:13pt;margin:0 0 2mm}.disc p{font-size:9pt;margin:.6mm 0}</style></head>
<body><div class="disc">
<h1>${e(m.case.name)}</h1>
<p>案号 Case No.: <b>${e(m.case.number)}</b></p>
<p>制作单位 Making unit: ${e(m.organization)}</p>
<p>制作人 Maker: ${e(m.maker)}</p>
<p>制作时间 Made: ${e(localTime(m.createdAt, zone))}</p>
<p>第 ${m.copy} 份，共 ${m.copies} 份 · Copy ${m.copy} of ${m.copies}</p>
<p>Export ${e(m.exportId)}</p>
<p>${m.items.length} items</p>
</div></body></html>
`;
}

/** README.txt: what the copy is and how to check it without custody's database, in Chinese and English. */
export function readmeText(m: ExportManifest, zone: string): string {
  return [
    `${m.case.name} (${m.case.number})`,
    `制作单位 Making unit: ${m.organization}    制作人 Maker: ${m.maker}`,
    `制作时间 Made: ${localTime(m.createdAt, zone)}    第 ${m.copy} 份，共 ${m.copies} 份 / copy ${m.copy} of ${m.copies}    Export ${m.exportId}`,
    '',
    '本盘为执法音视频记录的长期保存副本（BagIt 1.0 格式，RFC 8493）。data/ 目录为原始文件；',
    'manifest-sha256.txt / manifest-sha512.txt 为每个文件的校验值；index.html 为文件清单。',
    '',
    'This is an archival copy of enforcement recordings as a BagIt 1.0 bag (RFC 8493).',
    'data/ holds the files exactly as recorded; manifest-sha256.txt and manifest-sha512.txt',
    'hold their checksums; tagmanifest-sha256.txt the checksums of every other file here;',
    'index.html lists every item; label.html is the printable disc label.',
    '',
    'To check this copy (no database, no network needed):',
    '  custody verify-export <this folder> [--key <station verifier key held elsewhere>]',
    'or any BagIt validator (e.g. bagit.py --validate <folder>) for the files alone, or by hand:',
    '  sha256sum -c manifest-sha256.txt && sha256sum -c tagmanifest-sha256.txt',
    '',
    'custody/ledger.jsonl holds the ledger entries of these items and of the case, one RFC 8785',
    'JSON line each, exactly as hashed (hash = SHA-256 of the entry without "hash");',
    'custody/checkpoint.txt is the station\'s signed checkpoint (C2SP signed note) and',
    'custody/proofs.json the RFC 9162 inclusion proof of every entry against it.',
    'The formats are described in custody\'s docs/ledger.md, docs/proofs.md and docs/archive.md.',
    '',
  ].join('\n');
}
