#!/usr/bin/env python3
"""bench "startup": wall time from starting `sessionscope` to the first paint of
its main window with the embedded server up (the app's --report-startup line).

Cold: a fresh data dir (new SQLite database, new secret key, empty settings).
Warm: a later start on the same data dir. The OS page cache is warm in both
(dropping it needs root), so "cold" is the app's own first-run work.
Each start runs in its own XDG config/data/cache dirs under a temporary
folder, so nothing of the user's is read or written.

Usage: startup.py SESSIONSCOPE_BINARY [--runs N]  -> one JSON line.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

LINE = re.compile(rb"sessionscope: startup first-paint (\d+) ms, ready (\d+) ms")


def start_once(binary, root):
    env = dict(os.environ)
    env.update({
        "QT_QPA_PLATFORM": env.get("QT_QPA_PLATFORM", "offscreen"),
        "XDG_CONFIG_HOME": os.path.join(root, "config"),
        "XDG_DATA_HOME": os.path.join(root, "data"),
        "XDG_CACHE_HOME": os.path.join(root, "cache"),
        "XDG_RUNTIME_DIR": os.path.join(root, "runtime"),
    })
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    env.pop("SESSIONSCOPE_DATA_DIR", None)
    started = time.monotonic()
    proc = subprocess.Popen([binary, "--report-startup", "--data-dir", os.path.join(root, "embedded")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = None
    inner = None
    stderr = b""
    deadline = started + 60
    for line in proc.stderr:
        stderr += line
        match = LINE.search(line)
        if match:
            wall = (time.monotonic() - started) * 1000
            inner = (int(match.group(1)), int(match.group(2)))
            break
        if time.monotonic() > deadline:
            break
    try:
        rest = proc.stderr.read()
        proc.wait(timeout=30)
        stderr += rest
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    if wall is None:
        sys.exit("startup: no startup line from sessionscope (exit %s): %s"
                 % (proc.returncode, stderr.decode(errors="replace")[-2000:]))
    return {"wallMs": wall, "firstPaintMs": inner[0], "readyMs": inner[1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold, warm = [], []
    with tempfile.TemporaryDirectory(prefix="sessionscope-startup-") as tmp:
        for i in range(args.runs):
            root = os.path.join(tmp, "run%d" % i)
            cold.append(start_once(args.binary, root))
            warm.append(start_once(args.binary, root))
    median = lambda runs, key: statistics.median(r[key] for r in runs)
    print(json.dumps({
        "runs": args.runs,
        "coldWallMs": median(cold, "wallMs"), "warmWallMs": median(warm, "wallMs"),
        "coldReadyMs": median(cold, "readyMs"), "warmReadyMs": median(warm, "readyMs"),
        "coldFirstPaintMs": median(cold, "firstPaintMs"), "warmFirstPaintMs": median(warm, "firstPaintMs"),
        "cold": cold, "warm": warm,
    }))


if __name__ == "__main__":
    main()
