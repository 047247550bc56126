// An in-memory stand-in for the node, for working on the UI in a browser
// (VITE_TACIT_MOCK=1, dev server only) and for component tests. It follows the node's rules
// that the UI relies on: newest change first, normalised tags, conflicts on stale heads,
// events after every committed change.

import type {
  AnswerView,
  AppState,
  Event as NodeEvent,
  Hit,
  Identity,
  LinkedDoc,
  ListItem,
  MemberInfo,
  Request,
  Response,
  Role,
  SpaceDetail,
  SpaceInfo,
  SyncState,
  TicketInfo,
  WireError,
} from "./bindings";
import { normalizeTag } from "./tags";
import { searchDocs, wikiTargets } from "./mockSearch";

interface Doc {
  id: string;
  kind: "note" | "question";
  title: string;
  body: string;
  tags: string[];
  aliases: string[];
  author: string;
  created_at: number;
  updated_at: number;
  heads: string[];
  deleted: boolean;
  answers: AnswerView[];
  space: string;
}

/** A shared space as the mock holds it. */
export interface MockSpace {
  id: string;
  name: string;
  role: Role;
  sync: SyncState;
  members: MemberInfo[];
  removed: string[];
}

interface MockTicket {
  space: string;
  name: string;
  role: Role;
  expires_at: number | null;
  inviter: string;
  uses: number | null;
}

function fail(kind: WireError["kind"], message: string): never {
  throw { kind, message } satisfies WireError;
}

function hex(n: number, seed: number): string {
  let out = "";
  let x = seed >>> 0 || 1;
  while (out.length < n) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += x.toString(16).padStart(8, "0");
  }
  return out.slice(0, n);
}

export class MockNode {
  state: "first_run" | "ready" | "failed" = "ready";
  home = "/home/you/.local/share/tacit";
  identity: Identity = {
    member: hex(52, 7),
    personal_space: hex(26, 11),
    profile: { name: "Ada Example", org: "Example Org", bio: "", expertise: [] },
  };
  docs = new Map<string, Doc>();
  /** Shared spaces (the personal one is implicit). */
  spaces = new Map<string, MockSpace>();
  /** Tickets by text, as `space_invite` made them. */
  tickets = new Map<string, MockTicket>();
  /** Spaces that `space_join` can reach, by id (what a peer holds). */
  reachable = new Map<string, { space: MockSpace; docs: Omit<Doc, "space">[] }>();
  peerCount = 0;
  listeners = new Set<(e: NodeEvent) => void>();
  stopped = false;
  private seq = 1;
  private clock = 0;

  constructor(private now: () => number = () => Date.now()) {}

  private time(): number {
    this.clock = Math.max(this.clock + 1, this.now());
    return this.clock;
  }

  private nextId(): string {
    return hex(26, 1000 + this.seq++);
  }

  private newHeads(): string[] {
    return [hex(64, 5000 + this.seq++)];
  }

  private emit(d: Doc, remote = false): void {
    const e: NodeEvent = {
      event: "document_changed",
      id: d.id,
      space: d.space,
      kind: d.kind,
      deleted: d.deleted,
      remote,
    };
    this.send(e);
  }

  /** Sends an event to the listeners. */
  send(e: NodeEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  /** The space a request names (id, prefix or name; the personal space when null). */
  private spaceOf(ref: string | null | undefined): string {
    if (ref == null || ref === this.identity.personal_space || ref === "Personal") {
      return this.identity.personal_space;
    }
    for (const s of this.spaces.values()) if (s.id === ref || s.id.startsWith(ref) || s.name === ref) return s.id;
    return fail("not_found", `no space ${ref}`);
  }

  private shared(ref: string): MockSpace {
    const id = this.spaceOf(ref);
    const s = this.spaces.get(id);
    if (!s) fail("invalid", "the personal space is not shared");
    return s;
  }

  private me(role: Role): MemberInfo {
    return {
      member: this.identity.member,
      name: this.identity.profile.name,
      org: this.identity.profile.org ?? "",
      role,
      joined_at: this.time(),
      me: true,
      connected: false,
    };
  }

  /** Adds a shared space directly (seeding); returns its id. */
  addSpace(name: string, opts: Partial<Omit<MockSpace, "id" | "name">> = {}): string {
    const id = hex(26, 7000 + this.seq++);
    this.spaces.set(id, {
      id,
      name,
      role: opts.role ?? "owner",
      sync: opts.sync ?? "offline",
      members: opts.members ?? [this.me(opts.role ?? "owner")],
      removed: opts.removed ?? [],
    });
    return id;
  }

  spaceInfos(): SpaceInfo[] {
    const personal: SpaceInfo = {
      id: this.identity.personal_space,
      name: "Personal",
      personal: true,
      role: "owner",
      members: 1,
      connected: 0,
      sync: "local",
    };
    const shared = [...this.spaces.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s) => this.info(s));
    return [personal, ...shared];
  }

