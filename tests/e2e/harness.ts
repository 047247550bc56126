/**
 * The end-to-end harness: a display, a WebDriver server, the real Tacit app, the real CLI.
 *
 * ```text
 * test ──selenium──▶ tauri-driver ──▶ WebKitWebDriver ──launches──▶ tacit-desktop --home H
 *   └──execFile──▶ tacit --home H …  ──control socket H/tacit.sock──▶ (the same app's node)
 * ```
 *
 * One Xvfb per test file (or `$DISPLAY` when set). Every test gets a fresh temporary directory
 * holding its home and its own XDG directories (so WebKit's storage never leaks between tests),
 * and its own tauri-driver on free loopback ports, whose output (the app's stderr included) is
 * kept in `driver.log` beside the home and printed when the test fails. Every process is started
 * in its own process group and the whole group is killed when the test ends, failed or not.
 *
 * Every wait is bounded and says what it waited for ({@link waitFor}); the only sleeps are
 * polling intervals.
 *
 * Environment: `TACIT_DESKTOP_BIN`, `TACIT_BIN` (default `target/debug/tacit-desktop` and
 * `target/debug/tacit`, relative to the repository root), `TAURI_DRIVER` (default
 * `~/.cargo/bin/tauri-driver`, else from `PATH`), `WEBKIT_WEBDRIVER` (default
 * `/usr/bin/WebKitWebDriver`), `TACIT_E2E_KEEP=1` to keep every test's directory (failed tests
 * always keep theirs).
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { Builder, By, Capabilities, Key, type WebDriver, type WebElement } from 'selenium-webdriver';
import { closeWindowsOf } from './x11';

export { By, Key };

/** The repository root, found from this file's location (not the working directory). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the tests and the screenshots script save their PNGs. */
export const SHOTS = path.join(ROOT, 'target', 'screenshots');

function fromRoot(envName: string, fallback: string): string {
  const v = process.env[envName];
  return path.resolve(ROOT, v && v.length > 0 ? v : fallback);
}

/** The desktop app under test. */
export const DESKTOP_BIN = fromRoot('TACIT_DESKTOP_BIN', 'target/debug/tacit-desktop');
/** The CLI, used to check what the app wrote and to change things behind its back. */
export const TACIT_BIN = fromRoot('TACIT_BIN', 'target/debug/tacit');
/** The native WebDriver that tauri-driver fronts. */
export const WEBKIT_WEBDRIVER = process.env.WEBKIT_WEBDRIVER || '/usr/bin/WebKitWebDriver';
/** tauri-driver: `cargo install tauri-driver --locked`. */
export const TAURI_DRIVER = process.env.TAURI_DRIVER || findTauriDriver();

function findTauriDriver(): string {
  const cargoBin = path.join(os.homedir(), '.cargo', 'bin', 'tauri-driver');
  if (fs.existsSync(cargoBin)) return cargoBin;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, 'tauri-driver');
    if (dir && fs.existsSync(p)) return p;
  }
  return cargoBin; // reported as missing by `checkTools`
}

