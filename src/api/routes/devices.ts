import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import Type from 'typebox';
import { actorOf, can, HiddenError, inScope, type Principal } from '../../access/index.js';
import { plusHours } from '../../compliance/index.js';
import { type ActivityEvent, type DockInfo, type DockProgress, NotFoundError } from '../../core/index.js';
import { HEALTH_REASON_CODES, isHealthReasonCode, loadProfiles, RECORDER_STATUS_NEXT } from '../../devices/index.js';
import { API_PREFIX, type ApiRoutes, principalOf } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { COMMON_ERRORS, Cursor, ErrorBody, Label, Nullable, Serial } from '../schemas.js';

const DeviceStatus = Type.Enum(['in-service', 'reported-damaged', 'in-repair', 'retired']);

/** One pre-duty reason as code, sentence and figures (issue 15; docs/devices.md has the codes and their params). */
const ReasonDetail = Type.Object({
  code: Nullable(
    Type.Enum([...HEALTH_REASON_CODES], { description: 'the stable reason code; null for a dock recorded before codes were kept with it (only its sentence is known)' }),
  ),
  message: Type.String({ description: 'the sentence the daemon logs (English; its wording may change: read code and params)' }),
  params: Type.Record(Type.String(), Nullable(Type.Union([Type.String(), Type.Number(), Type.Boolean()])), {
    description:
      'the figures the sentence is made of, by code: BATTERY_LOW {batteryPercent, minBatteryPercent}; STORAGE_LOW {freeBytes, requiredBytes, shiftHours, recordingGbPerHour}; CLOCK_DRIFT {driftMs, driftSeconds, maxClockDriftSeconds, estimated}; CLOCK_UNKNOWN {estimated}; HEALTH_UNREADABLE {error}; RECORDER_NOT_IN_SERVICE {status}; DEVICE_NOT_ASKED and STORAGE_NOT_MOUNTED {detail}; the others and code null: {}',
  }),
});
const ReasonDetails = Type.Array(ReasonDetail, { description: 'the reasons again, in the same order, as code, sentence and figures: what a console translates' });
const Reasons = Type.Array(Type.String(), { description: 'why not ready, one sentence each, as the daemon logs them (kept for scripts; see reasonDetails)' });

const Dock = Type.Object({
  id: Type.String(),
  location: Type.String(),
  dockedAt: Type.String(),
  undockedAt: Nullable(Type.String()),
  batteryPercent: Nullable(Type.Number()),
  deviceClock: Nullable(Type.String()),
  clockDriftMs: Nullable(Type.Integer()),
  storageTotalBytes: Nullable(Type.Integer()),
  storageFreeBytes: Nullable(Type.Integer()),
  verdict: Nullable(Type.Enum(['ready', 'not-ready'])),
  healthState: Nullable(
    Type.Enum(['ready', 'not-ready', 'unchecked'], {
      description: '就绪 / 未就绪 / 未检测: unchecked when battery, clock or free space could not be read and no limit failed; `verdict` is what it counts as (null before this was recorded)',
    }),
  ),
  clockDriftMethod: Nullable(Type.String({ description: 'how clockDriftMs was found: device-clock, status-file, or newest-file-estimate (a lower bound)' })),
  reasons: Reasons,
  reasonDetails: ReasonDetails,
  clockSyncedAt: Nullable(Type.String()),
  sessionStatus: Nullable(Type.String()),
  filesIngested: Type.Integer(),
  filesFailed: Type.Integer(),
  bytesIngested: Type.Integer(),
  undockReason: Nullable(
    Type.String({ description: 'why the dock ended: removed, unmounted, usb-detach, recorder-gone, custody-stopped (null while docked)' }),
  ),
  pulled: Type.Boolean({ description: 'the recorder was taken away while its check or session was still running' }),
});

const Device = Type.Object({
  serial: Type.String(),
  model: Nullable(Type.String()),
  officer: Nullable(Type.String()),
  unit: Nullable(Type.String()),
  status: DeviceStatus,
  statusChangedAt: Nullable(Type.String()),
  statusNote: Nullable(Type.String()),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  lastDock: Nullable(Dock),
  nextStatuses: Type.Array(DeviceStatus, { description: 'the statuses it may change to (reported damaged → in repair → in service, or retired)' }),
  repair: Nullable(
    Type.Object(
      {
        reportedAt: Type.String({ description: 'when the damage was discovered (reported)' }),
        dueBy: Type.String({ description: 'reportedAt plus compliance.repairDeadlineHours: handed in for repair by then (Art. 14)' }),
        overdue: Type.Boolean(),
      },
      { description: 'for a recorder reported damaged: its Art. 14 repair deadline; null otherwise' },
    ),
  ),
});

