#!/usr/bin/python3
"""A read-only pass-through FUSE mount that behaves like a recorder behind USB 2.0.

Mounts SOURCE (a folder, usually the mount of a real exFAT/FAT32 recorder image) at
MOUNTPOINT and serves it unchanged, except:

  --rate MBPS            reads of this mount are limited to MBPS megabytes per second;
  --bus FILE --bus-rate MBPS
                         reads of every mount given the same FILE share one limit (the
                         recorders on one USB controller);
  --delay GLOB=SECONDS   opening a file whose recorder path matches GLOB waits first
                         (a slow status read, so a test can pull the recorder mid-check);
  --gate GLOB@OFFSET=FILE
                         a read of a file matching GLOB that reaches OFFSET waits until
                         FILE exists (a test holds the reader there for as long as it
                         needs, e.g. until the station has seen the recorder go);
  --eio PATH@OFFSET      a read of PATH that reaches OFFSET fails with EIO;
  --vanish PATH@OFFSET   a read of PATH that reaches OFFSET removes PATH from the source
                         and fails with ENOENT (a file deleted while it is read);
  --shrink PATH@OFFSET   a read of PATH that reaches OFFSET truncates PATH to OFFSET;
  --unlink               deletions pass through to the source (a recorder station wipes);
                         every other change is still refused;
  --hold-unlink GLOB=SECONDS
                         a deletion of a path matching GLOB is done, then its reply waits
                         (the deleting process sits between its unlink and what follows,
                         for a test to kill it there); implies --unlink;
 --status-file NAME     the recorder's status file NAME at the root (and its
                         sync temp .NAME.sync.tmp) may be written, created and
                         renamed onto NAME, as a station's clock sync does;
                         everything else stays read-only;
  --events FILE          a line is appended to FILE as each delayed open starts
                         ("delay PATH"), as each read waits at a gate ("gate PATH") and
                         as each held deletion is done ("unlinked PATH"), so a test
                         knows the process is waiting.

PATH and GLOB are '/'-separated and relative to the recorder's root. Runs in the
foreground, so the pid the caller started is the FUSE server: unmounting (also lazily,
as a pulled cable does) makes it exit by itself once the last open file is closed.

Debian's python3-fusepy (imports as `fusepy`), under Debian's own python3.
"""

import argparse
import errno
import fcntl
import fnmatch
import os
import struct
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

MB = 1000 * 1000


class Bucket:
    """A rate limit: each read takes its turn for len/rate seconds of the link."""

    def __init__(self, rate_bytes):
        self.rate = rate_bytes
        self.lock = threading.Lock()
        self.next_free = 0.0

    def take(self, n):
        with self.lock:
            start = max(time.monotonic(), self.next_free)
            self.next_free = start + n / self.rate
            until = self.next_free
        delay = until - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class SharedBucket:
    """The same limit shared by several processes through a file (one USB controller)."""

    def __init__(self, path, rate_bytes):
        self.path = path
        self.rate = rate_bytes
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def take(self, n):
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(self.fd, 8, 0)
            next_free = struct.unpack('<d', raw)[0] if len(raw) == 8 else 0.0
            # CLOCK_MONOTONIC is shared by every process on the machine.
            start = max(time.monotonic(), next_free)
            until = start + n / self.rate
            os.pwrite(self.fd, struct.pack('<d', until), 0)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        delay = until - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def at_offset(spec):
    path, _, offset = spec.rpartition('@')
    if not path or not offset.isdigit():
        raise argparse.ArgumentTypeError(f'expected PATH@OFFSET, got {spec!r}')
    return path.strip('/'), int(offset)


def gate_spec(spec):
    where, _, gate = spec.rpartition('=')
    glob, _, offset = where.rpartition('@')
    if not glob or not offset.isdigit() or not gate:
        raise argparse.ArgumentTypeError(f'expected GLOB@OFFSET=FILE, got {spec!r}')
    return glob.strip('/'), int(offset), gate


def glob_delay(spec):
    glob, _, seconds = spec.rpartition('=')
    try:
        return glob.strip('/'), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected GLOB=SECONDS, got {spec!r}')


