#!/usr/bin/env python3
"""Launch benchmark of the Tacit desktop app beside a bare Tauri window (prints figures, asserts
nothing).

For each run, in turn the bare window, Tacit, and Tacit's first launch after an upgrade, under
one Xvfb:

1. launch the binary (Tacit with `--home <a fresh copy of the bench home>`) in its own session;
   for the launch after an upgrade, the copy's search index is first marked as made by an older
   version (the `payload` of its `meta.json`), as an upgrade that changes the index leaves it:
   the app rebuilds it from the store;
2. launch time: from spawn to the `first paint … ms after launch` line on its stderr, measured from
   outside, beside the process's own figure (counted from its `main`); after an upgrade also the
   time to searchable: from spawn to the `the search index caught up with the store` line;
3. wait IDLE seconds (after an upgrade, counted from searchable), then memory: PSS summed over the
   process and all its descendants (the WebKit web and network processes), from
   /proc/PID/smaps_rollup;
4. kill the process group (and any descendant outside it) and wait for it.

Usage: measure.py --bare BIN --tacit BIN --home DIR [--runs 5] [--idle 10] [--warmup 1]
scripts/bench-desktop.sh builds everything and calls this.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

FIRST_PAINT = re.compile(r"first paint ([0-9.]+) ms after launch")
# What the app logs when its search index holds every note again (after a rebuild).
SEARCHABLE = re.compile(r"the search index caught up with the store")
# How long a launch may take before the run counts as failed.
LAUNCH_TIMEOUT_S = 60.0
# How long a rebuild of the index after an upgrade may take before the run counts as failed.
SEARCHABLE_TIMEOUT_S = 300.0
# The index version an upgrade finds (any other than the app's own makes it rebuild).
OLD_INDEX_VERSION = "tacit-index-0"
# The three kinds of launch, in the order of each round.
KINDS = ("bare", "tacit", "upgrade")
# How long a killed process group gets after SIGTERM before SIGKILL.
TERM_GRACE_S = 3.0
# The Tacit app's goal: within this factor of the bare window.
GOAL = 1.3


@dataclass
class Run:
    name: str
    outside_ms: float | None = None
    own_ms: float | None = None
    searchable_ms: float | None = None
    pss_kb: int | None = None
    processes: list[str] = field(default_factory=list)
    error: str | None = None


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a display it picks itself (-displayfd), returned once it accepts connections."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1920x1200x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(w,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(w)
    buf = b""
    deadline = time.monotonic() + 10
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            kill_group(proc)
            sys.exit("bench: Xvfb did not start (apt-get install xvfb)")
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 64)
            if not chunk:
                break
            buf += chunk
    os.close(r)
    return proc, ":" + buf.decode().strip()


def kill_group(proc: subprocess.Popen, extra: list[int] | None = None) -> None:
    """SIGTERM to the process group (and to `extra` pids), SIGKILL after a grace period."""
    pids = set(extra or [])
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            continue
        if not any(alive(p) for p in pids) and not group_alive(proc.pid):
            return


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] not in "ZX"
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def pss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return "?"


def invalidate_index(home: str) -> None:
    """Marks the home's search index as made by an older version, as an upgrade finds it."""
    meta = os.path.join(home, "index", "meta.json")
    try:
        with open(meta) as f:
            data = json.load(f)
    except FileNotFoundError:
        return  # no index at all: the app makes one too
    data["payload"] = OLD_INDEX_VERSION
    with open(meta, "w") as f:
        json.dump(data, f)


def launch(name: str, argv: list[str], env: dict[str, str], idle_s: float, log: str,
           searchable: bool = False) -> Run:
    run = Run(name)
    seen = threading.Event()
    caught_up = threading.Event()
    lines: list[str] = []

    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    def read() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace")
            lines.append(line)
            if not seen.is_set():
                m = FIRST_PAINT.search(line)
                if m:
                    run.outside_ms = (time.monotonic() - t0) * 1000.0
                    run.own_ms = float(m.group(1))
                    seen.set()
            if searchable and not caught_up.is_set() and SEARCHABLE.search(line):
                run.searchable_ms = (time.monotonic() - t0) * 1000.0
                caught_up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    pids: list[int] = []
    try:
        if not seen.wait(LAUNCH_TIMEOUT_S):
            state = "exited %s" % proc.returncode if proc.poll() is not None else "still running"
            run.error = f"no 'first paint' line within {LAUNCH_TIMEOUT_S:.0f} s ({state})"
            return run
        if searchable and not caught_up.wait(SEARCHABLE_TIMEOUT_S):
            state = "exited %s" % proc.returncode if proc.poll() is not None else "still running"
            run.error = f"not searchable within {SEARCHABLE_TIMEOUT_S:.0f} s ({state})"
            return run
        time.sleep(idle_s)  # the measured idle period itself, not a wait for something
        if proc.poll() is not None:
            run.error = f"exited with {proc.returncode} while idle"
            return run
        pids = descendants(proc.pid)
        sizes = [(pid, pss_kb(pid)) for pid in pids]
        run.pss_kb = sum(s for _, s in sizes if s is not None)
        run.processes = [f"{comm(pid)}:{s // 1024 if s else 0}MB" for pid, s in sizes]
        return run
    finally:
        kill_group(proc, [p for p in pids if p != proc.pid])
        reader.join(timeout=5)
        with open(log, "a") as f:
            f.write(f"===== {name} {argv} =====\n")
            f.writelines(lines)


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:8.1f}"


