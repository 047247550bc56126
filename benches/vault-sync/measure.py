#!/usr/bin/env python3
"""First sync of a generated Markdown vault between two processes on loopback: two `tacit serve`
nodes and the CLI, beside two Syncthing instances on the same vault as files, in the same run
(prints figures, asserts nothing).

1. The vault: N Markdown files (default 10,000) of 1–4 KB of words drawn with a Zipf
   distribution from /usr/share/dict/words, in 20 folders, from a fixed seed; made once in
   WORK/vault-N and reused.
2. Tacit, per run: two fresh homes, A and B (`tacit init`), each with its own `tacit serve`
   (loopback only, no mDNS). A makes a space, imports the vault into it (`tacit import`, timed
   and printed), waits until it is at rest (every note searchable and under 5% of a core over a
   second: the search index merges its segments after an import) and invites. Then the clock
   starts and B runs `tacit space join TICKET`:
   - joined: when `space join` returns;
   - listed: when B's `tacit status --json` counts every note of the vault (polled every
     POLL_S);
   - searchable: when B's search index also holds them with nothing pending.
   At the end, B's `tacit space digest` must equal A's (the same version of every document),
   else the run is reported as not converged.
3. Syncthing, per run: two fresh instances, A with a copy of the vault as a folder shared with
   B, B with an empty folder, each knowing the other's address; both listen on 127.0.0.1 only,
   with global and local discovery, relays, NAT traversal, usage reports, crash reports and
   upgrades off (all of which reach beyond loopback); everything else is Syncthing's default.
   A starts and scans its folder (not timed), and waits until it is at rest as Tacit's A does.
   Then the clock starts and B starts:
   - connected: when A reports B connected (polled);
   - synced: when B's folder status has every file locally, needs none and is idle.
   At the end, B's files must equal the vault's byte for byte.

Usage: measure.py --tacit BIN --work DIR [--notes 10000] [--runs 3]
scripts/bench-vault-sync.sh builds the CLI, installs Syncthing and calls this.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

WORDS = Path("/usr/share/dict/words")
SEED = 2026
FOLDERS = 20
POLL_S = 0.1
# How long one side may take before its run counts as failed.
TIMEOUT_S = 600.0
API_KEY = "tacit-bench-vault-sync"
# Every Tacit process: no mDNS (it multicasts on the machine's interfaces), whoever calls this.
TACIT_ENV = dict(os.environ, TACIT_NO_MDNS="1")
FOLDER_ID = "vault"


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The vault


def make_vault(dest: Path, n: int) -> None:
    """N notes of 1–4 KB, from a fixed seed: the same vault on every machine."""
    words = [
        w.strip()
        for w in WORDS.read_text(encoding="utf-8", errors="replace").splitlines()
        if w.strip().isalpha() and "'" not in w
    ]
    rng = random.Random(SEED)
    # Zipf-like ranks: a word's weight is 1/rank over a shuffled list.
    rng.shuffle(words)
    weights = [1.0 / (r + 1) for r in range(len(words))]
    cum = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for f in range(FOLDERS):
        (partial / f"area-{f:02}").mkdir()
    titles: set[str] = set()
    for i in range(n):
        target = rng.randrange(1024, 4096)
        drawn = rng.choices(words, cum_weights=cum, k=target // 5)
        body, sentence = [], []
        size = 0
        for w in drawn:
            sentence.append(w)
            size += len(w) + 1
            if len(sentence) >= rng.randrange(6, 18):
                s = " ".join(sentence)
                body.append(s[0].upper() + s[1:] + ".")
                sentence = []
            if size >= target:
                break
        if sentence:
            s = " ".join(sentence)
            body.append(s[0].upper() + s[1:] + ".")
        paragraphs, para = [], []
        for s in body:
            para.append(s)
            if len(para) >= rng.randrange(3, 7):
                paragraphs.append(" ".join(para))
                para = []
        if para:
            paragraphs.append(" ".join(para))
        title = " ".join(rng.choices(words, cum_weights=cum, k=3)).capitalize()
        while title in titles:
            title += f" {i}"
        titles.add(title)
        text = f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n"
        name = title.replace("/", " ") + ".md"
        (partial / f"area-{i % FOLDERS:02}" / name).write_text(text, encoding="utf-8")
    partial.rename(dest)


def vault_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.md"))


# ---------------------------------------------------------------------------------------------
# Tacit


class Tacit:
    def __init__(self, binary: Path, home: Path, name: str):
        self.binary = binary
        self.home = home
        self.name = name
        self.serve: subprocess.Popen | None = None

    def run(self, *args: str, json_out: bool = False, timeout: float = TIMEOUT_S):
        cmd = [str(self.binary), "--home", str(self.home), *args]
        if json_out:
            cmd.append("--json")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=TACIT_ENV)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
        return json.loads(out.stdout) if json_out else out.stdout

    def start(self) -> None:
        self.run("init", "--name", self.name)
        self.serve = subprocess.Popen(
            [
                str(self.binary),
                "--home",
                str(self.home),
                "serve",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.home.with_suffix(".log"), "w"),
            env=TACIT_ENV,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.run("status", json_out=True, timeout=10)["serving"]:
                    return
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}'s `tacit serve` did not start")

    def stop(self) -> None:
        stop_group(self.serve)


def digest_of(node: Tacit, space: str) -> str:
    d = node.run("space", "digest", space, json_out=True)
    return d.get("digest") or json.dumps(d, sort_keys=True)


def run_tacit(binary: Path, vault: Path, n: int, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    a = Tacit(binary, work / "a", "Ada")
    b = Tacit(binary, work / "b", "Ben")
    try:
        a.start()
        b.start()
        space = a.run("space", "new", "vault", json_out=True)
        space_id = space.get("id") or space["space"]
        t = time.monotonic()
        a.run("import", str(vault), "--space", space_id)
        imported = time.monotonic() - t
        # A at rest, as Syncthing's A is once it has scanned: its notes searchable, and the
        # search index's merges after the import done (they take a core for a second or two).
        while time.monotonic() - t < TIMEOUT_S:
            s = a.run("status", json_out=True)
            if s["search"]["docs"] >= n and s["search"]["pending"] == 0:
                break
            time.sleep(POLL_S)
        settle(a.serve.pid)
        ticket = a.run("space", "invite", space_id).strip().splitlines()[-1]
        base = b.run("status", json_out=True)["notes"]

        t0 = time.monotonic()
        b.run("space", "join", ticket)
        joined = time.monotonic() - t0
        listed = searchable = None
        while time.monotonic() - t0 < TIMEOUT_S:
            s = b.run("status", json_out=True)
            now = time.monotonic() - t0
            if listed is None and s["notes"] >= base + n:
                listed = now
            if (
                listed is not None
                and s["search"]["docs"] >= base + n
                and s["search"]["pending"] == 0
            ):
                searchable = now
                break
            time.sleep(POLL_S)
        converged = listed is not None and digest_of(a, space_id) == digest_of(b, space_id)
        return {
            "import": imported,
            "joined": joined,
            "listed": listed,
            "searchable": searchable,
            "converged": converged,
            "peak_b_kb": peak_rss_kb(b.serve.pid) if b.serve else None,
        }
    finally:
        a.stop()
        b.stop()


def stop_group(proc: subprocess.Popen | None) -> None:
    """Stops a process started in a session of its own, and what it started: SIGTERM, then
    SIGKILL after 30 s."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants (Syncthing works in a child)."""
    total = 0.0
    for p in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def settle(pid: int, limit_s: float = 60.0) -> None:
    """Waits until the process (with its descendants) uses under 5% of a core over a second (at
    most `limit_s`)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.05:
            return


def peak_rss_kb(pid: int) -> int | None:
    """The peak resident memory of a process and its descendants (Syncthing runs its work in a
    child of the process started), summed: at least the peak of the whole."""
    total = None
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = (total or 0) + int(line.split()[1])
        except OSError:
            pass
    return total


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


# ---------------------------------------------------------------------------------------------
# Syncthing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Syncthing:
    def __init__(self, home: Path, folder: Path):
        self.home = home
        self.folder = folder
        self.gui = free_port()
        self.listen = free_port()
        self.proc: subprocess.Popen | None = None
        subprocess.run(
            [
                "syncthing",
                "generate",
                f"--home={home}",
                "--no-default-folder",
                "--skip-port-probing",
            ],
            check=True,
            capture_output=True,
        )
        self.device = subprocess.run(
            ["syncthing", "serve", f"--home={home}", "--device-id"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def configure(self, peer: "Syncthing") -> None:
        """The whole config: both devices at their loopback addresses, one shared folder, and
        nothing that reaches beyond loopback."""

        def device(s: Syncthing) -> str:
            return (
                f'<device id="{s.device}" name="{s.home.name}" compression="metadata" '
                f'introducer="false"><address>tcp://127.0.0.1:{s.listen}</address>'
                "<autoAcceptFolders>false</autoAcceptFolders></device>"
            )

        config = f"""<configuration version="36">
    <folder id="{FOLDER_ID}" label="vault" path="{self.folder}" type="sendreceive"
            rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="10" ignorePerms="false"
            autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="{self.device}"></device>
        <device id="{peer.device}"></device>
        <minDiskFree unit="%">1</minDiskFree>
        <markerName>.stfolder</markerName>
    </folder>
    {device(self)}
    {device(peer)}
    <gui enabled="true" tls="false">
        <address>127.0.0.1:{self.gui}</address>
        <apikey>{API_KEY}</apikey>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{self.listen}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <startBrowser>false</startBrowser>
        <urAccepted>-1</urAccepted>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
    </options>
