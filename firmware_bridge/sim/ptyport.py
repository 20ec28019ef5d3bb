"""A pseudo-terminal that stands in for the amplifier's USB-CDC port (POSIX only).

The virtual amplifier owns the master side; the host opens the slave path (``/dev/pts/N``)
with pyserial exactly as it would open ``/dev/ttyACM0``. The slave is put in raw mode (no
echo, no CR/LF translation, 8-bit clean) and the amplifier keeps its own slave descriptor
open, so the terminal survives the host closing and reopening it, as a plugged-in USB device
does. :meth:`PtyPort.close` is the unplug: the host's next read fails with EIO.

A real unplug and replug brings ``/dev/ttyACM0`` back under the same name; a new pty gets a
new name. ``link_path`` gives a stable name: a symlink re-pointed (atomically) at the current
slave on every :meth:`PtyPort.open` and removed on :meth:`PtyPort.close`, as udev does for
``/dev/serial/by-id/...``.
"""

from __future__ import annotations

import errno
import os
import select
import tty
from pathlib import Path

__all__ = ["PtyPort"]


class PtyPort:
    """Master side of a raw pseudo-terminal with an optional stable symlink."""

    def __init__(self, link_path: str | os.PathLike | None = None) -> None:
        self.link_path = Path(link_path) if link_path is not None else None
        self.master: int | None = None
        self._slave: int | None = None
        self.slave_path: str | None = None

    @property
    def path(self) -> str:
        """What the host should open: the symlink if any, else the slave device."""
        if self.link_path is not None:
            return str(self.link_path)
        if self.slave_path is None:
            raise RuntimeError("pty not open")
        return self.slave_path

    @property
    def is_open(self) -> bool:
        return self.master is not None

    def open(self) -> str:
        """Create a new pty (closing any previous one); returns :attr:`path`."""
        self.close()
        if self.link_path is not None and self.link_path.exists() and not self.link_path.is_symlink():
            raise FileExistsError(f"{self.link_path} exists and is not a symlink; not replacing it")
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        if self.link_path is not None:
            tmp = self.link_path.with_name(f".{self.link_path.name}.{os.getpid()}.tmp")
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link_path)  # atomic re-point
        return self.path

    def close(self) -> None:
        """Unplug: remove the symlink and close both sides; idempotent."""
        if self.link_path is not None and self.master is not None:
            try:
                if os.path.islink(self.link_path) and os.readlink(self.link_path) == self.slave_path:
                    os.unlink(self.link_path)
            except OSError:
                pass
        for fd in (self.master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self._slave = None

    def read(self, max_bytes: int = 65536) -> bytes:
        """Whatever the host has written (possibly b''); never blocks."""
        if self.master is None:
            return b""
        try:
            return os.read(self.master, max_bytes)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # no slave open at all; cannot happen while we hold one
                return b""
            raise

    def write_some(self, data: bytes | memoryview) -> int:
        """Write as much of ``data`` as the pty takes now; returns the byte count (maybe 0)."""
        if self.master is None or not data:
            return 0
        try:
            return os.write(self.master, data)
        except BlockingIOError:
            return 0

    def wait(self, want_write: bool, timeout: float) -> tuple[bool, bool]:
        """Wait up to ``timeout`` s for readability (and writability if asked)."""
        if self.master is None:
            return False, False
        r, w, _ = select.select([self.master], [self.master] if want_write else [], [], max(0.0, timeout))
        return bool(r), bool(w)