const UsbDevice = Type.Object({
  usbId: Type.String({ description: 'VID:PID, lower-case hex' }),
  vendorId: Type.Integer(),
  productId: Type.Integer(),
  manufacturer: Nullable(Type.String()),
  product: Nullable(Type.String()),
  serial: Nullable(Type.String()),
  interfaceClasses: Type.Array(Type.Integer(), { description: 'bInterfaceClass of each interface (8: mass storage, 6: still image, 255: vendor)' }),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  timesSeen: Type.Integer(),
});

const LiveDock = Type.Object({
  dockId: Type.String(),
  sessionId: Nullable(Type.String()),
  serial: Nullable(Type.String()),
  location: Type.String(),
  dockedAt: Type.String(),
  verdict: Nullable(Type.Enum(['ready', 'not-ready'])),
  state: Type.Optional(Nullable(Type.Enum(['ready', 'not-ready', 'unchecked'], { description: '就绪 / 未就绪 / 未检测; verdict is what it counts as' }))),
  reasons: Reasons,
  reasonDetails: ReasonDetails,
  officer: Nullable(Type.String({ description: 'who the recorder is issued to, as registered' })),
  unit: Nullable(Type.String()),
  batteryPercent: Nullable(Type.Number({ description: 'as the pre-duty check read it; null: not read' })),
  storageFreeBytes: Nullable(Type.Integer()),
  clockDriftMs: Nullable(Type.Integer({ description: 'positive: the recorder ahead of the station; measured before any clock sync' })),
  paused: Nullable(
    Type.Object(
      { code: Type.String({ description: 'VAULT_UNAVAILABLE (the store does not answer) or VAULT_FULL (its disk has no room)' }), message: Type.String(), since: Type.String() },
      { description: 'set while the collection is paused because the vault does not answer; it resumes by itself when the vault is back, nothing is wiped meanwhile' },
    ),
  ),
  progress: Nullable(
    Type.Object({
      filesDone: Type.Integer(),
      filesTotal: Type.Integer(),
      bytesDone: Type.Integer(),
      bytesTotal: Type.Integer(),
      rate: Type.Number({ description: 'bytes per second' }),
      etaSeconds: Nullable(Type.Number()),
    }),
  ),
});

/** Events a slow client has not read past this are not queued: the stream is closed. */
const MAX_BUFFERED = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

/**
 * A live dock as GET /docks and the `dock` event give it: every field present (a
 * publisher that did not say sends null), the reasons' details from the sentences
 * (code null) when the publisher gave none; a code the API does not list reads as null.
 */
function liveDock(d: DockInfo) {
  return {
    ...d,
    reasonDetails: d.reasonDetails
      ? d.reasonDetails.map((r) => ({ ...r, code: isHealthReasonCode(r.code) ? r.code : null }))
      : d.reasons.map((message) => ({ code: null, message, params: {} })),
    officer: d.officer ?? null,
    unit: d.unit ?? null,
    batteryPercent: d.batteryPercent ?? null,
    storageFreeBytes: d.storageFreeBytes ?? null,
    clockDriftMs: d.clockDriftMs ?? null,
    paused: d.paused ?? null,
  };
}

/** The serial an activity event is about (null: not known yet). */
function serialOf(e: ActivityEvent): string | null {
  switch (e.type) {
    case 'dock':
      return e.dock.serial;
    case 'progress':
      return e.progress.serial;
    case 'ingested':
    case 'undock':
      return e.serial;
    case 'flag':
      return typeof e.flag.serial === 'string' ? e.flag.serial : null;
    case 'export':
    case 'verify':
      return null;
  }
}

