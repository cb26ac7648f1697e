"""Run many CNVkit command lines, each exactly as `cnvkit.py ARGS` would (runs in CNVkit's venv).

    .venv-cnvkit/bin/python cnvkit_driver.py JOBS.json WORKERS

JOBS.json is a list of {"name", "log", "steps": [[arg, ...], ...]}. Every step goes
through cnvlib.commands.parse_args(args).func(args), the code of the cnvkit.py script,
inside long-lived worker processes: CNVkit is imported once instead of ~1,000 times. A
job's output (CNVkit logs to stderr) goes to its log. One JSON line per finished job is
printed: name, status ("ok" or the error) and seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import sys
import time
import traceback

from cnvlib import commands  # imported before the workers fork


def run_job(job: dict) -> dict:
    began = time.perf_counter()
    status = "ok"
    with (
        open(job["log"], "a") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        for argv in job["steps"]:
            print("$ cnvkit.py " + " ".join(argv), flush=True)
            try:
                args = commands.parse_args(argv)
                args.func(args)
            except BaseException as error:  # CNVkit also exits through sys.exit
                traceback.print_exc()
                status = f"{argv[0]} failed: {error!r}"
                break
    return {"name": job["name"], "status": status, "seconds": time.perf_counter() - began}


def main() -> None:
    with open(sys.argv[1]) as handle:
        jobs = json.load(handle)
    workers = int(sys.argv[2])
    if workers <= 1:
        results = map(run_job, jobs)
        for result in results:
            print(json.dumps(result), flush=True)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for result in pool.imap_unordered(run_job, jobs, chunksize=1):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
