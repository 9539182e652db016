#!/usr/bin/python3
"""collect.py — one benchmark run's results file from its log: a first line
saying when and where it ran (date, commit, how many tracked files were
modified, --quick or not, the machine), then every line of the log that is
a JSON object, as it was printed (deploy/dev.sh bench; tests/bench/report.py
reads the result).

Usage: collect.py LOG STAMP QUICK(0|1) > RESULTS.jsonl
"""
import json
import os
import subprocess
import sys

from report_data import load


def git(*args):
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        return subprocess.run(["git", "-C", here] + list(args), text=True,
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    log, stamp, quick = argv[1:4]
    dirty = git("status", "--porcelain", "--untracked-files=no")
    print(json.dumps({"name": "run_info", "date": stamp,
                      "commit": git("rev-parse", "HEAD").strip(),
                      "dirty_files": len(dirty.splitlines()),
                      "quick": quick != "0", "nproc": os.cpu_count(),
                      "cpu_model": cpu_model()}))
    for row in load(log):
        print(json.dumps(row, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