  private info(s: MockSpace): SpaceInfo {
    return {
      id: s.id,
      name: s.name,
      personal: false,
      role: s.role,
      members: s.members.length,
      connected: s.members.filter((m) => m.connected && !m.me).length,
      sync: s.sync,
    };
  }

  private detail(s: MockSpace): SpaceDetail {
    const order: Role[] = ["owner", "editor", "reader"];
    return {
      info: this.info(s),
      members: [...s.members].sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role)),
      removed: [...s.removed],
    };
  }

  /** What `ticket_info` says about a ticket. */
  ticketInfo(text: string): TicketInfo {
    const t = this.tickets.get(text.trim().replace(/^tacit:\/\/join\//i, ""));
    if (!text.trim().toLowerCase().replace(/^tacit:\/\/join\//, "").startsWith("tacit1")) {
      fail("invalid", "this text does not start with tacit1 — is it a Tacit invitation?");
    }
    if (!t) fail("invalid", "the ticket is damaged or cut short — copy the whole ticket again");
    return {
      space: t.space,
      name: t.name,
      role: t.role,
      expires_at: t.expires_at,
      expired: t.expires_at !== null && t.expires_at < this.now(),
      inviter: t.inviter,
    };
  }

  private tags(tags: string[]): string[] {
    const out: string[] = [];
    for (const t of tags) {
      const n = normalizeTag(t);
      if (n === null) fail("invalid", `invalid tag "${t}"`);
      if (!out.includes(n)) out.push(n);
    }
    return out;
  }

  private title(t: string): string {
    const s = t.trim().replace(/[\r\n]+/g, " ");
    if (s === "") fail("invalid", "the title is empty");
    return s;
  }

  private get(id: string, kind: Doc["kind"]): Doc {
    const d = this.docs.get(id);
    if (!d || d.deleted || d.kind !== kind) fail("not_found", `no ${kind} ${id}`);
    return d;
  }

  /** Adds a document directly (seeding). */
  add(
    kind: Doc["kind"],
    title: string,
    body = "",
    tags: string[] = [],
    at?: number,
    space: string = this.identity.personal_space,
    aliases: string[] = [],
  ): string {
    const t = at ?? this.time();
    const id = this.nextId();
    this.docs.set(id, {
      id,
      kind,
      title,
      body,
      tags: this.tags(tags),
      aliases: [...aliases].sort(),
      author: this.identity.member,
      created_at: t,
      updated_at: t,
      heads: this.newHeads(),
      deleted: false,
      answers: [],
      space,
    });
    return id;
  }

  /** Changes a note as another writer would (a CLI or a peer), with an event. */
  remoteEdit(id: string, change: { title?: string; body?: string; tags?: string[] }): void {
    const d = this.get(id, "note");
    if (change.title !== undefined) d.title = change.title;
    if (change.body !== undefined) d.body = change.body;
    if (change.tags !== undefined) d.tags = this.tags(change.tags);
    d.updated_at = this.time();
    d.heads = this.newHeads();
    this.emit(d, true);
  }

  private list(
    kind: Doc["kind"],
    filter: (d: Doc) => boolean = () => true,
    space: string | null = null,
  ): ListItem[] {
    return [...this.docs.values()]
      .filter((d) => d.kind === kind && !d.deleted && filter(d) && (space === null || d.space === space))
      .sort((a, b) => b.updated_at - a.updated_at)
      .map((d) => ({
        id: d.id,
        kind: d.kind,
        title: d.title,
        tags: d.tags,
        author: d.author,
        space: d.space,
        created_at: d.created_at,
        updated_at: d.updated_at,
        answers: d.answers.length,
        accepted: d.answers.some((a) => a.accepted),
      }));
  }

  private spaceName(id: string): string {
    return id === this.identity.personal_space ? "Personal" : (this.spaces.get(id)?.name ?? id);
  }

  private spaceIdByName(name: string): string | null {
    try {
      return this.spaceOf(name);
    } catch {
      return null;
    }
  }

  /** A note's links both ways, by `[[title]]` or `[[alias]]` within its space. */
  private links(ref: string): { id: string; outgoing: LinkedDoc[]; unresolved: string[]; backlinks: LinkedDoc[] } {
    const d = this.get(ref, "note");
    const live = [...this.docs.values()].filter((x) => !x.deleted && x.space === d.space);
    const named = (target: string) => {
      const t = target.trim().toLowerCase();
      return live.find(
        (x) => x.kind === "note" && (x.title.toLowerCase() === t || x.aliases.some((a) => a.toLowerCase() === t)),
      );
    };
    const linked = (x: Doc): LinkedDoc => ({ id: x.id, kind: x.kind, title: x.title, space: x.space });
    const outgoing: LinkedDoc[] = [];
    const unresolved: string[] = [];
    for (const target of wikiTargets(d.body)) {
      const to = named(target);
      if (to === undefined) {
        if (!unresolved.includes(target)) unresolved.push(target);
      } else if (to.id !== d.id && !outgoing.some((o) => o.id === to.id)) {
        outgoing.push(linked(to));
      }
    }
    const names = [d.title, ...d.aliases].map((n) => n.toLowerCase());
    const backlinks = live
      .filter((x) => x.id !== d.id && wikiTargets(x.body).some((t) => names.includes(t.trim().toLowerCase())))
      .sort((a, b) => b.updated_at - a.updated_at)
      .map(linked);
    return { id: d.id, outgoing, unresolved, backlinks };
  }

  appState(): AppState {
    if (this.state === "first_run") return { state: "first_run", home: this.home };
    if (this.state === "failed") {
      return {
        state: "failed",
        home: this.home,
        error: {
          kind: "in_use",
          message: `home ${this.home} is in use by another tacit process (pid 4242); stop it or pass --home`,
        },
      };
    }
    return { state: "ready", home: this.home, identity: this.identity };
  }

  init(name: string, org: string): AppState {
    if (name.trim() === "") fail("invalid", "the name is empty");
    this.identity.profile = { name: name.trim(), org: org.trim(), bio: "", expertise: [] };
    this.state = "ready";
    return this.appState();
  }

  execute(request: Request): Response {
    if (this.stopped) fail("stopped", "the Tacit node has stopped");
    switch (request.op) {
      case "whoami":
        return { reply: "identity", ...this.identity };
      case "profile_set": {
        const e = request.edit;
        const p = this.identity.profile;
        if (e.name != null) p.name = e.name.trim();
        if (e.org != null) p.org = e.org.trim();
        if (e.bio != null) p.bio = e.bio;
        if (e.expertise != null) p.expertise = this.tags(e.expertise);
        return { reply: "identity", ...this.identity };
      }
      case "note_new":
      case "ask": {
        const kind = request.op === "ask" ? "question" : "note";
        const space = this.spaceOf(request.space);
        const shared = this.spaces.get(space);
        if (shared && shared.role === "reader") fail("refused", `readers do not write in ${shared.name}`);
        const id = this.add(
          kind,
          this.title(request.draft.title),
          request.draft.body,
          request.draft.tags,
          undefined,
          space,
          kind === "note" ? request.draft.aliases : [],
        );
        this.emit(this.get(id, kind));
        return { reply: "created", id };
      }
      case "note_list":
        return {
          reply: "list",
          items: this.list("note", undefined, this.spaceOf(request.space)).slice(0, request.limit ?? undefined),
        };
      case "note_show": {
        const d = this.get(request.id, "note");
        return {
          reply: "note",
          id: d.id,
          title: d.title,
          body: d.body,
          tags: d.tags,
          aliases: d.aliases,
          author: d.author,
          created_at: d.created_at,
          updated_at: d.updated_at,
          heads: d.heads,
        };
      }
      case "note_edit": {
        const d = this.get(request.id, "note");
        const e = request.edit;
        if (e.base != null && [...e.base].sort().join() !== [...d.heads].sort().join()) {
          fail("conflict", `note ${d.id} changed since it was read; read it again`);
        }
        const title = e.title != null ? this.title(e.title) : d.title;
        const tags = e.tags != null ? this.tags(e.tags) : d.tags;
        const body = e.body ?? d.body;
        const aliases = e.aliases != null ? [...e.aliases].sort() : d.aliases;
        const changed =
          title !== d.title || body !== d.body || tags.join() !== d.tags.join() || aliases.join() !== d.aliases.join();
        if (changed) {
          Object.assign(d, { title, body, tags, aliases, updated_at: this.time(), heads: this.newHeads() });
          this.emit(d);
        }
        return { reply: "done", id: d.id, changed, heads: d.heads };
      }
      case "note_rm": {
        const d = this.get(request.id, "note");
        d.deleted = true;
        d.heads = this.newHeads();
        this.emit(d);
        return { reply: "done", id: d.id, changed: true, heads: d.heads };
      }
      case "answer": {
        const d = this.get(request.question, "question");
        if (request.body.trim() === "") fail("invalid", "the answer is empty");
        const id = hex(26, 9000 + this.seq++);
        d.answers.push({
          id,
          author: this.identity.member,
          body: request.body,
          created_at: this.time(),
          accepted: false,
          thanked_by: [],
          score: 0,
        });
        d.updated_at = this.time();
        this.emit(d);
        return { reply: "answered", question: d.id, id };
      }
      case "accept": {
        const d = this.get(request.question, "question");
        if (d.author !== this.identity.member) fail("invalid", "only the asker can accept an answer");
        const a = d.answers.find((x) => x.id === request.answer);
        if (!a) fail("not_found", `no answer ${request.answer}`);
        for (const x of d.answers) x.accepted = x === a;
        d.updated_at = this.time();
        this.emit(d);
        return { reply: "done", id: d.id, changed: true, heads: this.newHeads() };
      }
      case "thank": {
        const d = this.get(request.question, "question");
        const a = d.answers.find((x) => x.id === request.answer);
        if (!a) fail("not_found", `no answer ${request.answer}`);
        if (a.author === this.identity.member) fail("invalid", "you cannot thank your own answer");
        const changed = !a.thanked_by.includes(this.identity.member);
        if (changed) a.thanked_by.push(this.identity.member);
        d.updated_at = this.time();
        this.emit(d);
        return { reply: "done", id: d.id, changed, heads: this.newHeads() };
      }
      case "questions":
        return {
          reply: "list",
          items: this.list(
            "question",
            (d) => !request.unanswered || !d.answers.some((a) => a.accepted),
            this.spaceOf(request.space),
          ).slice(0, request.limit ?? undefined),
        };
      case "question_show": {
        const d = this.get(request.id, "question");
        const answers = [...d.answers].sort((a, b) => Number(b.accepted) - Number(a.accepted));
        return {
          reply: "question",
          id: d.id,
          title: d.title,
          body: d.body,
          tags: d.tags,
          author: d.author,
          created_at: d.created_at,
          updated_at: d.updated_at,
          accepted: answers.find((a) => a.accepted)?.id ?? null,
          answers,
        };
      }
      case "status":
        return {
          reply: "status",
          home: this.home,
          member: this.identity.member,
          pid: 4242,
          serving: true,
          notes: this.list("note").length,
          questions: this.list("question").length,
          db_bytes: 1 << 20,
          peer_id: "12D3KooWMock",
          listen_addrs: ["/ip4/127.0.0.1/tcp/4001"],
          peers: Array.from({ length: this.peerCount }, (_, i) => ({
            peer: `12D3KooWPeer${i}`,
            member: null,
            addrs: [],
            spaces: [],
            traffic: { frames_out: 0, frames_in: 0, bytes_out: 0, bytes_in: 0, round_trips: 0 },
          })),
          spaces: this.spaceInfos(),
          search: { docs: [...this.docs.values()].filter((d) => !d.deleted).length, pending: 0, rebuilding: false },
        };
      case "space_list":
        return { reply: "spaces", items: this.spaceInfos() };
      case "space_new": {
        if (request.name.trim() === "") fail("invalid", "the space name is empty");
        const id = this.addSpace(request.name.trim());
        this.send({ event: "spaces_changed", space: id });
        return { reply: "space_created", id, name: request.name.trim() };
      }
      case "space_show":
        return { reply: "space", ...this.detail(this.shared(request.space)) };
      case "space_invite": {
        const s = this.shared(request.space);
        if (s.role !== "owner") fail("refused", `only owners invite to "${s.name}"`);
        if (request.uses === 0) fail("invalid", "an invitation for 0 uses admits nobody");
        const text = `tacit1${hex(120, 8000 + this.seq++)}`;
        const expires_at = request.expires_in == null ? null : this.now() + request.expires_in;
        this.tickets.set(text, {
          space: s.id,
          name: s.name,
          role: request.role,
          expires_at,
          inviter: this.identity.member,
          uses: request.uses,
        });
        return { reply: "ticket", ticket: text, expires_at };
      }
      case "space_join": {
        const info = this.ticketInfo(request.ticket);
        if (info.expired) fail("invalid", `this invitation expired on ${new Date(info.expires_at ?? 0).toISOString().slice(0, 16).replace("T", " ")} UTC; ask for a new one`);
        const peer = this.reachable.get(info.space);
        if (!peer) fail("offline", "the inviter could not be reached");
        const space: MockSpace = { ...peer.space, role: info.role, members: [...peer.space.members, this.me(info.role)] };
        this.spaces.set(space.id, space);
        for (const d of peer.docs) this.docs.set(d.id, { ...d, space: space.id });
        this.send({ event: "spaces_changed", space: space.id });
        return { reply: "space_created", id: space.id, name: space.name };
      }
      case "space_remove": {
        const s = this.shared(request.space);
        if (s.role !== "owner") fail("refused", `only owners remove members of "${s.name}"`);
        const m = s.members.find((x) => x.member.startsWith(request.member));
        if (!m) fail("not_found", `no member ${request.member}`);
        if (m.me) fail("invalid", "to remove yourself, leave the space");
        s.members = s.members.filter((x) => x !== m);
        s.removed.push(m.member);
        this.send({ event: "spaces_changed", space: s.id });
        return { reply: "space", ...this.detail(s) };
      }
      case "space_leave": {
        const s = this.shared(request.space);
        const detail = this.detail(s);
        this.spaces.delete(s.id);
        for (const [id, d] of this.docs) if (d.space === s.id) this.docs.delete(id);
        this.send({ event: "spaces_changed", space: s.id });
        return { reply: "space", ...detail };
      }
      case "peers":
        return { reply: "peers", items: [] };
      case "search": {
        const space = request.space == null ? null : this.spaceOf(request.space);
        const docs = [...this.docs.values()].filter((d) => !d.deleted && (space === null || d.space === space));
        const { items, total } = searchDocs(docs, request.query, request.limit ?? 20, {
          spaceName: (id) => this.spaceName(id),
          spaceId: (name) => this.spaceIdByName(name),
          authorName: (m) => (m === this.identity.member ? this.identity.profile.name : ""),
        });
        return { reply: "hits", items: items satisfies Hit[], total };
      }
      case "note_links":
        return { reply: "links", ...this.links(request.id) };
      default:
        return fail("invalid", `the mock does not do ${request.op}`);
    }
  }
}
