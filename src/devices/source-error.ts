import { type ErrorCode, SourceFileError, errorMessage } from '../core/index.js';

/**
 * A filesystem error met while reading a recorder's file, as the typed error every
 * driver and the dock session report (the file is gone, unreadable, a symlink …).
 */
export function sourceError(e: unknown, path: string): SourceFileError {
  const code = (e as NodeJS.ErrnoException).code ?? 'UNKNOWN';
  const map: Record<string, ErrorCode> = {
    ENOENT: 'SOURCE_GONE',
    EACCES: 'SOURCE_UNREADABLE',
    EPERM: 'SOURCE_UNREADABLE',
    EIO: 'SOURCE_IO_ERROR',
    ELOOP: 'SOURCE_IS_SYMLINK',
    ENXIO: 'SOURCE_GONE',
    ENODEV: 'SOURCE_GONE',
  };
  return new SourceFileError(map[code] ?? 'SOURCE_READ_FAILED', `${path}: ${errorMessage(e)}`, { cause: e });
}
