/**
 * Asks an app's windows to close the way a window manager's close button does: an X11
 * `ClientMessage` of type `WM_PROTOCOLS` carrying `WM_DELETE_WINDOW`, sent to each top-level
 * window whose `_NET_WM_PID` is the app's process.
 *
 * Why not WebDriver: ending the session or closing its last window makes WebKitWebDriver kill the
 * app (`g_subprocess_force_exit`, i.e. SIGKILL, in its `SessionHost` destructor), so neither shows
 * whether closing the window stops the node cleanly. Xvfb runs no window manager, hence this
 * small client speaking the core protocol over the display's Unix socket (no auth: Xvfb as the
 * harness starts it).
 */

import net from 'node:net';

const OP = { InternAtom: 16, QueryTree: 15, GetProperty: 20, GetWindowAttributes: 3, SendEvent: 25, GetInputFocus: 43 };
/** How long the X server may take to answer one request. */
const REPLY_TIMEOUT_MS = 5_000;

class X11 {
  private buf = Buffer.alloc(0);
  private waiting: ((b: Buffer) => void) | null = null;
  private failed: Error | null = null;
  root = 0;

  private constructor(private sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.pump();
    });
    sock.on('error', (e) => {
      this.failed = e;
    });
  }

  static async connect(display: string): Promise<X11> {
    const m = /^:(\d+)(\.\d+)?$/.exec(display);
    if (!m) throw new Error(`cannot close windows on display ${display}: only local displays (:N) are supported`);
    const sock = net.createConnection(`/tmp/.X11-unix/X${m[1]}`);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const x = new X11(sock);
    const setup = Buffer.alloc(12);
    setup.write('l', 0, 'latin1'); // little-endian
    setup.writeUInt16LE(11, 2);
    setup.writeUInt16LE(0, 4);
    sock.write(setup);
    const head = await x.read(8);
    const rest = await x.read(head.readUInt16LE(6) * 4);
    if (head[0] !== 1) throw new Error(`the X server refused the connection: ${rest.toString('latin1', 0, head[1])}`);
    const vendorLen = rest.readUInt16LE(16);
    const formats = rest[21];
    const screens = 32 + Math.ceil(vendorLen / 4) * 4 + formats * 8; // offsets within `rest`
    x.root = rest.readUInt32LE(screens);
    return x;
  }

  close(): void {
    this.sock.destroy();
  }

  private pump(): void {
    if (this.waiting && this.want <= this.buf.length) {
      const out = this.buf.subarray(0, this.want);
      this.buf = this.buf.subarray(this.want);
      const w = this.waiting;
      this.waiting = null;
      w(Buffer.from(out));
    }
  }

  private want = 0;

  private read(n: number): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the X server did not answer')), REPLY_TIMEOUT_MS);
      this.want = n;
      this.waiting = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
      this.pump();
    });
  }

  /** Sends a request and returns its reply (32 bytes and what follows), skipping events. */
  private async request(req: Buffer): Promise<Buffer> {
    this.sock.write(req);
    for (;;) {
      const head = await this.read(32);
      if (head[0] === 0) throw new Error(`X error ${head[1]} for request ${req[0]}`);
      if (head[0] !== 1) continue; // an event
      const extra = head.readUInt32LE(4) * 4;
      return extra > 0 ? Buffer.concat([head, await this.read(extra)]) : head;
    }
  }

  async atom(name: string): Promise<number> {
    const n = Buffer.from(name, 'latin1');
    const padded = Math.ceil(n.length / 4) * 4;
    const req = Buffer.alloc(8 + padded);
    req[0] = OP.InternAtom;
    req.writeUInt16LE(2 + padded / 4, 2);
    req.writeUInt16LE(n.length, 4);
    n.copy(req, 8);
    return (await this.request(req)).readUInt32LE(8);
  }

  async children(window: number): Promise<number[]> {
    const req = Buffer.alloc(8);
    req[0] = OP.QueryTree;
    req.writeUInt16LE(2, 2);
    req.writeUInt32LE(window, 4);
    const r = await this.request(req);
    const n = r.readUInt16LE(16);
    return Array.from({ length: n }, (_, i) => r.readUInt32LE(32 + 4 * i));
  }

  /** A 32-bit property's values (empty when the window lacks it). */
  async property32(window: number, property: number): Promise<number[]> {
    const req = Buffer.alloc(24);
    req[0] = OP.GetProperty;
    req.writeUInt16LE(6, 2);
    req.writeUInt32LE(window, 4);
    req.writeUInt32LE(property, 8);
    req.writeUInt32LE(0, 12); // AnyPropertyType
    req.writeUInt32LE(0, 16);
    req.writeUInt32LE(64, 20);
    const r = await this.request(req);
    if (r[1] !== 32) return [];
    const n = r.readUInt32LE(16);
    return Array.from({ length: n }, (_, i) => r.readUInt32LE(32 + 4 * i));
  }

  async viewable(window: number): Promise<boolean> {
    const req = Buffer.alloc(8);
    req[0] = OP.GetWindowAttributes;
    req.writeUInt16LE(2, 2);
    req.writeUInt32LE(window, 4);
    return (await this.request(req))[26] === 2; // map-state Viewable
  }

  async clientMessage(window: number, type: number, data0: number): Promise<void> {
    const req = Buffer.alloc(44);
    req[0] = OP.SendEvent;
    req[1] = 0; // propagate: no
    req.writeUInt16LE(11, 2);
    req.writeUInt32LE(window, 4);
    req.writeUInt32LE(0, 8); // event mask: to the window's owner
    const ev = req.subarray(12);
    ev[0] = 33; // ClientMessage
    ev[1] = 32; // format
    ev.writeUInt32LE(window, 4);
    ev.writeUInt32LE(type, 8);
    ev.writeUInt32LE(data0, 12);
    ev.writeUInt32LE(0, 16); // CurrentTime
    this.sock.write(req);
    // SendEvent has no reply: a round trip makes sure the server has handled it.
    const sync = Buffer.alloc(4);
    sync[0] = OP.GetInputFocus;
    sync.writeUInt16LE(1, 2);
    await this.request(sync);
  }
}

/**
 * Sends WM_DELETE_WINDOW to every viewable top-level window of process `pid` on `display` that
 * accepts it; returns how many windows were asked.
 */
export async function closeWindowsOf(display: string, pid: number): Promise<number> {
  const x = await X11.connect(display);
  try {
    const [netWmPid, wmProtocols, wmDelete] = [
      await x.atom('_NET_WM_PID'),
      await x.atom('WM_PROTOCOLS'),
      await x.atom('WM_DELETE_WINDOW'),
    ];
    let asked = 0;
    for (const w of await x.children(x.root)) {
      const owner = await x.property32(w, netWmPid);
      if (owner[0] !== pid || !(await x.viewable(w))) continue;
      if (!(await x.property32(w, wmProtocols)).includes(wmDelete)) continue;
      await x.clientMessage(w, wmProtocols, wmDelete);
      asked += 1;
    }
    return asked;
  } finally {
    x.close();
  }
}
