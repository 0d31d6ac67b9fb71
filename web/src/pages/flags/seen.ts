/**
 * What a flag saw, said as a sentence in the page's language. The daemon's `summary`
 * is English; the page says the same from the flag's `seen` figures (files, hours,
 * numbers missing), by rule and kind, with a key under `flags.seen`. Figures that are
 * not what the rule writes fall back to the summary as sent, so nothing is hidden.
 */

/** How the page writes a time and names a source of a recorder's identity. */
export interface SeenFormat {
  time: (iso: string) => string;
  source: (code: string) => string;
}

export interface FlagLike {
  rule: string;
  officer: string | null;
  recorderSerial: string | null;
  seen: Record<string, unknown>;
  summary: string;
}

/** A key under flags.seen and its parameters; null: say the summary. */
export type Said = { key: string; params: Record<string, string | number> } | null;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** Hours as staff read them: whole, or with one decimal. */
const hours = (h: number): string => String(Math.round(h * 10) / 10);

function lateUpload(f: FlagLike, _fmt: SeenFormat): Said {
  const s = f.seen;
  const delay = num(s.delayHours);
  const limit = num(s.deadlineHours);
  const count = num(s.fileCount) ?? 1;
  const file = str(s.file);
  if (delay === null || limit === null || file === null) return null;
  const files = Array.isArray(s.files) ? (s.files as Array<{ file?: unknown }>).map((x) => str(x.file)).filter((x): x is string => x !== null) : [file];
  const serial = f.recorderSerial ?? '—';
  if (count <= 1) return { key: 'lateOne', params: { file, serial, delay: hours(delay), limit: hours(limit) } };
  return { key: 'lateMany', params: { count, serial, delay: hours(delay), limit: hours(limit), files: files.slice(0, 3).join('、') + (count > 3 ? '…' : '') } };
}

function missingUpload(f: FlagLike, fmt: SeenFormat): Said {
  const s = f.seen;
  const limit = num(s.deadlineHours);
  const start = str(s.startsAt);
  const end = str(s.endsAt);
  if (limit === null || start === null || end === null) return null;
  const params = { officer: f.officer ?? '—', serial: f.recorderSerial ?? '—', start: fmt.time(start), end: fmt.time(end), limit: hours(limit) };
  if (s.kind === 'no-footage') return { key: 'missingNoFootage', params };
  if (s.kind === 'not-docked') return { key: s.everDocked === false ? 'missingNeverDocked' : 'missingNotDocked', params };
  return null;
}

function sequenceGap(f: FlagLike, _fmt: SeenFormat): Said {
  const s = f.seen;
  const after = str(s.after);
  const before = str(s.before);
  const serial = f.recorderSerial ?? '—';
  if (after === null || before === null) return null;
  if (s.kind === 'gap') {
    const count = num(s.missingCount);
    const missing = Array.isArray(s.missing) ? (s.missing as unknown[]).map(str).filter((x): x is string => x !== null) : [];
    if (count === null) return null;
    const listed = missing.length < count ? `${missing.slice(0, 5).join('、')}…` : missing.slice(0, 5).join('、') + (missing.length > 5 ? '…' : '');
    return { key: 'sequenceGap', params: { serial, after, before, count, missing: listed } };
  }
  if (s.kind === 'numbering-reset' && s.reason === 'prefix') return { key: 'sequenceRenamed', params: { serial, after, before } };
  if (s.kind === 'numbering-reset' && s.reason === 'jump' && str(s.from) && str(s.to)) return { key: 'sequenceJump', params: { serial, after, before, from: str(s.from)!, to: str(s.to)! } };
  return null;
}

function recordingGap(f: FlagLike, fmt: SeenFormat): Said {
  const s = f.seen;
  const from = str(s.from);
  const to = str(s.to);
  const minutes = num(s.minutes);
  const max = num(s.maxGapMinutes);
  if (from === null || to === null || minutes === null || max === null) return null;
  return { key: 'recordingGap', params: { officer: f.officer ?? '—', from: fmt.time(from), to: fmt.time(to), minutes, max } };
}

function clockDrift(f: FlagLike, fmt: SeenFormat): Said {
  const s = f.seen;
  const docked = str(s.dockedAt);
  const drift = num(s.driftMs);
  const serial = f.recorderSerial ?? '—';
  if (docked === null) return null;
  if (str(s.error) !== null) return { key: 'clockNotSet', params: { serial, docked: fmt.time(docked), error: str(s.error)! } };
  const tolerance = num(s.toleranceSeconds);
  if (drift === null || tolerance === null) return null;
  const seconds = Math.round(Math.abs(drift) / 1000);
  return { key: drift >= 0 ? 'clockFast' : 'clockSlow', params: { serial, docked: fmt.time(docked), seconds, tolerance, clips: num(s.clipCount) ?? 0 } };
}

function repairOverdue(f: FlagLike, fmt: SeenFormat): Said {
  const s = f.seen;
  const reported = str(s.reportedAt);
  const limit = num(s.deadlineHours);
  if (reported === null || limit === null) return null;
  const note = str(s.note);
  return { key: note ? 'repairOverdueNote' : 'repairOverdue', params: { serial: f.recorderSerial ?? '—', reported: fmt.time(reported), limit: hours(limit), note: note ?? '' } };
}

function attributionConflict(f: FlagLike, fmt: SeenFormat): Said {
  const s = f.seen;
  const reports = str(s.recorderReports);
  if (reports === null) return null;
  if (str(s.file) !== null && str(s.assignedTo) !== null && str(s.recordedAt) !== null) {
    return { key: 'attributionFile', params: { file: str(s.file)!, reports, assigned: str(s.assignedTo)!, at: fmt.time(str(s.recordedAt)!) } };
  }
  if (Array.isArray(s.conflicts) && str(s.dockedAt) !== null) {
    const list = (s.conflicts as Array<{ source?: unknown; value?: unknown }>).map((c) => `${fmt.source(str(c.source) ?? '?')} ${str(c.value) ?? '?'}`).join('、');
    return { key: 'attributionDock', params: { serial: f.recorderSerial ?? reports, docked: fmt.time(str(s.dockedAt)!), reports, conflicts: list } };
  }
  return null;
}

const BY_RULE: Record<string, (f: FlagLike, fmt: SeenFormat) => Said> = {
  'late-upload': lateUpload,
  'missing-upload': missingUpload,
  'sequence-gap': sequenceGap,
  'recording-gap': recordingGap,
  'clock-drift': clockDrift,
  'repair-overdue': repairOverdue,
  'attribution-conflict': attributionConflict,
};

/** The sentence's key (under flags.seen) and parameters, or null for the summary as sent. */
export function seenOf(f: FlagLike, fmt: SeenFormat): Said {
  try {
    return BY_RULE[f.rule]?.(f, fmt) ?? null;
  } catch {
    return null;
  }
}