</configuration>
"""
        (self.home / "config.xml").write_text(config)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / ".stfolder").mkdir(exist_ok=True)

    def start(self) -> None:
        env = dict(os.environ, STNODEFAULTFOLDER="1", STNOUPGRADE="1")
        self.proc = subprocess.Popen(
            [
                "syncthing",
                "serve",
                f"--home={self.home}",
                "--no-browser",
                "--no-restart",
                "--no-upgrade",
                f"--logfile={self.home}/syncthing.log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )

    def get(self, path: str):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.gui}{path}", headers={"X-API-Key": API_KEY}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def status(self) -> dict | None:
        try:
            return self.get(f"/rest/db/status?folder={FOLDER_ID}")
        except OSError:
            return None

    def stop(self) -> None:
        stop_group(self.proc)


def run_syncthing(vault: Path, n: int, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(vault, work / "folder-a")
    a = Syncthing(work / "a", work / "folder-a")
    b = Syncthing(work / "b", work / "folder-b")
    a.configure(b)
    b.configure(a)
    try:
        a.start()
        t = time.monotonic()
        while True:
            s = a.status()
            if s and s.get("state") == "idle" and s.get("localFiles", 0) >= n:
                break
            if time.monotonic() - t > TIMEOUT_S:
                raise RuntimeError("Syncthing A did not finish scanning its folder")
            time.sleep(POLL_S)
        scanned = time.monotonic() - t
        if a.proc:
            settle(a.proc.pid)

        t0 = time.monotonic()
        b.start()
        connected = synced = None
        while time.monotonic() - t0 < TIMEOUT_S:
            now = time.monotonic() - t0
            if connected is None:
                try:
                    c = a.get("/rest/system/connections")["connections"].get(b.device)
                    if c and c.get("connected"):
                        connected = now
                except OSError:
                    pass
            s = b.status()
            if (
                s
                and s.get("localFiles", 0) >= n
                and s.get("needFiles", 1) == 0
                and s.get("state") == "idle"
            ):
                synced = now
                break
            time.sleep(POLL_S)
        same = synced is not None and same_files(vault, work / "folder-b")
        return {
            "scan": scanned,
            "connected": connected,
            "synced": synced,
            "same": same,
            "peak_b_kb": peak_rss_kb(b.proc.pid) if b.proc else None,
        }
    finally:
        a.stop()
        b.stop()


def same_files(left: Path, right: Path) -> bool:
    files = vault_files(left)
    if files != vault_files(right):
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, [str(f) for f in files], shallow=False)
    return not mismatch and not errors


# ---------------------------------------------------------------------------------------------


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tacit", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    vault = args.work / f"vault-{args.notes}"
    if not vault.is_dir():
        log(f"making a vault of {args.notes} notes in {vault} (once)")
        make_vault(vault, args.notes)
    files = vault_files(vault)
    mb = sum((vault / f).stat().st_size for f in files) / 1e6
    print(
        f"Vault first sync: {len(files)} Markdown files, {mb:.1f} MB, {os.cpu_count()} cores; "
        f"Syncthing {subprocess.run(['syncthing', '--version'], capture_output=True, text=True).stdout.split()[1]}"
    )
    rows = []
    for run in range(1, args.runs + 1):
        log(f"run {run}: Tacit")
        t = run_tacit(args.tacit.resolve(), vault, len(files), args.work / "tacit-run")
        log(f"run {run}: Syncthing")
        s = run_syncthing(vault, len(files), args.work / "syncthing-run")
        rows.append((t, s))
        ratio = (
            s["synced"] / t["listed"]
            if t["listed"] and s["synced"]
            else None
        )
        print(f"  run {run}:")
        print(
            f"    Tacit:     import on A {fmt(t['import'])}; B `space join` returned at "
            f"{fmt(t['joined'])}, all listed at {fmt(t['listed'])}, searchable at "
            f"{fmt(t['searchable'])}; digests equal: {t['converged']}; "
            f"B's peak RSS {kb_mb(t['peak_b_kb'])}"
        )
        print(
            f"    Syncthing: A scanned in {fmt(s['scan'])}; B connected at "
            f"{fmt(s['connected'])}, all files synced at {fmt(s['synced'])}; files equal: "
            f"{s['same']}; B's peak RSS {kb_mb(s['peak_b_kb'])}"
        )
        print(
            "    Tacit listed everything "
            + ("— " if ratio is None else f"{ratio:.2f}×")
            + " faster than Syncthing synced it (goal ≥ 4.5×)"
        )
    ok = [(t, s) for t, s in rows if t["listed"] and s["synced"]]
    if len(ok) > 1:
        ratios = [s["synced"] / t["listed"] for t, s in ok]
        print(
            f"  median over {len(ok)} runs: Tacit listed at "
            f"{statistics.median(t['listed'] for t, _ in ok):.2f} s, Syncthing synced at "
            f"{statistics.median(s['synced'] for _, s in ok):.2f} s; ratio "
            f"{statistics.median(ratios):.2f}× (range {min(ratios):.2f}–{max(ratios):.2f}×)"
        )


def kb_mb(kb: int | None) -> str:
    return "—" if kb is None else f"{kb / 1e3:.0f} MB"


if __name__ == "__main__":
    main()
