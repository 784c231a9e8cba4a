"""Strings read from the traced process: runtime providers pass a function's
file and name as pointers to strings their code objects own, and the
program keys on those addresses; the names are read here, whole (no
bpftrace str() length limit), and kept for a few seconds."""
import time


class Strings:
    TTL = 5.0

    def __init__(self, pid):
        self.pid = pid
        self.cache = {}
        try:
            self.mem = open("/proc/%d/mem" % pid, "rb", buffering=0)
        except OSError:
            self.mem = None

    def get(self, addr, limit=4096):
        now = time.monotonic()
        hit = self.cache.get(addr)
        if hit and now - hit[1] < self.TTL:
            return hit[0]
        s = self._read(addr, limit)
        self.cache[addr] = (s, now)
        return s

    def _read(self, addr, limit):
        if not self.mem or not addr:
            return "?"
        out = b""
        try:
            while len(out) < limit:
                # Stop at a page end: the next page may not be mapped.
                n = min(256, 4096 - (addr + len(out)) % 4096)
                self.mem.seek(addr + len(out))
                chunk = self.mem.read(n)
                if not chunk:
                    break
                z = chunk.find(b"\0")
                if z >= 0:
                    out += chunk[:z]
                    break
                out += chunk
        except (OSError, ValueError, OverflowError):
            if not out:
                return "?"
        return out.decode("utf-8", "replace")

    def close(self):
        if self.mem:
            self.mem.close()
            self.mem = None