def fmt_mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:7.1f}"


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bare", required=True, help="the bare-window binary")
    ap.add_argument("--tacit", required=True, help="the tacit-desktop binary")
    ap.add_argument("--home", required=True, help="the bench home (copied afresh for every run)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds idle before measuring memory")
    ap.add_argument("--warmup", type=int, default=1, help="uncounted runs of each first (warm caches)")
    ap.add_argument("--log", default=None, help="where the apps' stderr goes (default: a temp file)")
    args = ap.parse_args()

    for path in (args.bare, args.tacit):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is not an executable; build it first (scripts/bench-desktop.sh)")
    if not os.path.isdir(args.home):
        sys.exit(f"bench: the home {args.home} does not exist (scripts/bench-desktop.sh makes it)")

    work = tempfile.mkdtemp(prefix="tacit-bench-")
    log = args.log or os.path.join(work, "apps.log")
    xvfb, display = start_xvfb()
    try:
        base_env = {k: v for k, v in os.environ.items() if k not in ("TACIT_HOME", "WAYLAND_DISPLAY")}
        base_env.update(DISPLAY=display, NO_AT_BRIDGE="1", NO_COLOR="1", TACIT_LOG="info")

        def env_for(name: str) -> dict[str, str]:
            # Each binary keeps its own XDG directories across runs, as an installed app would.
            env = dict(base_env)
            for d in ("data", "config", "cache"):
                p = os.path.join(work, "xdg", name, d)
                os.makedirs(p, exist_ok=True)
                env[f"XDG_{d.upper()}_HOME"] = p
            runtime = os.path.join(work, "xdg", name, "runtime")
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            env["XDG_RUNTIME_DIR"] = runtime
            return env

        bare_env = dict(env_for("bare"), GTK_THEME="Adwaita")
        tacit_env = dict(env_for("tacit"), GTK_THEME="Adwaita")

        def one(kind: str, i: int) -> Run:
            if kind == "bare":
                return launch("bare", [os.path.abspath(args.bare)], bare_env, args.idle, log)
            home = os.path.join(work, f"home-{i}")
            shutil.copytree(args.home, home, symlinks=True)
            try:
                if kind == "upgrade":
                    invalidate_index(home)
                return launch(kind, [os.path.abspath(args.tacit), "--home", home], tacit_env, args.idle, log,
                              searchable=kind == "upgrade")
            finally:
                shutil.rmtree(home, ignore_errors=True)

        def describe(r: Run) -> str:
            if r.error:
                return f"FAILED: {r.error}"
            searchable = "" if r.searchable_ms is None else f", searchable at {r.searchable_ms / 1000:5.1f} s"
            return (f"first paint {r.outside_ms:7.1f} ms (own figure {r.own_ms:7.1f} ms){searchable}, "
                    f"PSS {r.pss_kb / 1024:6.1f} MB over {len(r.processes)} processes "
                    f"[{', '.join(r.processes)}]")

        print(f"bench: display {display}; {args.warmup} warm-up and {args.runs} measured runs each, "
              f"idle {args.idle:.0f} s; home {args.home}", flush=True)
        for i in range(args.warmup):
            for kind in KINDS:
                r = one(kind, -1 - i)
                print(f"  warm-up {kind:7}: {describe(r)}", flush=True)

        runs: dict[str, list[Run]] = {kind: [] for kind in KINDS}
        for i in range(args.runs):
            for kind in KINDS:
                r = one(kind, i)
                runs[kind].append(r)
                print(f"  run {i + 1} {kind:7}: {describe(r)}", flush=True)
    finally:
        kill_group(xvfb)

    print()
    print(f"{'':9}{'first paint, ms (outside)':>28}{'own figure, ms':>18}{'PSS after idle, MB':>22}"
          f"{'searchable, s':>16}")
    med: dict[str, tuple[float | None, float | None, float | None, float | None]] = {}
    for kind in KINDS:
        ok = [r for r in runs[kind] if not r.error]
        outside = [r.outside_ms for r in ok if r.outside_ms is not None]
        own = [r.own_ms for r in ok if r.own_ms is not None]
        pss = [r.pss_kb / 1024 for r in ok if r.pss_kb is not None]
        searchable = [r.searchable_ms / 1000 for r in ok if r.searchable_ms is not None]
        med[kind] = (median(outside), median(own), median(pss), median(searchable))
        each = ", ".join(f"{r.outside_ms:.0f}" if not r.error else "fail" for r in runs[kind])
        print(f"{kind:9}{fmt_ms(med[kind][0]):>28}{fmt_ms(med[kind][1]):>18}"
              f"{('-' if med[kind][2] is None else f'{med[kind][2]:.1f}'):>22}"
              f"{('-' if med[kind][3] is None else f'{med[kind][3]:.1f}'):>16}"
              f"   (median of {len(ok)}; runs: {each})")
    print()
    (bo, _, bm, _), (to, _, tm, _), (uo, _, um, _) = med["bare"], med["tacit"], med["upgrade"]
    if bo and to:
        print(f"ratio tacit/bare, first paint:   {to / bo:.2f}  (goal ≤ {GOAL})")
    if bm and tm:
        print(f"ratio tacit/bare, memory:        {tm / bm:.2f}  (goal ≤ {GOAL})")
    if bo and uo:
        print(f"ratio upgrade/bare, first paint: {uo / bo:.2f}")
    if to and uo:
        print(f"ratio upgrade/tacit, first paint: {uo / to:.2f}  (goal: no later than a normal launch)")
    if bm and um:
        print(f"ratio upgrade/bare, memory:      {um / bm:.2f}  (after the rebuild and {args.idle:.0f} s idle)")
    print(f"app output: {log}")
    failed = sum(1 for k in runs for r in runs[k] if r.error)
    if failed:
        sys.exit(f"bench: {failed} runs failed; see {log}")


if __name__ == "__main__":
    main()
