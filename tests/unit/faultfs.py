"""faultfs.py BACKING MOUNTPOINT [SECONDS [EIO_FLAG [READ_SECONDS]]] - a FUSE
pass-through file system (python3-fusepy) over the directory BACKING, with
these faults:

- a slow disk: fsync and fdatasync of files sleep SECONDS (default 2)
  before syncing (test_spool's slow_fsync_does_not_stall_the_loop); with
  READ_SECONDS, every read sleeps that long first, and the file system is
  mounted direct_io so that reads reach it rather than the page cache
  (test_spool's slow_read_does_not_stall_the_loop);
- a failing disk: while the file EIO_FLAG exists (a path outside the mount,
  created and removed by the test; "-": none), every write to the file system fails
  with EIO: create, write, truncate, fsync, mkdir, rename. Reads, listing
  and unlink still work, as on a medium that went bad for writing (the
  fault campaign's spool_eio scenario).

Runs in the foreground until unmounted (fusermount -u MOUNTPOINT)."""

import errno
import os
import sys
import time

from fusepy import FUSE, FuseOSError, Operations


class FaultFs(Operations):
    def __init__(self, root, delay, eio_flag=None, read_delay=0.0):
        self.root = root
        self.delay = delay
        self.eio_flag = eio_flag
        self.read_delay = read_delay

    def _eio(self):
        if self.eio_flag and os.path.exists(self.eio_flag):
            raise FuseOSError(errno.EIO)

    def _p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def access(self, path, mode):
        if not os.access(self._p(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self._p(path))
        return {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode",
                                            "st_mtime", "st_nlink", "st_size", "st_uid")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._p(path))

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)

    def mkdir(self, path, mode):
        self._eio()
        os.mkdir(self._p(path), mode)

    def rmdir(self, path):
        os.rmdir(self._p(path))

    def unlink(self, path):
        os.unlink(self._p(path))

    def rename(self, old, new):
        self._eio()
        os.rename(self._p(old), self._p(new))

    def statfs(self, path):
        st = os.statvfs(self._p(path))
        return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize",
                                            "f_favail", "f_ffree", "f_files", "f_flag",
                                            "f_frsize", "f_namemax")}

    def utimens(self, path, times=None):
        os.utime(self._p(path), times)

    def open(self, path, flags):
        return os.open(self._p(path), flags)

    def create(self, path, mode, fi=None):
        self._eio()
        return os.open(self._p(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def read(self, path, size, offset, fh):
        if self.read_delay:
            time.sleep(self.read_delay)  # the slow disk
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._eio()
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        self._eio()
        os.truncate(self._p(path), length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        self._eio()
        time.sleep(self.delay)  # the slow disk
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        return 0


if __name__ == "__main__":
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    flag = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    read_delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    opts = {"direct_io": True} if read_delay else {}
    FUSE(FaultFs(sys.argv[1], delay, flag, read_delay), sys.argv[2], foreground=True,
         nothreads=False, allow_other=False, **opts)
