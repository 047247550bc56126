// Dev only (VITE_TACIT_MOCK=1 with `vite`): the UI on an in-memory node, no shell needed.
// `?mock=first_run`, `?mock=failed` and `?mock=many` (10,000 notes) pick a starting state.

import { setTransport } from "./api";
import type { Event as NodeEvent, Request } from "./bindings";
import { MockNode } from "./mockNode";

export function installMock(): MockNode {
  const node = new MockNode();
  const mode = new URLSearchParams(location.search).get("mock");
  if (mode === "first_run") node.state = "first_run";
  if (mode === "failed") node.state = "failed";
  const now = Date.now();
  if (mode === "many") {
    for (let i = 0; i < 10_000; i++) {
      node.add("note", `Note number ${i}`, `Body of note ${i}`, i % 3 === 0 ? ["bulk"] : [], now - i * 60_000);
    }
  } else if (mode !== "empty") {
    node.add("note", "Restarting the ingest worker", "When the queue backs up:\n\n```sh\nsystemctl restart ingest\n```\n\nSee [runbook](https://example.com/runbook).", ["ops", "ingest"], now - 3 * 3600_000);
    node.add("note", "Why we pin Postgres 15", "The **planner** change in 16 slowed our reporting queries.\n\n- checked with `EXPLAIN ANALYZE`\n- revisit next quarter\n\nSee [[Restarting the ingest worker]] and [[Reporting queries]].", ["postgres"], now - 26 * 3600_000);
    node.add("question", "How do I rotate the staging TLS certificate?", "The cert expires next week.", ["tls", "staging"], now - 5 * 3600_000);
    const team = node.addSpace("Platform team", { sync: "up_to_date" });
    const grace = node.addMember(
      team,
      { member: "b".repeat(52), name: "Grace Hopper", org: "Navy", joined_at: now - 86400_000, connected: true, via: "relayed" },
      { bio: "Compilers, and the odd moth.", expertise: ["compilers", "tls"] },
    );
    const bo = node.addMember(
      team,
      { name: "Bo Lindqvist", org: "Example Org", joined_at: now - 40 * 86400_000, why: "not reachable now: their device is off or offline; tried again every minute" },
      { expertise: ["postgres"] },
    );
    node.spaces.get(team)!.lastSeen[bo] = now - 26 * 3600_000;
    const deploy = node.add("note", "Deploy checklist", "1. build\n2. ship", ["ops"], now - 3 * 86400_000, team);
    node.remoteEdit(deploy, { body: "1. build\n2. run the smoke tests\n3. ship\n4. watch the error rate for 10 minutes" }, grace, now - 2 * 86400_000);
    node.remoteEdit(deploy, { body: "1. build\n2. test\n3. ship", tags: ["ops", "release"] }, node.identity.member, now - 600_000);
    const rota = node.add("note", "Pager rota for December", "Mon: Ada\nTue: Bo\nWed: Grace", ["oncall"], now - 6 * 86400_000, team);
    node.remoteDelete(rota, bo, now - 2 * 3600_000);
    const dup = node.add("question", "Where do the staging logs go?", "", ["logs"], now - 40 * 86400_000, team);
    node.remoteDelete(dup, node.identity.member, now - 28 * 86400_000);
    const scratch = node.add("note", "Scratch: ingest timings", "p50 12 ms", [], now - 5 * 86400_000);
    node.remoteDelete(scratch, node.identity.member, now - 4 * 86400_000);
    const rotate = node.add("question", "How do we rotate the staging TLS certificate?", "It expires on Friday.", ["tls"], now - 2 * 3600_000, team);
    node.docs.get(rotate)!.author = bo;
    const vacuum = node.add("question", "Why does autovacuum stall on the events table?", "", ["postgres"], now - 9 * 86400_000, team);
    node.docs.get(vacuum)!.author = grace;
    const old = node.add("question", "Which port does the ingest worker listen on?", "", ["ingest"], now - 300 * 86400_000, team);
    node.docs.get(old)!.author = bo;
    node.addAnswer(old, node.identity.member, "8081, behind the internal load balancer.", { created_at: now - 299 * 86400_000 });
    node.addAnswer(vacuum, bo, "A long-running transaction holds it back: look at `pg_stat_activity`.", {
      created_at: now - 8 * 86400_000,
      confirmed_by: [[grace, now - 3 * 86400_000]],
      fresh_since: now - 3 * 86400_000,
    });
    node.addInbox({ kind: "routed", question: rotate, at: now - 2 * 3600_000, reason: "asked of you: lists #tls as expertise" });
    node.addInbox({ kind: "stale", question: old, by: node.identity.member, by_name: node.identity.profile.name, at: now - 117 * 86400_000, reason: "your answer was last confirmed 299 days ago: is it still right?", seen: true });
    node.follows = ["postgres"];
    node.net = {
      reachability: "private",
      external_addrs: [],
      relays: [{ peer: "12D3KooWRelay", addr: "/ip4/203.0.113.10/tcp/4001/p2p/12D3KooWRelay", state: "reserved", detail: "/ip4/203.0.113.10/tcp/4001/p2p/12D3KooWRelay/p2p-circuit", source: "configured" }],
      relay_server: false,
    };
    node.identity.profile.expertise = ["tls", "ops"];
    node.peerCount = 1;
  }
  const events = new Set<(e: unknown) => void>();
  const progress = new Set<(p: unknown) => void>();
  /** A folder job that takes a second and reports ten steps, as the shell's does. */
  const job = async <T>(files: string[], result: T): Promise<T> => {
    for (let i = 0; i < files.length; i++) {
      progress.forEach((fn) => fn({ done: i, total: files.length, path: files[i] }));
      await new Promise((r) => setTimeout(r, 100));
    }
    return result;
  };
  const files = Array.from({ length: 10 }, (_, i) => `notes/file-${i + 1}.md`);
  node.listeners.add((e: NodeEvent) => {
    // Delivered asynchronously, like the shell's events.
    setTimeout(() => events.forEach((fn) => fn(e)), 5);
  });
  let capture = "Ctrl+Alt+N";
  setTransport({
    invoke: async <T>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      await new Promise((r) => setTimeout(r, 15));
      switch (cmd) {
        case "app_state":
          return node.appState() as T;
        case "init":
          return node.init(String(args?.name ?? ""), String(args?.org ?? "")) as T;
        case "execute":
          return structuredClone(node.execute(args?.request as Request)) as T;
        case "show_window":
        case "ui_painted":
          return undefined as T;
        case "network_state":
          return { state: "running", mdns: true } as T;
        case "take_link":
          return null as T;
        case "ticket_info":
          return node.ticketInfo(String(args?.ticket ?? "")) as T;
        case "import_folder":
          return (await job(files, {
            created: 8,
            updated: 1,
            unchanged: 1,
            skipped: [{ path: "attachments/diagram.png", reason: "not a Markdown file" }],
            failed: [{ path: "notes/old.md", reason: "not UTF-8 text" }],
            warnings: [{ path: "notes/file-3.md", reason: "the tag \"a b\" is not a tag; left out" }],
          })) as T;
        case "capture_settings":
          return { shortcut: capture, active: capture !== "", error: null } as T;
        case "set_capture_shortcut":
          capture = String(args?.shortcut ?? "");
          return { shortcut: capture, active: capture !== "", error: null } as T;
        case "open_capture":
        case "hide_capture":
          return undefined as T;
        case "export_folder":
          return (await job(files, { notes: 9, questions: 1, files: 10, dir: String(args?.dir ?? "") })) as T;
        case "attachment_image":
          return null as T;
        case "attachment_open":
          return undefined as T;
        case "attach_bytes":
          return `![[${String(args?.name ?? "pasted.png")}]]` as T;
        default:
          throw { kind: "internal", message: `no command ${cmd}` };
      }
    },
    listen: async <T>(event: string, handler: (payload: T) => void) => {
      if (event === "vault-progress") {
        const fn = (p: unknown) => handler(p as T);
        progress.add(fn);
        return () => progress.delete(fn);
      }
      if (event !== "node-event") return () => {};
      const fn = (e: unknown) => handler(e as T);
      events.add(fn);
      return () => events.delete(fn);
    },
  });
  (window as unknown as { tacitMock: MockNode }).tacitMock = node;
  return node;
}
