"""Run a command as a child process and measure its wall time, CPU time and peak RSS.

os.wait4 returns the rusage of that one child (and of its own waited-for children), so
tools that fork workers are measured whole. Peak RSS comes from GNU time (`/usr/bin/time
-f %M`, Debian package `time`) when it is there: Linux carries a process's peak RSS over
fork and exec, so a child of a big Python process would report the parent's peak as its
own; GNU time is a small process, and reports its own child's. Peak RSS is the largest
single process's, not a sum over workers.
CPU time (user + sys) is reported beside wall time because this machine is shared: when
other jobs compete for the 2 cores, wall time stretches while the CPU time a
single-threaded tool needs stays close to its cost on an idle machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)


def measure(
    command: list[str], log: str | os.PathLike, stdout: str | os.PathLike | None = None
) -> Run:
    """Run `command` (stderr to `log`, stdout to `stdout` or `log`); fail on a non-zero exit."""
    rss_file = Path(log).with_suffix(".rss")
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *command] if GNU_TIME else command
    with open(log, "ab") as err, open(stdout or os.devnull, "wb") as out:
        began = time.perf_counter()
        child = subprocess.Popen(wrapped, stdout=out if stdout else err, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{' '.join(map(str, command))} failed ({code}); see {log}")
    rss_kb = int(rss_file.read_text().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return Run(wall, usage.ru_utime + usage.ru_stime, rss_kb / 1024)


def load_average() -> float:
    return os.getloadavg()[0]