export const deviceRoutes: ApiRoutes = (app, ctx, done) => {
  /** The statuses a recorder may go to, and for one reported damaged its Art. 14 deadline (issue 19). */
  const withRepair = <D extends { status: keyof typeof RECORDER_STATUS_NEXT; statusChangedAt: string | null }>(d: D) => {
    const since = d.status === 'reported-damaged' ? d.statusChangedAt : null;
    const dueBy = since === null ? null : plusHours(since, ctx.config.compliance.repairDeadlineHours);
    return {
      ...d,
      nextStatuses: [...RECORDER_STATUS_NEXT[d.status]],
      repair: since === null || dueBy === null ? null : { reportedAt: since, dueBy, overdue: ctx.catalog.clock.now().getTime() > Date.parse(dueBy) },
    };
  };
  /** A scoped caller sees the recorder's last dock made while it was in their unit (issue 14). */
  const inUnit = <D extends { serial: string; unit: string | null; lastDock: unknown; status: keyof typeof RECORDER_STATUS_NEXT; statusChangedAt: string | null }>(p: Principal, d: D) =>
    withRepair(p.unit === null ? d : { ...d, lastDock: ctx.devices.docks(d.serial, null, 1, { unit: p.unit, current: d.unit })[0] ?? null });
  /** Is a recorder (by serial) in the caller's scope? Unidentified recorders: only for unscoped users. */
  const serialVisible = (p: Principal, serial: string | null): boolean => {
    if (p.unit === null) return true;
    if (serial === null) return false;
    const unit = ctx.devices.unitOf(serial);
    return unit !== undefined && inScope(p, unit);
  };
  const eventVisible = (p: Principal, e: ActivityEvent): boolean => {
    // An export job: to those who may export, within their unit (a bureau-wide case: bureau-wide users).
    if (e.type === 'export') return can(p, 'cases.export') && (p.unit === null || e.unit === p.unit);
    // The station's verification: to those who may read the ledger (as GET /ledger/verify).
    if (e.type === 'verify') return can(p, 'ledger.read');
    if (p.unit === null) return true;
    if (e.type === 'flag' && typeof e.flag.unit === 'string') return e.flag.unit === p.unit;
    return serialVisible(p, serialOf(e));
  };

  app.get(
    `${API_PREFIX}/devices`,
    {
      config: { access: 'devices.read' },
      schema: {
        tags: ['devices'],
        summary: 'Recorders with their status and last dock',
        querystring: Type.Object(
          {
            unit: Type.Optional(Label),
            officer: Type.Optional(Label),
            status: Type.Optional(DeviceStatus),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Device), next: Nullable(Type.String()) }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const limit = req.query.limit ?? 100;
      const after = req.query.cursor === undefined ? null : (decodeCursor('devices', req.query.cursor, ['string'])[0] as string);
      const rows = ctx.devices.list(p.unit, { unit: req.query.unit, officer: req.query.officer, status: req.query.status }, after, limit + 1);
      const items = rows.slice(0, limit).map((d) => inUnit(p, d));
      const last = items[items.length - 1];
      return { items, next: rows.length > limit && last ? encodeCursor('devices', [last.serial]) : null };
    },
  );

  app.get(
    `${API_PREFIX}/devices/:id`,
    {
      config: { access: 'devices.read' },
      schema: {
        tags: ['devices'],
        summary: 'One recorder with its dock and health history, newest first',
        params: Type.Object({ id: Serial }, { additionalProperties: false }),
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })), cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ device: Device, docks: Type.Array(Dock), next: Nullable(Type.String()) }), 404: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const device = ctx.devices.get(req.params.id);
      if (!device) throw new NotFoundError('device', req.params.id);
      if (!inScope(p, device.unit)) throw new HiddenError('device', req.params.id);
      const limit = req.query.limit ?? 50;
      const tag = `docks:${device.serial}`;
      const c = req.query.cursor === undefined ? null : decodeCursor(tag, req.query.cursor, ['string', 'string']);
      const rows = ctx.devices.docks(
        device.serial,
        c ? { dockedAt: c[0] as string, id: c[1] as string } : null,
        limit + 1,
        p.unit === null ? null : { unit: p.unit, current: device.unit },
      );
      const docks = rows.slice(0, limit);
      const last = docks[docks.length - 1];
      return { device: inUnit(p, device), docks, next: rows.length > limit && last ? encodeCursor(tag, [last.dockedAt, last.id]) : null };
    },
  );

  app.post(
    `${API_PREFIX}/devices/:id/status`,
    {
      config: { access: 'devices.write' },
      schema: {
        tags: ['devices'],
        summary: 'Change a recorder\'s status with a note (Art. 14: reported damaged → in repair → in service, or retired); ledgered as device.status-changed',
        params: Type.Object({ id: Serial }, { additionalProperties: false }),
        body: Type.Object(
          {
            status: DeviceStatus,
            note: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S', description: 'why: the damage seen, the repair ticket, …' }),
            discoveredAt: Type.Optional(
              Type.String({ format: 'date-time', maxLength: 40, description: 'for reported-damaged: when the damage was discovered (default now); the Art. 14 deadline counts from it' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ changed: Type.Boolean(), device: Device }), 404: ErrorBody, 409: ErrorBody, ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const device = ctx.devices.get(req.params.id);
      if (!device) throw new NotFoundError('device', req.params.id);
      if (!inScope(p, device.unit)) throw new HiddenError('device', req.params.id);
      const r = ctx.deviceRegistry.setStatus(device.serial, req.body.status, { actor: actorOf(p), note: req.body.note, since: req.body.discoveredAt ?? null });
      return { changed: r.changed, device: inUnit(p, ctx.devices.get(device.serial)!) };
    },
  );

  app.get(
    `${API_PREFIX}/devices/unknown-usb`,
    {
      config: { access: 'devices.read' },
      schema: {
        tags: ['devices'],
        summary: 'USB devices the daemon saw attached that no recorder profile matches: what a station needs to give a model its profile (custody devices learn)',
        description: 'Bureau-wide: a unit-scoped caller gets an empty list (a USB device has no unit).',
        response: { 200: Type.Object({ items: Type.Array(UsbDevice), profilesSource: Type.String() }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const file = ctx.config.devices.profilesFile ? resolve(ctx.config.home, ctx.config.devices.profilesFile) : undefined;
      // A station file not written yet (no model learned): the bundled profiles are those in force.
      const profiles = loadProfiles(file && existsSync(file) ? file : undefined);
      return { items: p.unit === null ? ctx.usbSeen.unknown(profiles) : [], profilesSource: profiles.source };
    },
  );

  app.get(
    `${API_PREFIX}/docks`,
    {
      config: { access: 'devices.read' },
      schema: {
        tags: ['devices'],
        summary: 'Recorders docked now, with ingest progress',
        response: { 200: Type.Object({ items: Type.Array(LiveDock) }), ...COMMON_ERRORS },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const items = ctx.activity
        .docks()
        .filter((d) => serialVisible(p, d.dock.serial))
        .map((d: { dock: DockInfo; progress: DockProgress | null }) => ({
          ...liveDock(d.dock),
          progress: d.progress
            ? {
                filesDone: d.progress.filesDone,
                filesTotal: d.progress.filesTotal,
                bytesDone: d.progress.bytesDone,
                bytesTotal: d.progress.bytesTotal,
                rate: d.progress.rate,
                etaSeconds: d.progress.etaSeconds,
              }
            : null,
        }));
      return { items };
    },
  );

  app.get(
    `${API_PREFIX}/events`,
    {
      // A HEAD would open a stream that sends nothing.
      exposeHeadRoute: false,
      config: { access: 'devices.read' },
      schema: {
        tags: ['devices'],
        summary: 'Live events as Server-Sent Events: dock, progress, ingested, undock, flag, export, verify',
        description:
          'text/event-stream; each event has `event: <type>` and `data: <JSON>`; a `dock` event\'s data is a dock as GET /docks gives it, without `progress`; an `export` event\'s is an export job as GET /exports gives it (sent to users who may export, within their unit); a `verify` event\'s is the verification\'s status as GET /ledger/verify gives it (sent to ledger readers). Only what happens after connecting is sent; a comment line every 15 s keeps the connection open. A client that falls more than 1 MiB behind is disconnected.',
        response: { 200: { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...COMMON_ERRORS },
      },
    },
    (req, reply) => {
      const p = principalOf(req);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': String(req.id),
      });
      let open = true;
      const close = (): void => {
        if (!open) return;
        open = false;
        clearInterval(heartbeat);
        unsubscribe();
        ctx.streams.delete(close);
        res.end();
      };
      const write = (text: string): void => {
        if (!open) return;
        if (res.writableLength > MAX_BUFFERED) {
          ctx.log.warn({ reqId: req.id, user: p.id }, 'event stream client too slow; disconnected');
          close();
          return;
        }
        res.write(text);
      };
      const unsubscribe = ctx.activity.subscribe((e) => {
        if (!eventVisible(p, e)) return;
        const { type, ...rest } = e;
        const data = type === 'dock' ? liveDock(e.dock) : type === 'progress' ? e.progress : type === 'flag' ? e.flag : type === 'export' ? e.job : type === 'verify' ? e.status : rest;
        write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
      });
      const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      ctx.streams.add(close);
      req.raw.on('close', close);
      res.on('error', close);
      write(': connected\n\n');
    },
  );
  done();
};
