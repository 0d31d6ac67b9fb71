import { CsvError, parse, type Info } from 'csv-parse/sync';

export interface CsvRow {
  /** The 1-based line on which the row starts. */
  line: number;
  fields: string[];
  /** Why the row could not be read; its fields are then empty. */
  error?: string;
}

/** The line a row starts on: where it ends, less the line breaks inside it. */
function startLine(endLine: number, raw: string): number {
  // raw may begin with the blank lines (or lines of spaces) skipped before the row, and
  // end with its line break.
  const inner = raw.replace(/^(?:[ \t]*\n)+/u, '').replace(/\n$/u, '');
  return endLine - (inner.match(/\n/gu)?.length ?? 0);
}

function describe(e: CsvError): string {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is not closed';
    case 'INVALID_OPENING_QUOTE':
      return 'a quote inside an unquoted field';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'text after the closing quote of a field';
    default:
      return e.message;
  }
}

/**
 * The roster CSV (RFC 4180, read by csv-parse): fields separated by commas, optionally
 * quoted with " (a quote inside doubled), rows ended by LF or CRLF, either in one file
 * (a CRLF inside a quoted field reads as LF). A UTF-8 BOM is dropped; blank lines are
 * skipped. Every row comes back with the line it starts on; a row that cannot be read
 * comes back with its error, and reading goes on, so every bad line can be reported.
 */
export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  const errors: CsvRow[] = [];
  // With info and raw, each record comes with where it ends and its text (the types do not say so).
  const records = parse(text.replace(/\r\n/gu, '\n'), {
    bom: true,
    record_delimiter: '\n',
    relax_column_count: true,
    // Spaces around a field, and around the quotes of a quoted one, are not part of it.
    trim: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    raw: true,
    on_skip: (e: CsvError | undefined, raw: string | undefined) => {
      if (!e) return;
      const line = typeof e.lines === 'number' ? startLine(e.lines, raw ?? '') : 1;
      // csv-parse may report one bad row twice; the first reason is the one to give.
      if (!errors.some((r) => r.line === line)) errors.push({ line, fields: [], error: describe(e) });
    },
  }) as unknown as Array<{ record: string[]; info: Info; raw: string }>;
  for (const r of records) {
    const fields = r.record;
    if (fields.length === 1 && fields[0]!.trim() === '') continue; // a line of spaces is blank too
    rows.push({ line: startLine(r.info.lines, r.raw), fields });
  }
  return [...rows, ...errors].sort((a, b) => a.line - b.line);
}