class Throttle(Operations):
    def __init__(self, source, limits, delays, eio, vanish, shrink, events=None, unlinks=False, holds=(), status=None, gates=()):
        self.gates = list(gates)
        self.status = (status, f'.{status}.sync.tmp') if status else ()
        self.source = os.path.realpath(source)
        self.unlinks = unlinks or bool(holds)
        self.holds = list(holds)
        self.events = events
        self.events_lock = threading.Lock()
        self.limits = limits
        self.delays = delays
        self.eio = dict(eio)
        self.vanish = dict(vanish)
        self.shrink = dict(shrink)

    def _real(self, path):
        return os.path.join(self.source, path.lstrip('/'))

    @staticmethod
    def _rel(path):
        return path.lstrip('/')

    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_size', 'st_uid')}

    def readdir(self, path, fh):
        try:
            names = os.listdir(self._real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return ['.', '..'] + names

    def statfs(self, path):
        st = os.statvfs(self._real(path))
        return {k: getattr(st, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def open(self, path, flags):
        if flags & (os.O_WRONLY | os.O_RDWR):
            if self._rel(path) not in self.status:
                raise FuseOSError(errno.EROFS)
            try:
                return os.open(self._real(path), flags)
            except OSError as e:
                raise FuseOSError(e.errno)
        rel = self._rel(path)
        for glob, seconds in self.delays:
            if fnmatch.fnmatchcase(rel, glob):
                self._event(f'delay {rel}')
                time.sleep(seconds)
        try:
            return os.open(self._real(path), os.O_RDONLY)
        except OSError as e:
            raise FuseOSError(e.errno)

    def _event(self, line):
        if not self.events:
            return
        with self.events_lock, open(self.events, 'a', encoding='utf-8') as f:
            f.write(line + '\n')

    def read(self, path, size, offset, fh):
        rel = self._rel(path)
        end = offset + size
        for glob, at, gate in self.gates:
            if end > at and fnmatch.fnmatchcase(rel, glob) and not os.path.exists(gate):
                self._event(f'gate {rel}')
                while not os.path.exists(gate):
                    time.sleep(0.02)
        if rel in self.eio and offset <= self.eio[rel] < end:
            raise FuseOSError(errno.EIO)
        if rel in self.vanish and end > self.vanish[rel]:
            try:
                os.unlink(self._real(path))
            except FileNotFoundError:
                pass
            raise FuseOSError(errno.ENOENT)
        if rel in self.shrink and end > self.shrink[rel]:
            cut = self.shrink.pop(rel)
            os.truncate(self._real(path), cut)
        data = os.pread(fh, size, offset)
        for limit in self.limits:
            limit.take(len(data))
        return data

    def release(self, path, fh):
        os.close(fh)
        return 0

    # Everything that would change the recorder is refused: the lab's recorders change
    # only through the faults above or by the test writing the image itself.
    def _ro(self, *args):
        raise FuseOSError(errno.EROFS)

    def unlink(self, path):
        if not self.unlinks:
            raise FuseOSError(errno.EROFS)
        rel = self._rel(path)
        try:
            os.unlink(self._real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        for glob, seconds in self.holds:
            if fnmatch.fnmatchcase(rel, glob):
                self._event(f'unlinked {rel}')
                time.sleep(seconds)
        return 0

    # The status file (--status-file) alone is written: a clock sync's temp file created
    # and written, then renamed onto the status file.
    def create(self, path, mode, fi=None):
        if self._rel(path) not in self.status:
            raise FuseOSError(errno.EROFS)
        return os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def write(self, path, data, offset, fh):
        if self._rel(path) not in self.status:
            raise FuseOSError(errno.EROFS)
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if self._rel(path) not in self.status:
            raise FuseOSError(errno.EROFS)
        os.truncate(self._real(path), length)

    def rename(self, old, new):
        if self._rel(old) not in self.status or self._rel(new) not in self.status:
            raise FuseOSError(errno.EROFS)
        os.rename(self._real(old), self._real(new))

    def fsync(self, path, datasync, fh):
        os.fsync(fh)
        return 0

    rmdir = mkdir = chmod = chown = symlink = link = utimens = _ro


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('source')
    p.add_argument('mountpoint')
    p.add_argument('--rate', type=float, help='MB/s for this mount')
    p.add_argument('--bus', help='file shared by the mounts of one bus')
    p.add_argument('--bus-rate', type=float, help='MB/s shared by every mount of --bus')
    p.add_argument('--delay', type=glob_delay, action='append', default=[])
    p.add_argument('--gate', type=gate_spec, action='append', default=[])
    p.add_argument('--eio', type=at_offset, action='append', default=[])
    p.add_argument('--vanish', type=at_offset, action='append', default=[])
    p.add_argument('--shrink', type=at_offset, action='append', default=[])
    p.add_argument('--unlink', action='store_true')
    p.add_argument('--hold-unlink', type=glob_delay, action='append', default=[])
    p.add_argument('--status-file')
    p.add_argument('--events')
    p.add_argument('--fsname', default='custody-lab')
    a = p.parse_args()
    limits = []
    if a.rate:
        limits.append(Bucket(a.rate * MB))
    if a.bus:
        if not a.bus_rate:
            p.error('--bus needs --bus-rate')
        limits.append(SharedBucket(a.bus, a.bus_rate * MB))
    ops = Throttle(a.source, limits, a.delay, a.eio, a.vanish, a.shrink, a.events, a.unlink, a.hold_unlink, a.status_file, a.gate)
    # Foreground, so the caller's pid is the server; read-only unless deletions pass, and
    # the source's own names.
    FUSE(ops, a.mountpoint, foreground=True, ro=not (ops.unlinks or ops.status), fsname=a.fsname, subtype='custody-lab')
    return 0


if __name__ == '__main__':
    sys.exit(main())