/** How long the app may take from launch to a WebDriver session (a debug build, two cores). */
const SESSION_TIMEOUT_MS = 60_000;
/** How long a single WebDriver call may take before the harness calls the app hung. */
const CALL_TIMEOUT_MS = 15_000;
/** Default bound for "this element should appear / this state should be reached". */
export const UI_TIMEOUT_MS = 15_000;
/** How long one CLI command may take (a debug build opening a home). */
const CLI_TIMEOUT_MS = 30_000;
/** Polling interval of {@link waitFor}. */
const POLL_MS = 50;
/** How long a process group gets to exit after SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 3_000;

// ---------------------------------------------------------------------------------------------
// Bounded waiting

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function message(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.split('\n')[0]}`;
  return String(e);
}

/** Resolves with `p`, or rejects after `ms` with "`what` took longer than `ms` ms". */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `fn` until it returns a value other than `undefined`, `null` or `false` (which it
 * returns), for at most `timeoutMs`; a throw counts as "not yet" and is quoted in the timeout
 * error, as is the last value seen when `describe` is given.
 */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  what: string,
  timeoutMs: number = UI_TIMEOUT_MS,
  describe?: () => Promise<string> | string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    const left = Math.max(deadline - Date.now(), 1);
    try {
      const v = await withTimeout(Promise.resolve(fn()), Math.min(left + 1_000, CALL_TIMEOUT_MS), what);
      if (v !== undefined && v !== null && v !== false) return v as T;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      let detail = last === undefined ? '' : `; last error: ${message(last)}`;
      if (describe) {
        try {
          detail += `; seen: ${await withTimeout(Promise.resolve(describe()), CALL_TIMEOUT_MS, 'describe')}`;
        } catch (e) {
          detail += `; (cannot describe: ${message(e)})`;
        }
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** A started process that leads its own process group. */
export class Proc {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', () => {
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
    live.add(this);
    void this.exited.then(() => {
      // The leader is gone; its group may live on (the app under WebKitWebDriver), so it stays
      // registered until `kill` has swept the group.
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  /** SIGTERM to the whole group, SIGKILL after a grace period; resolves when the leader is gone. */
  async kill(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined) {
      signalGroup(pid, 'SIGTERM');
      // The whole group gets the grace period (an app under the driver stops its node on
      // SIGTERM), not only the leader.
      const deadline = Date.now() + TERM_GRACE_MS;
      while ((this.exit === undefined || groupAlive(pid)) && Date.now() < deadline) await sleep(POLL_MS);
      if (this.exit === undefined || groupAlive(pid)) signalGroup(pid, 'SIGKILL');
      await Promise.race([this.exited, sleep(TERM_GRACE_MS)]);
    }
    live.delete(this);
  }
}

const live = new Set<Proc>();

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Whether any process of the group still runs (zombies, which containers may never reap, do not). */
function groupAlive(pgid: number): boolean {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state, fields[2] the process group
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

// Last resort if the test process itself is ended: no Xvfb, driver or app outlives it.
process.once('exit', () => {
  for (const p of live) if (p.child.pid !== undefined) signalGroup(p.child.pid, 'SIGKILL');
});

function start(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; log?: string; stdio?: ('ignore' | 'pipe')[] } = {},
): Proc {
  const out = opts.log ? fs.openSync(opts.log, 'a') : 'ignore';
  const child = spawn(cmd, args, {
    detached: true, // its own process group, killed as a whole
    env: opts.env ?? process.env,
    stdio: (opts.stdio as never) ?? ['ignore', out, out],
  });
  if (typeof out === 'number') fs.closeSync(out);
  return new Proc(name, child);
}

/** A free TCP port on loopback (asked of the kernel; another process could take it in between). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Fails early, with the fix, when a tool the harness needs is missing. */
export function checkTools(): void {
  const need: [string, string][] = [
    [DESKTOP_BIN, 'build it: cargo build -p tacit-desktop (after npm run build --workspace ui), or set TACIT_DESKTOP_BIN'],
    [TACIT_BIN, 'build it: cargo build -p tacit-cli, or set TACIT_BIN'],
    [TAURI_DRIVER, 'install it: cargo install tauri-driver --locked, or set TAURI_DRIVER'],
    [WEBKIT_WEBDRIVER, 'install it: apt-get install webkit2gtk-driver, or set WEBKIT_WEBDRIVER'],
  ];
  const missing = need.filter(([p]) => !fs.existsSync(p)).map(([p, fix]) => `${p} is missing; ${fix}`);
  if (missing.length > 0) throw new Error(missing.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// Display

/** An X display for the app windows. */
export interface Display {
  /** `:N` */
  name: string;
  stop(): Promise<void>;
}

/** Reuses `$DISPLAY` when set; otherwise starts Xvfb on a display number it picks itself. */
export async function startDisplay(): Promise<Display> {
  if (process.env.DISPLAY) {
    return { name: process.env.DISPLAY, stop: async () => {} };
  }
  // `-displayfd 3`: Xvfb chooses a free display and writes its number on fd 3 once it accepts
  // connections, so there is neither a race on the number nor a wait on a socket file.
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1920x1200x24', '-nolisten', 'tcp', '-noreset'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc('Xvfb', child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const fd3 = child.stdio[3] as NodeJS.ReadableStream | null;
  let got = '';
  fd3?.on('data', (d: Buffer) => (got += d.toString()));
  try {
    const n = await waitFor(
      () => {
        if (proc.exit) throw new Error(`Xvfb exited (${JSON.stringify(proc.exit)}): ${stderr.trim()}`);
        const m = /^(\d+)\n/.exec(got);
        return m ? m[1] : undefined;
      },
      'Xvfb to report its display number',
      10_000,
    );
    return { name: `:${n}`, stop: () => proc.kill() };
  } catch (e) {
    await proc.kill();
    throw new Error(`cannot start Xvfb (apt-get install xvfb): ${message(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The CLI

/** What a CLI run printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where every node the tests start listens: loopback, a free TCP port. */
export const LOOPBACK_LISTEN = '/ip4/127.0.0.1/tcp/0';

/** The CLI's environment: no mDNS (a one-shot join or connect brings a network up). */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TACIT_NO_MDNS: '1' };
  delete env.TACIT_HOME;
  return env;
}

/** Runs `tacit --home HOME ARGS…` and returns what it printed, whatever its exit status. */
export function runCli(home: string, args: string[], timeoutMs = CLI_TIMEOUT_MS): Promise<CliResult> {
  const env = cliEnv();
  return new Promise((resolve, reject) => {
    execFile(
      TACIT_BIN,
      ['--home', home, ...args],
      { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException & { killed?: boolean }).killed) {
          reject(new Error(`tacit ${args.join(' ')} took longer than ${timeoutMs} ms; stderr: ${stderr}`));
          return;
        }
        if (err && typeof err.code !== 'number') {
          reject(new Error(`cannot run ${TACIT_BIN}: ${err.message}`));
          return;
        }
        resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs `tacit --home HOME ARGS… --json`, requires success and parses the output. */
export async function cliJson<T = any>(home: string, ...args: string[]): Promise<T> {
  const r = await runCli(home, [...args, '--json']);
  if (r.code !== 0) {
    throw new Error(`tacit ${args.join(' ')} --json exited ${r.code}: ${r.stderr.trim()}`);
  }
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`tacit ${args.join(' ')} --json printed no JSON: ${r.stdout.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Homes and app processes

/** A fresh temporary directory for one test: the home lives at `home` (not created yet). */
export interface TestDir {
  dir: string;
  home: string;
}

export function newTestDir(): TestDir {
  // Short base path: the home's control socket must fit in a Unix socket address (108 bytes).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tacit-e2e-'));
  return { dir, home: path.join(dir, 'home') };
}

/** Process ids of `tacit-desktop` processes running with `--home HOME` (zombies excluded). */
export function appPids(home: string): number[] {
  const pids: number[] = [];
  const binReal = realpathOr(DESKTOP_BIN);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.length < 2) continue; // zombies have no command line
      const i = argv.indexOf('--home');
      if (i < 0 || argv[i + 1] !== home) continue;
      const exe = fs.readlinkSync(`/proc/${entry}/exe`).replace(/ \(deleted\)$/, '');
      if (exe === binReal) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Whether `pid` is running (a zombie is not). */
export function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** The environment every app process gets: the display, private XDG directories, loopback only. */
export function appEnv(display: string, dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const xdg = path.join(dir, 'xdg');
  const runtime = path.join(xdg, 'runtime');
  for (const d of ['data', 'config', 'cache']) fs.mkdirSync(path.join(xdg, d), { recursive: true });
  fs.mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DISPLAY: display,
    XDG_DATA_HOME: path.join(xdg, 'data'),
    XDG_CONFIG_HOME: path.join(xdg, 'config'),
    XDG_CACHE_HOME: path.join(xdg, 'cache'),
    XDG_RUNTIME_DIR: runtime,
    NO_AT_BRIDGE: '1', // no accessibility bus under Xvfb
    TACIT_LOG: process.env.TACIT_LOG ?? 'info',
    // Loopback only (see /work/shared/SETUP.md "Network rules"): mDNS would multicast on the
    // machine's real interface, and the default listen addresses are every interface.
    TACIT_NO_MDNS: '1',
    TACIT_LISTEN: LOOPBACK_LISTEN,
    ...extra,
  };
  delete env.TACIT_HOME; // the home is always passed as --home
  delete env.WAYLAND_DISPLAY;
  return env;
}

// ---------------------------------------------------------------------------------------------
// The app under WebDriver

/** What {@link Harness.launch} takes. */
export interface LaunchOptions {
  /** Reuse this test directory (and its home) instead of a fresh one. */
  testDir?: TestDir;
  /** Extra environment for the app (e.g. `GTK_THEME`). */
  env?: Record<string, string>;
  /** Initialise the home with the CLI before launching (skips the first-run screen). */
  init?: { name: string; org?: string };
  /** More arguments for the app, after `--home HOME` (e.g. a `tacit://join/…` link). */
  args?: string[];
}

const tid = (id: string) => By.css(`[data-testid="${id}"]`);

/** One running app: its WebDriver session, its home, its tauri-driver. */
export class App {
  /** Set once the session was deleted (the app asked to close). */
  private quitted = false;

  constructor(
    readonly driver: WebDriver,
    readonly testDir: TestDir,
    readonly driverProc: Proc,
    readonly log: string,
    readonly pid: number,
    readonly display: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  get home(): string {
    return this.testDir.home;
  }

  /** `tacit --home HOME ARGS… --json`, parsed. */
  cli<T = any>(...args: string[]): Promise<T> {
    return cliJson<T>(this.home, ...args);
  }

  /** Every element with this test id, now (no waiting). */
  async all(testid: string, within?: WebElement): Promise<WebElement[]> {
    return (within ?? this.driver).findElements(tid(testid));
  }

  /** The displayed element with this test id, waiting for it to appear. */
  async el(testid: string, timeoutMs = UI_TIMEOUT_MS, within?: WebElement): Promise<WebElement> {
    return waitFor(
      async () => {
        for (const e of await this.all(testid, within)) if (await e.isDisplayed()) return e;
        return undefined;
      },
      `[data-testid=${testid}] to be displayed`,
      timeoutMs,
      () => this.describeScreen(),
    );
  }

  /** The displayed element with this test id and `data-id`, waiting for it to appear. */
  async byId(testid: string, id: string, timeoutMs = UI_TIMEOUT_MS): Promise<WebElement> {
    const sel = By.css(`[data-testid="${testid}"][data-id="${id}"]`);
    return waitFor(
      async () => {
        for (const e of await this.driver.findElements(sel)) if (await e.isDisplayed()) return e;
        return undefined;
      },
      `[data-testid=${testid}][data-id=${id}] to be displayed`,
      timeoutMs,
      () => this.describeScreen(),
    );
  }

  /** Waits until no displayed element has this test id and `data-id`. */
  async goneById(testid: string, id: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
    const sel = By.css(`[data-testid="${testid}"][data-id="${id}"]`);
    await waitFor(
      async () => {
        for (const e of await this.driver.findElements(sel)) if (await e.isDisplayed()) return false;
        return true;
      },
      `[data-testid=${testid}][data-id=${id}] to disappear`,
      timeoutMs,
      () => this.describeScreen(),
    );
  }

  /** Waits for the editor's save indicator to say `saved` (`error` fails at once). */
  async saved(timeoutMs = UI_TIMEOUT_MS): Promise<void> {
    let seen: string | null = null;
    await waitFor(
      async () => {
        seen = await this.attr('save-state', 'data-state');
        if (seen === 'error') {
          const errs = await this.all('error');
          const texts = await Promise.all(errs.map((e) => e.getText()));
          throw new Error(`the save indicator says error: ${texts.join(' | ')}`);
        }
        return seen === 'saved';
      },
      '[data-testid=save-state] data-state="saved"',
      timeoutMs,
      () => `data-state=${JSON.stringify(seen)}`,
    );
  }

  /** Fills in and submits the first-run form, and waits for the notes screen. */
  async firstRun(name: string, org: string): Promise<void> {
    await this.el('first-run', 30_000);
    await this.focused('first-run-name');
    await this.type('first-run-name', name);
    await this.type('first-run-org', org);
    await this.click('first-run-submit');
    await this.el('note-list');
    await this.gone('first-run');
  }

  /** Waits until no displayed element has this test id. */
  async gone(testid: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
    await waitFor(
      async () => {
        for (const e of await this.all(testid)) if (await e.isDisplayed()) return false;
        return true;
      },
      `[data-testid=${testid}] to disappear`,
      timeoutMs,
      () => this.describeScreen(),
    );
  }

  /** Whether an element with this test id is displayed now. */
  async shown(testid: string): Promise<boolean> {
    for (const e of await this.all(testid)) if (await e.isDisplayed()) return true;
    return false;
  }

  /** Clicks the element with this test id (waiting for it; retrying while it is re-rendered). */
  async click(testid: string, within?: WebElement): Promise<void> {
    await waitFor(
      async () => {
        const e = await this.el(testid, UI_TIMEOUT_MS, within);
        await e.click();
        return true;
      },
      `a click on [data-testid=${testid}] to land`,
    );
  }

  /** Types into the input with this test id; `clear` empties it first. */
  async type(testid: string, text: string, clear = true): Promise<WebElement> {
    const e = await this.el(testid);
    await e.click();
    if (clear && ((await e.getAttribute('value')) ?? '') !== '') {
      // Select all and delete, as a person would (fires `input`, unlike WebDriver's clear).
      await this.chord(['ctrl'], 'a');
      await e.sendKeys(Key.BACK_SPACE);
    }
    // Plain text only: WebKitWebDriver keeps a modifier pressed by Key.chord() in element
    // send-keys for the rest of the typing (Ctrl+N in the middle of a word opens a new note),
    // so every modified key goes through `chord`, which releases it.
    await e.sendKeys(text);
    return e;
  }

  /**
   * The rendered text (`innerText`, trimmed) of the element with this test id. Not WebDriver's
   * Get Element Text: WebKitWebDriver answers "" for the rows of the windowed lists (absolutely
   * placed in a scroller) although they are displayed and their innerText is right.
   */
  async text(testid: string, within?: WebElement): Promise<string> {
    const e = await this.el(testid, UI_TIMEOUT_MS, within);
    return this.driver.executeScript<string>('return arguments[0].innerText.trim();', e);
  }

  /** An attribute of the element with this test id (`null` when absent). */
  async attr(testid: string, name: string, within?: WebElement): Promise<string | null> {
    return (await this.el(testid, UI_TIMEOUT_MS, within)).getAttribute(name);
  }

  /** Waits until the attribute of the element with this test id equals `want`. */
  async waitAttr(testid: string, name: string, want: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
    let seen: string | null = null;
    await waitFor(
      async () => {
        seen = await this.attr(testid, name);
        return seen === want;
      },
      `[data-testid=${testid}] ${name}="${want}"`,
      timeoutMs,
      () => `${name}=${JSON.stringify(seen)}`,
    );
  }

  /** Presses a key with modifiers, e.g. `chord(['ctrl','shift'], 'a')`, on whatever has focus. */
  async chord(mods: ('ctrl' | 'shift' | 'alt')[], key: string): Promise<void> {
    const map = { ctrl: Key.CONTROL, shift: Key.SHIFT, alt: Key.ALT } as const;
    let a = this.driver.actions({ async: true });
    for (const m of mods) a = a.keyDown(map[m]);
    a = a.keyDown(key).keyUp(key);
    for (const m of [...mods].reverse()) a = a.keyUp(map[m]);
    await a.perform();
    try {
      await this.driver.actions().clear(); // release every key, whatever happened
    } catch {
      // nothing held
    }
  }

  /**
   * Waits until the keyboard focus is on (or inside) the element with this test id. The UI moves
   * the focus a couple of frames after a shortcut (Ctrl+N to the title, Ctrl+Shift+A to the
   * question); a person sees the caret arrive before typing, and so must the tests, or the late
   * focus move carries the rest of their typing into another field.
   */
  async focused(testid: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
    let seen: string | null = null;
    await waitFor(
      async () => {
        const where = () =>
          this.driver.executeScript<string | null>(
            `const a = document.activeElement;
             const owner = a && a.closest('[data-testid]');
             return owner ? owner.getAttribute('data-testid') : (a ? a.tagName : null);`,
          );
        seen = await where();
        if (seen !== testid) return false;
        // Let the frames pass in which a deferred focus move would still land, then look again.
        await this.frames(2);
        seen = await where();
        return seen === testid;
      },
      `the keyboard focus on [data-testid=${testid}]`,
      timeoutMs,
      () => `focus on ${JSON.stringify(seen)}`,
    );
  }

  /** Waits for `n` animation frames of the page (the window must be shown). */
  async frames(n: number): Promise<void> {
    await this.driver.executeAsyncScript(
      `const done = arguments[arguments.length - 1];
       let left = ${n};
       const step = () => (--left <= 0 ? done() : requestAnimationFrame(step));
       requestAnimationFrame(step);`,
    );
  }

  /** The note editor's CodeMirror content element. */
  async editorContent(): Promise<WebElement> {
    const body = await this.el('note-body');
    return waitFor(
      async () => {
        const c = await body.findElements(By.css('.cm-content'));
        return c[0];
      },
      'the CodeMirror .cm-content inside [data-testid=note-body]',
    );
  }

  /** The note editor's text as CodeMirror holds it (its document, not the rendered lines). */
  async editorText(): Promise<string> {
    const content = await this.editorContent();
    // The lines as rendered, without the placeholder ("Write in Markdown…") and widget buffers.
    // (CodeMirror renders every line of a short note; long ones would need its EditorView.)
    return this.driver.executeScript<string>(
      `return Array.from(arguments[0].querySelectorAll(':scope > .cm-line')).map((line) => {
         const copy = line.cloneNode(true);
         copy.querySelectorAll('.cm-placeholder, .cm-widgetBuffer').forEach((x) => x.remove());
         return copy.textContent;
       }).join('\\n');`,
      content,
    );
  }

  /** Types `text` at the end of the note body. */
  async typeAtEndOfBody(text: string): Promise<void> {
    const content = await this.editorContent();
    await content.click();
    await this.chord(['ctrl'], Key.END);
    await content.sendKeys(text);
  }

  /** A short account of what the window shows, for timeout messages. */
  async describeScreen(): Promise<string> {
    const ids = await this.driver.executeScript<string[]>(
      `return Array.from(document.querySelectorAll('[data-testid]'))
         .filter((e) => e.getClientRects().length > 0)
         .map((e) => {
           const id = e.getAttribute('data-testid');
           const extra = ['data-id', 'data-state', 'data-accepted']
             .filter((a) => e.hasAttribute(a)).map((a) => a + '=' + e.getAttribute(a)).join(' ');
           return extra ? id + '(' + extra + ')' : id;
         });`,
    );
    const errors = await this.driver.executeScript<string[]>(
      `return Array.from(document.querySelectorAll('[data-testid="error"]')).map((e) => e.textContent.trim());`,
    );
    const url = await this.driver.getCurrentUrl();
    let s = `url ${url}; test ids shown: ${ids.length ? Array.from(new Set(ids)).join(', ') : '(none)'}`;
    if (errors.length) s += `; errors shown: ${errors.join(' | ')}`;
    return s;
  }

  /** The app's output (stderr, via tauri-driver) so far. */
  logText(): string {
    try {
      return fs.readFileSync(this.log, 'utf8');
    } catch {
      return '';
    }
  }

  /** Saves a PNG of the window's page. */
  async screenshot(file: string): Promise<void> {
    // Two frames first, so that what was just rendered is painted.
    await this.driver.executeAsyncScript(
      'const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done()));',
    );
    // WebKitWebDriver answers a screenshot after the page's next rendering update. A page that
    // paints without GPU compositing (the app on a machine without a GPU render node, as under
    // Xvfb) and has nothing changing (no caret blinking) makes none, so the screenshot would
    // wait forever: until it is taken, an invisible style change asks for one every 50 ms. (A
    // fixed 2 s of asking was not always enough on a loaded machine: the screenshot request
    // came after it ended.)
    await this.driver.executeScript(
      `const root = document.documentElement;
       let n = 0;
       window.__tacitShot = setInterval(() => {
         root.style.opacity = n++ % 2 ? '' : '0.999';
       }, 50);`,
    );
    let b64: string;
    try {
      b64 = await withTimeout(this.driver.takeScreenshot(), CALL_TIMEOUT_MS, 'a screenshot');
    } finally {
      await withTimeout(
        this.driver.executeScript(
          `clearInterval(window.__tacitShot); document.documentElement.style.opacity = '';`,
        ),
        CALL_TIMEOUT_MS,
        'clearing the screenshot timer',
      ).catch(() => undefined);
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(b64, 'base64'));
  }

  /**
   * Closes the app's window as the window manager's close button would (WM_DELETE_WINDOW, see
   * `x11.ts`), waits for the app to exit by itself, then ends the WebDriver session.
   */
  async closeWindow(timeoutMs = 30_000): Promise<void> {
    const asked = await closeWindowsOf(this.display, this.pid);
    if (asked === 0) throw new Error(`no window of the app (pid ${this.pid}) accepts WM_DELETE_WINDOW on ${this.display}`);
    await waitFor(() => !running(this.pid), `the app (pid ${this.pid}) to exit after its window was closed`, timeoutMs);
    if (!this.quitted) {
      this.quitted = true;
      try {
        await withTimeout(this.driver.quit(), 15_000, 'deleting the WebDriver session');
      } catch {
        // the app is gone already; the driver may say so
      }
    }
  }

  /** Ends everything this app started, whatever state it is in. */
  async close(): Promise<void> {
    if (!this.quitted) {
      this.quitted = true;
      try {
        await withTimeout(this.driver.quit(), 15_000, 'deleting the WebDriver session');
      } catch {
        // the group kill below ends it anyway
      }
    }
    await this.driverProc.kill();
    for (const pid of appPids(this.home)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Starts tauri-driver and a session on the app; the caller owns the result. */
export async function launchApp(display: string, opts: LaunchOptions = {}): Promise<App> {
  checkTools();
  const testDir = opts.testDir ?? newTestDir();
  if (opts.init) {
    const args = ['init', '--name', opts.init.name];
    if (opts.init.org) args.push('--org', opts.init.org);
    await cliJson(testDir.home, ...args);
  }
  // WebKitWebDriver now and then never answers a new session (seen once in about 40 launches
  // of a full run, the app itself started): that launch is given up and made once more.
  try {
    return await startSession(display, opts, testDir);
  } catch (e) {
    if (!message(e).includes(NEW_SESSION)) throw e;
    for (const pid of appPids(testDir.home)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.appendFileSync(path.join(testDir.dir, 'driver.log'), `\n===== no new session; launching again =====\n`);
    return await startSession(display, opts, testDir);
  }
}

/** What a launch whose WebDriver session never started says. */
const NEW_SESSION = 'starting the app under WebDriver (new session)';

/** tauri-driver and a session on the app, for `launchApp`. */
async function startSession(display: string, opts: LaunchOptions, testDir: TestDir): Promise<App> {
  const env = appEnv(display, testDir.dir, opts.env);
  const port = await freePort();
  let nativePort = await freePort();
  while (nativePort === port) nativePort = await freePort();
  const log = path.join(testDir.dir, 'driver.log');
  fs.appendFileSync(log, `\n===== launch ${new Date().toISOString()} on ${testDir.home} =====\n`);
  const driverProc = start(
    'tauri-driver',
    TAURI_DRIVER,
    ['--port', String(port), '--native-port', String(nativePort), '--native-driver', WEBKIT_WEBDRIVER],
    { env, log },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (driverProc.exit) throw new Error(`tauri-driver exited: ${JSON.stringify(driverProc.exit)}`);
        const r = await fetch(`${url}/status`);
        return r.ok;
      },
      `tauri-driver to answer on ${url}/status`,
      20_000,
    );
    const caps = new Capabilities();
    caps.setBrowserName('wry');
    caps.set('tauri:options', { application: DESKTOP_BIN, args: ['--home', testDir.home, ...(opts.args ?? [])] });
    const driver = await withTimeout(
      Promise.resolve(new Builder().usingServer(url).withCapabilities(caps).build()),
      SESSION_TIMEOUT_MS,
      NEW_SESSION,
    );
    const pid = await waitFor(
      () => {
        const pids = appPids(testDir.home);
        return pids.length === 1 ? pids[0] : undefined;
      },
      `exactly one tacit-desktop process on ${testDir.home}`,
      10_000,
      () => `pids ${JSON.stringify(appPids(testDir.home))}`,
    );
    const app = new App(driver, testDir, driverProc, log, pid, display, env);
    // A debug build without the custom-protocol feature loads build.devUrl (a Vite server)
    // instead of the embedded ui/dist: say so rather than time out on a blank page.
    const loaded = await waitFor(
      async () => {
        const u = await driver.getCurrentUrl();
        return u.startsWith('tauri://') || u.startsWith('http://tauri.localhost') ? u : undefined;
      },
      'the app to load its embedded UI (tauri://localhost/…)',
      20_000,
      async () =>
        `url ${await driver.getCurrentUrl()} — a build without the custom-protocol feature loads ` +
        `build.devUrl from tauri.conf.json instead of the embedded ui/dist`,
    );
    void loaded;
    // A person can only use the window once it is on screen; before that WebKitGTK also runs no
    // animation frames, so focus moves the UI defers by a frame would land in the middle of the
    // test's typing.
    await waitFor(
      async () => (await driver.executeScript<string>('return document.visibilityState;')) === 'visible',
      'the window to be shown (document.visibilityState "visible")',
      20_000,
    );
    return app;
  } catch (e) {
    await driverProc.kill();
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(-30).join('\n') : '';
    throw new Error(`${message(e)}\n--- tauri-driver / app output (last 30 lines) ---\n${tail}`);
  }
}

/** Starts a second `tacit-desktop` directly (not under WebDriver), in its own process group;
 * `args` follow `--home HOME` (e.g. a `tacit://join/…` link). */
export function spawnDesktop(env: NodeJS.ProcessEnv, home: string, log: string, args: string[] = []): Proc {
  return start('tacit-desktop (second)', DESKTOP_BIN, ['--home', home, ...args], { env, log });
}

/** A peer: `tacit --home HOME serve` on loopback without mDNS, in its own process group. Kill
 * it when done (the harness kills what is left when the file ends). */
export function spawnServe(home: string, log: string): Proc {
  return start('tacit serve', TACIT_BIN, ['--home', home, 'serve', '--listen', LOOPBACK_LISTEN, '--no-mdns'], {
    env: cliEnv(),
    log,
  });
}

/** Starts a peer on `home` (initialised as `name`) and waits until it serves and listens. */
export async function startPeer(home: string, log: string, name = 'Peer', org = 'Elsewhere'): Promise<Proc> {
  await cliJson(home, 'init', '--name', name, '--org', org);
  const proc = spawnServe(home, log);
  try {
    await waitFor(
      async () => {
        if (proc.exit) throw new Error(`tacit serve exited: ${JSON.stringify(proc.exit)}`);
        const s = await cliJson(home, 'status');
        return s.serving && s.listen_addrs.length > 0;
      },
      `tacit serve on ${home} to serve and listen`,
      30_000,
      () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''),
    );
  } catch (e) {
    await proc.kill();
    throw e;
  }
  return proc;
}

// ---------------------------------------------------------------------------------------------
// Per-file lifecycle

/** What a test file gets from {@link useHarness}. */
export interface Harness {
  /** Launches the app (fresh home unless `testDir` is given); closed after the test. */
  launch(opts?: LaunchOptions): Promise<App>;
  /** The display the apps use. */
  display(): string;
  /** A fresh test directory, removed after the test (kept if it fails). */
  testDir(): TestDir;
}

/**
 * Registers hooks: one display for the file; per test, every app launched is closed and its
 * directory removed afterwards (kept, with the app output printed, when the test failed).
 */
export function useHarness(): Harness {
  let display: Display | undefined;
  let apps: App[] = [];
  let dirs: TestDir[] = [];
  let failed = false;

  beforeAll(async () => {
    checkTools();
    display = await startDisplay();
  });

  beforeEach(() => {
    failed = false;
  });

  afterEach(async (ctx) => {
    // The test's own failure is recorded on its result before the afterEach hooks run.
    const result = ctx.task.result;
    failed = result?.state === 'fail' || (result?.errors?.length ?? 0) > 0;
    const closing = apps;
    apps = [];
    for (const app of closing) await app.close();
    const keep = failed || process.env.TACIT_E2E_KEEP === '1';
    for (const d of dirs) {
      if (keep) {
        const log = path.join(d.dir, 'driver.log');
        if (failed && fs.existsSync(log)) {
          const tail = fs.readFileSync(log, 'utf8').split('\n').slice(-60).join('\n');
          console.error(`--- ${log} (last 60 lines) ---\n${tail}`);
        }
        console.error(`kept the test directory ${d.dir}`);
      } else {
        fs.rmSync(d.dir, { recursive: true, force: true });
      }
    }
    dirs = [];
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    apps = [];
    await display?.stop();
    for (const p of [...live]) await p.kill();
  });

  const track = (d: TestDir) => {
    if (!dirs.some((x) => x.dir === d.dir)) dirs.push(d);
    return d;
  };

  return {
    async launch(opts: LaunchOptions = {}) {
      if (!display) throw new Error('no display: useHarness() must be called at the top of the file');
      const testDir = track(opts.testDir ?? newTestDir());
      const app = await launchApp(display.name, { ...opts, testDir });
      apps.push(app);
      return app;
    },
    display() {
      if (!display) throw new Error('no display yet');
      return display.name;
    },
    testDir() {
      return track(newTestDir());
    },
  };
}
