/**
 * A small RFC 4180 reader: fields separated by commas, optionally quoted with "
 * (a quote inside doubled), rows ended by LF or CRLF. A UTF-8 BOM is dropped.
 * Returns rows with the 1-based line on which each starts.
 */
export function parseCsv(text: string): { line: number; fields: string[]; error?: string }[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: { line: number; fields: string[]; error?: string }[] = [];
  let line = 1;
  let i = 0;
  while (i < src.length) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let error: string | undefined;
    let ended = false;
    while (i < src.length && !ended) {
      const c = src[i]!;
      if (quoted) {
        if (c === '"') {
          if (src[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
          i++;
          continue;
        }
        if (c === '\n') line++;
        field += c;
        i++;
        continue;
      }
      if (c === '"') {
        if (field.trim() !== '') error ??= 'a quote inside an unquoted field';
        field = '';
        quoted = true;
        i++;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        i++;
      } else if (c === '\r' && src[i + 1] === '\n') {
        i += 2;
        line++;
        ended = true;
      } else if (c === '\n') {
        i++;
        line++;
        ended = true;
      } else {
        field += c;
        i++;
      }
    }
    if (quoted) error ??= 'a quoted field is not closed';
    fields.push(field);
    if (fields.length === 1 && fields[0]!.trim() === '' && !error) continue; // blank line
    rows.push(error ? { line: startLine, fields, error } : { line: startLine, fields });
  }
  return rows;
}
