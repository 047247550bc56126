// An in-memory stand-in for the node, for working on the UI in a browser
// (VITE_TACIT_MOCK=1, dev server only) and for component tests. It follows the node's rules
// that the UI relies on: newest change first, normalised tags, conflicts on stale heads,
// events after every committed change.

import type {
  Act,
  AnswerView,
  AppState,
  Event as NodeEvent,
  ExpertInfo,
  Health,
  Hit,
  Identity,
  InboxItem,
  InviteInfo,
  LinkedDoc,
  ListItem,
  MemberInfo,
  NetStatus,
  AttachmentLimitsView,
  PersonDetail,
  PersonInfo,
  Reason,
  Record as MemberRecord,
  RecordStatement,
  Request,
  Response,
  Role,
  RouteInfo,
  SpaceDetail,
  SpaceInfo,
  SpaceRecord,
  SyncState,
  TicketInfo,
  TrashItem,
  VersionInfo,
  VersionKind,
  DiffLine,
  WireError,
} from "./bindings";
import { inlineTags, normalizeTag } from "./tags";
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
  /** Notes: the answers written from it. */
  answered_in: [string, string][];
  /** Notes: the answer it was made from. */
  from_answer: [string, string] | null;
  /** Its versions, oldest first (the node reads them from the Automerge history). */
  versions: MockVersion[];
  /** When and by whom it was deleted (while `deleted`). */
  deleted_at: number | null;
  deleted_by: string | null;
}

/** One version of a document as the mock keeps it: who, when, and the text after it. */
interface MockVersion {
  id: string;
  author: string;
  started_at: number;
  ended_at: number;
  changes: number;
  kind: VersionKind;
  title: string;
  body: string;
  tags: string[];
}

/** Changes by one author closer than this make one version (the node's VERSION_PAUSE_MS). */
const VERSION_PAUSE_MS = 5 * 60_000;
/** Days the trash keeps a deleted document (the node's TRASH_DAYS). */
const TRASH_DAYS = 30;

/** A line diff (longest common subsequence) of two texts, as the node's. */
export function lineDiff(then: string, now: string): DiffLine[] {
  const lines = (s: string) => (s === "" ? [] : s.replace(/\n$/, "").split("\n"));
  const a = lines(then);
  const b = lines(now);
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ side: "both", text: a[i] });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push({ side: "then", text: a[i++] });
    } else {
      out.push({ side: "now", text: b[j++] });
    }
  }
  return out;
}

/** An answer with every field, from the ones a test cares about. */
export function answerView(a: Partial<AnswerView> & Pick<AnswerView, "id" | "author" | "body">): AnswerView {
  return {
    created_at: 0,
    accepted: false,
    thanked_by: [],
    score: 0,
    from_note: null,
    shared_as: null,
    fresh_since: a.created_at ?? 0,
    confirmed_by: [],
    ...a,
  };
}

/** A member with every field, from the ones a test cares about. */
export function memberInfo(m: Partial<MemberInfo> & Pick<MemberInfo, "member" | "name">): MemberInfo {
  return { org: "", role: "editor", joined_at: 0, me: false, connected: false, via: null, why: null, ...m };
}

/** Another member's profile, as the mock knows it. */
export interface MockProfile {
  bio: string;
  expertise: string[];
  questions_per_day: number | null;
}

const DAY_MS = 24 * 3600_000;
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** A stand-in signature: a hash of the text (the mock has no keys). */
function mockSign(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hex(128, h);
}

/** One contribution, as the mock derives it from its documents. */
interface Contribution {
  member: string;
  act: Act;
  doc: string;
  space: string;
  tags: string[];
  at: number;
  accepted: boolean;
}

function emptyRecord(): MemberRecord {
  return { answers: 0, accepted: 0, thanks_received: 0, notes: 0, questions: 0, thanks_given: 0, last_at: 0 };
}

function gives(act: Act): boolean {
  return act !== "asked";
}

/** A shared space as the mock holds it. */
export interface MockSpace {
  id: string;
  name: string;
  role: Role;
  sync: SyncState;
  members: MemberInfo[];
  removed: string[];
  /** Days after which an unconfirmed answer is possibly stale (this home's setting). */
  staleAfterDays: number;
  /** Open invitations, newest first. */
  invites: InviteInfo[];
  /** When each member's device was last seen, ms. */
  lastSeen: Record<string, number>;
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
    profile: { name: "Ada Example", org: "Example Org", bio: "", expertise: [], questions_per_day: null },
  };
  /** Other members' profiles (names come from their space membership). */
  profiles = new Map<string, MockProfile>();
  /** The inbox as the node would compute it (seeded by tests and the dev mock). */
  inboxItems: InboxItem[] = [];
  /** Tags followed. */
  follows: string[] = [];
  /** Routes of questions, when a test sets them; computed from expertise otherwise. */
  routes = new Map<string, RouteInfo[]>();
  /** The network as the node sees it. */
  net: NetStatus = { reachability: "unknown", external_addrs: [], relays: [], relay_server: false };
  limits: AttachmentLimitsView = { max_file: 100 * 1024 * 1024, space_quota: 2 * 1024 ** 3, auto_fetch: 1024 * 1024 };
  /** The personal space's stale-after setting. */
  personalStaleDays = 182;
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
      via: null,
      why: null,
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
      staleAfterDays: opts.staleAfterDays ?? 182,
      invites: opts.invites ?? [],
      lastSeen: opts.lastSeen ?? {},
    });
    return id;
  }

  /** Adds another member to a shared space (seeding); returns their id. */
  addMember(
    space: string,
    m: Partial<MemberInfo> & { name: string },
    profile: Partial<MockProfile> = {},
  ): string {
    const member = m.member ?? hex(52, 3000 + this.seq++);
    this.spaces.get(space)!.members.push(memberInfo({ ...m, member }));
    this.profiles.set(member, { bio: "", expertise: [], questions_per_day: null, ...profile });
    return member;
  }

  /** Adds an answer directly (seeding); returns its id. */
  addAnswer(question: string, author: string, body: string, opts: Partial<AnswerView> = {}): string {
    const d = this.get(question, "question");
    const id = opts.id ?? hex(26, 9000 + this.seq++);
    const at = opts.created_at ?? this.time();
    d.answers.push(answerView({ id, author, body, created_at: at, fresh_since: at, ...opts }));
    return id;
  }

  /** Puts an item in the inbox (seeding) and says so as the node does; returns it. */
  addInbox(item: Partial<InboxItem> & Pick<InboxItem, "kind" | "question">, announce = false): InboxItem {
    const q = this.docs.get(item.question);
    const full: InboxItem = {
      key: `${item.kind}:${item.question}${item.answer ? `:${item.answer}` : ""}`,
      title: q?.title ?? "",
      space: q?.space ?? this.identity.personal_space,
      answer: null,
      by: q?.author ?? this.identity.member,
      by_name: q ? this.nameOf(q.author) : "",
      at: this.now(),
      reason: "",
      seen: false,
      ...item,
    };
    this.inboxItems = [full, ...this.inboxItems.filter((i) => i.key !== full.key)];
    if (announce) this.send({ event: "inbox_changed" });
    return full;
  }

  /** A member's name: their profile, else what they joined with, else the start of their id. */
  nameOf(member: string): string {
    if (member === this.identity.member) return this.identity.profile.name;
    for (const s of this.spaces.values()) {
      const m = s.members.find((x) => x.member === member);
      if (m?.name) return m.name;
    }
    return member.slice(0, 8);
  }

  private orgOf(member: string): string {
    if (member === this.identity.member) return this.identity.profile.org;
    for (const s of this.spaces.values()) {
      const m = s.members.find((x) => x.member === member);
      if (m) return m.org;
    }
    return "";
  }

  private isPartner(org: string): boolean {
    const mine = this.identity.profile.org.trim().toLowerCase();
    return org.trim() !== "" && mine !== "" && org.trim().toLowerCase() !== mine;
  }

  private profileOf(member: string): MockProfile {
    if (member === this.identity.member) {
      const p = this.identity.profile;
      return { bio: p.bio, expertise: p.expertise, questions_per_day: p.questions_per_day };
    }
    return this.profiles.get(member) ?? { bio: "", expertise: [], questions_per_day: null };
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
      stale_after_days: this.personalStaleDays,
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
      stale_after_days: s.staleAfterDays,
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
      answered_in: [],
      from_answer: null,
      versions: [],
      deleted_at: null,
      deleted_by: null,
    });
    const d = this.docs.get(id)!;
    this.record(d, this.identity.member, t, "created");
    return id;
  }

  /** Changes a note as another writer would (a CLI or a peer), with an event. `at` and `by`
   * seed a history (another member's edit, some time ago). */
  remoteEdit(
    id: string,
    change: { title?: string; body?: string; tags?: string[] },
    by: string = this.identity.member,
    at?: number,
  ): void {
    const d = this.get(id, "note");
    if (change.title !== undefined) d.title = change.title;
    if (change.body !== undefined) d.body = change.body;
    if (change.tags !== undefined) d.tags = this.tags(change.tags);
    d.updated_at = at ?? this.time();
    d.heads = this.newHeads();
    this.record(d, by, d.updated_at, "edited");
    this.emit(d, true);
  }

  /** Deletes a document as `by` would (seeding the trash), at `at`. */
  remoteDelete(id: string, by: string, at: number): void {
    const d = this.docs.get(id);
    if (!d) fail("not_found", `no document ${id}`);
    Object.assign(d, { deleted: true, deleted_at: at, deleted_by: by, heads: this.newHeads() });
    this.record(d, by, at, "deleted");
    this.emit(d, true);
  }

  /** Records a change of `d` in its history: a new version, or the last one grown when it is
   * the same author's edit within the pause. */
  private record(d: Doc, author: string, at: number, kind: VersionKind): void {
    const last = d.versions.at(-1);
    const snapshot = { title: d.title, body: d.body, tags: [...d.tags] };
    if (
      last &&
      kind === "edited" &&
      (last.kind === "edited" || last.kind === "created") &&
      last.author === author &&
      Math.abs(at - last.ended_at) <= VERSION_PAUSE_MS
    ) {
      Object.assign(last, snapshot, { ended_at: at, changes: last.changes + 1, id: hex(64, 8000 + this.seq++) });
      return;
    }
    d.versions.push({ id: hex(64, 8000 + this.seq++), author, started_at: at, ended_at: at, changes: 1, kind, ...snapshot });
  }

  private versionInfo(d: Doc, i: number): VersionInfo {
    const v = d.versions[i];
    const before = i > 0 ? d.versions[i - 1] : { title: "", body: "" };
    const grown = v.title.length + v.body.length - (before.title.length + before.body.length);
    return {
      id: v.id.slice(0, 12),
      author: v.author,
      author_name: this.nameOf(v.author),
      started_at: v.started_at,
      ended_at: v.ended_at,
      changes: v.changes,
      added: Math.max(0, grown),
      removed: Math.max(0, -grown),
      kind: v.kind,
      current: i === d.versions.length - 1,
    };
  }

  private findVersion(d: Doc, prefix: string): number {
    const p = prefix.toLowerCase();
    const found = d.versions.map((v, i) => [v, i] as const).filter(([v]) => p.length >= 4 && v.id.startsWith(p));
    if (found.length === 0) fail("not_found", `the note has no version ${prefix}`);
    if (found.length > 1) fail("not_found", `version id ${prefix} is ambiguous; give more characters`);
    return found[0][1];
  }

  private trashItems(space: string | null): TrashItem[] {
    const now = this.now();
    return [...this.docs.values()]
      .filter((d) => d.deleted && d.deleted_at !== null && now - d.deleted_at < TRASH_DAYS * DAY_MS)
      .filter((d) => space === null || d.space === space)
      .sort((a, b) => (b.deleted_at ?? 0) - (a.deleted_at ?? 0))
      .map((d) => ({
        id: d.id,
        kind: d.kind,
        title: d.title,
        space: d.space,
        space_name: d.space === this.identity.personal_space ? "Personal" : (this.spaces.get(d.space)?.name ?? ""),
        deleted_at: d.deleted_at ?? 0,
        deleted_by: d.deleted_by,
        deleted_by_name: d.deleted_by ? this.nameOf(d.deleted_by) : null,
        days_left: Math.max(0, Math.ceil(((d.deleted_at ?? 0) + TRASH_DAYS * DAY_MS - now) / DAY_MS)),
      }));
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
        // A note's inline #tags count as its tags, as the node lists them.
        tags: d.kind === "note" ? [...new Set([...d.tags, ...inlineTags(d.body)])].sort() : d.tags,
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

  // ---- people and giving ------------------------------------------------------------------

  /** What each member did, from the documents of `space` (every shared space when null). */
  private contributions(space: string | null): Contribution[] {
    const out: Contribution[] = [];
    for (const d of this.docs.values()) {
      if (d.deleted || d.space === this.identity.personal_space) continue;
      if (space !== null && d.space !== space) continue;
      const base = { doc: d.id, space: d.space, tags: d.tags, accepted: false };
      if (d.kind === "note") {
        out.push({ ...base, member: d.author, act: "wrote", at: d.updated_at });
        continue;
      }
      out.push({ ...base, member: d.author, act: "asked", at: d.created_at });
      for (const a of d.answers) {
        out.push({ ...base, member: a.author, act: "answered", at: a.created_at, accepted: a.accepted && a.author !== d.author });
        for (const t of a.thanked_by) if (t !== a.author) out.push({ ...base, member: t, act: "thanked", at: a.created_at });
        for (const [m, at] of a.confirmed_by) out.push({ ...base, member: m, act: "confirmed", at });
      }
    }
    return out;
  }

  private records(cs: Contribution[]): Map<string, MemberRecord> {
    const out = new Map<string, MemberRecord>();
    const get = (m: string) => {
      let r = out.get(m);
      if (!r) out.set(m, (r = emptyRecord()));
      return r;
    };
    for (const c of cs) {
      const r = get(c.member);
      r.last_at = Math.max(r.last_at, c.at);
      if (c.act === "answered") {
        r.answers += 1;
        if (c.accepted) r.accepted += 1;
      } else if (c.act === "wrote") r.notes += 1;
      else if (c.act === "asked") r.questions += 1;
      else if (c.act === "thanked") r.thanks_given += 1;
    }
    for (const d of this.docs.values()) {
      if (d.deleted || d.kind !== "question") continue;
      for (const a of d.answers) if (out.has(a.author)) get(a.author).thanks_received += a.thanked_by.filter((t) => t !== a.author).length;
    }
    return out;
  }

  /** Current members of `space`, or of every shared space. */
  private membersIn(space: string | null): Map<string, MemberInfo> {
    const out = new Map<string, MemberInfo>();
    for (const s of this.spaces.values()) {
      if (space !== null && s.id !== space) continue;
      for (const m of s.members) if (!out.has(m.member)) out.set(m.member, m);
    }
    return out;
  }

  private experts(topic: string, space: string | null, exclude: string[] = []): ExpertInfo[] {
    const tags = new Set<string>();
    for (const raw of topic.split(/\s+/)) {
      const t = raw.replace(/^#/, "").replace(/^tag:/i, "").toLowerCase();
      if (t !== "") tags.add(t);
    }
    if (tags.size === 0) fail("invalid", "say what about: tags (#tls) or words (certificate rotation)");
    const among = this.membersIn(space);
    // The node's weights (tacit-core people.rs), without recency.
    const weight: Record<Act, number> = { answered: 3, wrote: 2, confirmed: 1, thanked: 0, asked: 0.5 };
    const acc = new Map<string, { score: number; reasons: Map<string, Reason> }>();
    const entry = (m: string) => {
      let a = acc.get(m);
      if (!a) acc.set(m, (a = { score: 0, reasons: new Map() }));
      return a;
    };
    const nouns: Record<Act, [string, string]> = {
      answered: ["answer", "answers"],
      wrote: ["note", "notes"],
      asked: ["question asked", "questions asked"],
      confirmed: ["answer confirmed", "answers confirmed"],
      thanked: ["thank", "thanks"],
    };
    for (const c of this.contributions(space)) {
      if (!among.has(c.member) || exclude.includes(c.member)) continue;
      const tag = c.tags.find((t) => tags.has(t));
      if (tag === undefined) continue;
      const a = entry(c.member);
      a.score += weight[c.act] + (c.accepted ? 5 : 0);
      const key = `${c.act}:${c.accepted}:${tag}`;
      const r = a.reasons.get(key) ?? { act: c.act, accepted: c.accepted, about: `#${tag}`, count: 0, last_at: 0, declared: false, text: "" };
      r.count += 1;
      r.last_at = Math.max(r.last_at, c.at);
      const noun = c.accepted ? (r.count === 1 ? "accepted answer" : "accepted answers") : nouns[c.act][r.count === 1 ? 0 : 1];
      const when = new Date(r.last_at);
      r.text = `${r.count} ${noun} on #${tag}, last in ${MONTHS[when.getMonth()]} ${when.getFullYear()}`;
      a.reasons.set(key, r);
    }
    for (const m of among.keys()) {
      if (exclude.includes(m)) continue;
      for (const t of this.profileOf(m).expertise.filter((x) => tags.has(x))) {
        const a = entry(m);
        a.score += 2.5;
        a.reasons.set(`declared:${t}`, { act: "wrote", accepted: true, about: `#${t}`, count: 1, last_at: 0, declared: true, text: `lists #${t} as expertise` });
      }
    }
    return [...acc.entries()]
      .filter(([, a]) => a.score > 0)
      .sort((x, y) => y[1].score - x[1].score || x[0].localeCompare(y[0]))
      .map(([member, a]) => {
        const org = this.orgOf(member);
        return {
          member,
          name: this.nameOf(member),
          org,
          partner: this.isPartner(org),
          score: a.score,
          reasons: [...a.reasons.values()].sort((x, y) => y.count - x.count).slice(0, 3),
        };
      });
  }

  private peopleOf(space: string): PersonInfo[] {
    const s = this.shared(space);
    const recs = this.records(this.contributions(s.id));
    const topics = new Map<string, Map<string, number>>();
    for (const c of this.contributions(s.id).filter((c) => gives(c.act))) {
      const t = topics.get(c.member) ?? new Map<string, number>();
      for (const tag of c.tags) t.set(tag, (t.get(tag) ?? 0) + 1);
      topics.set(c.member, t);
    }
    const gave = (r: MemberRecord) => r.answers * 3 + r.accepted * 2 + r.notes + r.thanks_given;
    return s.members
      .map((m) => {
        const org = m.me ? this.identity.profile.org : m.org;
        const connected = !m.me && m.connected;
        return {
          member: m.member,
          name: this.nameOf(m.member),
          org,
          partner: !m.me && this.isPartner(org),
          role: m.role,
          expertise: this.profileOf(m.member).expertise,
          topics: [...(topics.get(m.member) ?? new Map<string, number>()).entries()]
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .slice(0, 5)
            .map(([t]) => t),
          record: recs.get(m.member) ?? emptyRecord(),
          last_seen: connected ? this.now() : (s.lastSeen[m.member] ?? null),
          connected,
          me: m.me,
        };
      })
      .sort((a, b) => gave(b.record) - gave(a.record) || a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
  }

  private spaceRecords(member: string, cs: Contribution[]): SpaceRecord[] {
    const per = new Map<string, Contribution[]>();
    for (const c of cs.filter((c) => c.member === member)) per.set(c.space, [...(per.get(c.space) ?? []), c]);
    return [...per.entries()].map(([space, list]) => ({
      space,
      name: this.spaceName(space),
      record: this.records(list).get(member) ?? emptyRecord(),
    }));
  }

  private personOf(ref: string): PersonDetail {
    const known = new Set<string>([this.identity.member]);
    for (const s of this.spaces.values()) for (const m of s.members) known.add(m.member);
    const lower = ref.trim().toLowerCase();
    const found = [...known].filter((m) => (lower.length >= 4 && m.startsWith(lower)) || this.nameOf(m).toLowerCase() === lower);
    if (found.length !== 1) fail("not_found", found.length === 0 ? `nobody called "${ref}" in your spaces` : `"${ref}" names several members; give more of the member id`);
    const member = found[0];
    const all = this.contributions(null);
    const mine = all.filter((c) => c.member === member);
    const topics = new Map<string, number>();
    for (const c of mine.filter((c) => gives(c.act))) for (const t of c.tags) topics.set(t, (topics.get(t) ?? 0) + 1);
    const org = this.orgOf(member);
    let lastSeen: number | null = null;
    for (const s of this.spaces.values()) {
      const m = s.members.find((x) => x.member === member);
      if (m?.connected && !m.me) lastSeen = this.now();
      else if (s.lastSeen[member] !== undefined) lastSeen = Math.max(lastSeen ?? 0, s.lastSeen[member]);
    }
    const p = this.profileOf(member);
    return {
      member,
      name: this.nameOf(member),
      org,
      bio: p.bio,
      expertise: p.expertise,
      partner: member !== this.identity.member && this.isPartner(org),
      record: this.records(mine).get(member) ?? emptyRecord(),
      spaces: this.spaceRecords(member, all),
      topics: [...topics.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10),
      recent: [...mine]
        .sort((a, b) => b.at - a.at)
        .slice(0, 20)
        .map((c) => ({ act: c.act, doc: c.doc, title: this.docs.get(c.doc)?.title ?? "", space: c.space, at: c.at, accepted: c.accepted })),
      last_seen: lastSeen,
    };
  }

  private routesOf(question: string): RouteInfo[] {
    const q = this.get(question, "question");
    const set = this.routes.get(q.id);
    if (set) return set;
    const s = this.spaces.get(q.space);
    if (!s || q.tags.length === 0) return [];
    const eligible = new Set(s.members.filter((m) => m.role !== "reader").map((m) => m.member));
    return this.experts(q.tags.map((t) => `#${t}`).join(" "), s.id, [q.author])
      .filter((e) => eligible.has(e.member))
      .slice(0, 3)
      .map((e) => ({ member: e.member, name: e.name, round: 0, at: q.created_at }));
  }

  private health(space: string): Health {
    const s = this.shared(space);
    const now = this.now();
    const members = new Set(s.members.map((m) => m.member));
    const month = new Date(now);
    const monthStart = Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1);
    const givers = new Set<string>();
    const tally = new Map<string, number>();
    const asked = new Map<string, number>();
    const first = new Map<string, number>();
    for (const c of this.contributions(s.id)) {
      if (gives(c.act) && members.has(c.member)) {
        if (now - c.at <= 30 * DAY_MS) givers.add(c.member);
        if (c.at >= monthStart) tally.set(c.member, (tally.get(c.member) ?? 0) + 1);
      }
      if (c.act === "asked") asked.set(c.doc, c.at);
      if (c.act === "answered") first.set(c.doc, Math.min(first.get(c.doc) ?? Infinity, c.at));
    }
    const waits = [...asked.entries()].filter(([q]) => first.has(q)).map(([q, at]) => Math.max(0, first.get(q)! - at)).sort((a, b) => a - b);
    const unanswered = [...asked.entries()].filter(([q]) => !first.has(q)).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    const questions = asked.size;
    const answered = questions - unanswered.length;
    return {
      members: members.size,
      givers_30d: givers.size,
      giver_share: members.size === 0 ? 0 : givers.size / members.size,
      median_first_answer_ms: waits.length === 0 ? null : waits[Math.floor(waits.length / 2)],
      questions,
      answered,
      answered_share: questions === 0 ? 1 : answered / questions,
      unanswered,
      top_givers: [...tally.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5),
    };
  }

  private statement(): RecordStatement {
    const me = this.identity.member;
    const all = this.contributions(null);
    const unsigned: RecordStatement = {
      tacit_record: 1,
      member: me,
      name: this.identity.profile.name,
      org: this.identity.profile.org,
      made_at: this.now(),
      record: this.records(all.filter((c) => c.member === me)).get(me) ?? emptyRecord(),
      spaces: this.spaceRecords(me, all),
      signature: "",
    };
    return { ...unsigned, signature: mockSign(JSON.stringify(unsigned)) };
  }

  private verify(text: string): RecordStatement {
    let st: RecordStatement;
    try {
      st = JSON.parse(text) as RecordStatement;
    } catch {
      return fail("invalid", "this is not a record statement: paste the whole text that “Export my record” made, from { to }");
    }
    if (typeof st !== "object" || st === null || st.tacit_record !== 1 || typeof st.signature !== "string") {
      return fail("invalid", "this is not a record statement of a format this Tacit knows");
    }
    if (mockSign(JSON.stringify({ ...st, signature: "" })) !== st.signature) {
      return fail("invalid", `the signature does not hold: the statement was changed after ${st.name || "its member"} signed it`);
    }
    return st;
  }

  private note(id: string): Doc {
    return this.get(id, "note");
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
    this.identity.profile = { name: name.trim(), org: org.trim(), bio: "", expertise: [], questions_per_day: null };
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
        if (e.questions_per_day != null) p.questions_per_day = Math.min(50, e.questions_per_day);
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
          inline_tags: inlineTags(d.body).filter((t) => !d.tags.includes(t)),
          aliases: d.aliases,
          author: d.author,
          created_at: d.created_at,
          updated_at: d.updated_at,
          heads: d.heads,
          answered_in: d.answered_in.map(([q, a]) => [q, a] as [string, string]),
          from_answer: d.from_answer,
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
          this.record(d, this.identity.member, d.updated_at, "edited");
          this.emit(d);
        }
        return { reply: "done", id: d.id, changed, heads: d.heads };
      }
      case "note_rm":
      case "question_rm": {
        const d = this.get(request.id, request.op === "note_rm" ? "note" : "question");
        const at = this.time();
        Object.assign(d, { deleted: true, deleted_at: at, deleted_by: this.identity.member, heads: this.newHeads() });
        this.record(d, this.identity.member, at, "deleted");
        this.emit(d);
        return { reply: "done", id: d.id, changed: true, heads: d.heads };
      }
      case "note_history": {
        const d = this.get(request.id, "note");
        const items = d.versions.map((_, i) => this.versionInfo(d, i)).reverse();
        return { reply: "history", id: d.id, items };
      }
      case "note_version": {
        const d = this.get(request.id, "note");
        const i = this.findVersion(d, request.version);
        const v = d.versions[i];
        return {
          reply: "version",
          note: d.id,
          version: this.versionInfo(d, i),
          title: v.title,
          body: v.body,
          tags: v.tags,
          title_now: d.title,
          tags_now: d.tags,
          diff: lineDiff(v.body, d.body),
        };
      }
      case "note_restore": {
        const d = this.get(request.id, "note");
        const v = d.versions[this.findVersion(d, request.version)];
        const changed = v.title !== d.title || v.body !== d.body || v.tags.join() !== d.tags.join();
        if (changed) {
          Object.assign(d, { title: v.title, body: v.body, tags: [...v.tags], updated_at: this.time(), heads: this.newHeads() });
          this.record(d, this.identity.member, d.updated_at, "edited");
          this.emit(d);
        }
        return { reply: "done", id: d.id, changed, heads: d.heads };
      }
      case "trash":
        return { reply: "trash", items: this.trashItems(request.space == null ? null : this.spaceOf(request.space)) };
      case "restore": {
        const p = request.id.toLowerCase();
        const found = this.trashItems(null).filter((t) => p.length >= 4 && t.id.startsWith(p));
        if (found.length !== 1) {
          const live = [...this.docs.values()].some((d) => !d.deleted && d.id.startsWith(p));
          fail(live ? "invalid" : "not_found", live ? `${request.id} is not in the trash` : `no document ${request.id}`);
        }
        const d = this.docs.get(found[0].id)!;
        const s = this.spaces.get(d.space);
        if (s && s.role === "reader") fail("refused", `you are a reader in "${s.name}": only editors and owners write there`);
        const at = this.time();
        Object.assign(d, { deleted: false, deleted_at: null, deleted_by: null, updated_at: at, heads: this.newHeads() });
        this.record(d, this.identity.member, at, "restored");
        this.emit(d);
        return { reply: "done", id: d.id, changed: true, heads: d.heads };
      }
      case "answer": {
        const d = this.get(request.question, "question");
        if (request.body.trim() === "") fail("invalid", "the answer is empty");
        const id = this.addAnswer(d.id, this.identity.member, request.body);
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
            via: "direct" as const,
            relay: null,
            addrs: [],
            spaces: [],
            traffic: { frames_out: 0, frames_in: 0, bytes_out: 0, bytes_in: 0, round_trips: 0 },
          })),
          spaces: this.spaceInfos(),
          search: { docs: [...this.docs.values()].filter((d) => !d.deleted).length, pending: 0, rebuilding: false },
          ...structuredClone(this.net),
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
        s.invites.unshift({
          id: hex(64, 8500 + this.seq++),
          role: request.role,
          expires_at,
          uses: request.uses,
          uses_left: request.uses,
          used: 0,
          by: this.identity.member,
          by_name: this.identity.profile.name,
          created_at: this.now(),
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
      case "space_invites":
        return { reply: "invites", space: this.shared(request.space).id, items: structuredClone(this.shared(request.space).invites) };
      case "space_revoke_invite": {
        const s = this.shared(request.space);
        if (s.role !== "owner") fail("refused", `only owners withdraw invitations of "${s.name}"`);
        const wanted = request.invite.trim().toLowerCase();
        const found = s.invites.filter((i) => wanted.length >= 4 && i.id.startsWith(wanted));
        if (found.length !== 1) fail("not_found", `"${s.name}" has no invitation ${request.invite}`);
        s.invites = s.invites.filter((i) => i !== found[0]);
        this.send({ event: "spaces_changed", space: s.id });
        return { reply: "invites", space: s.id, items: structuredClone(s.invites) };
      }
      case "space_settings": {
        const id = this.spaceOf(request.space);
        const days = request.stale_after_days;
        if (days != null) {
          if (days < 1 || days > 3650) fail("invalid", `an answer can be marked stale after 1 to 3650 days, not ${days}`);
          if (id === this.identity.personal_space) this.personalStaleDays = days;
          else this.spaces.get(id)!.staleAfterDays = days;
          this.send({ event: "spaces_changed", space: id });
          this.send({ event: "inbox_changed" });
        }
        if (id === this.identity.personal_space) {
          return { reply: "space", info: this.spaceInfos()[0], members: [], removed: [] };
        }
        return { reply: "space", ...this.detail(this.shared(id)) };
      }
      case "who": {
        const space = request.space == null ? null : this.shared(request.space).id;
        return { reply: "experts", items: this.experts(request.topic, space).slice(0, request.limit ?? 10) };
      }
      case "people": {
        const s = this.shared(request.space);
        return { reply: "people", space: s.id, items: this.peopleOf(s.id) };
      }
      case "person":
        return { reply: "person", ...this.personOf(request.member) };
      case "question_routes": {
        const q = this.get(request.question, "question");
        return { reply: "routes", question: q.id, items: structuredClone(this.routesOf(q.id)) };
      }
      case "inbox": {
        const items = [...this.inboxItems].sort((a, b) => b.at - a.at || a.key.localeCompare(b.key));
        return { reply: "inbox", items: structuredClone(items), unread: items.filter((i) => !i.seen).length };
      }
      case "inbox_seen": {
        for (const i of this.inboxItems) if (request.keys.includes(i.key)) i.seen = true;
        this.send({ event: "inbox_changed" });
        return { reply: "following", tags: [...this.follows] };
      }
      case "follow":
      case "unfollow": {
        const tag = this.tags([request.tag])[0];
        this.follows = this.follows.filter((t) => t !== tag);
        if (request.op === "follow") this.follows = [...this.follows, tag].sort();
        this.send({ event: "inbox_changed" });
        return { reply: "following", tags: [...this.follows] };
      }
      case "following":
        return { reply: "following", tags: [...this.follows] };
      case "record": {
        const member = request.member == null ? this.identity.member : this.personOf(request.member).member;
        const space = request.space == null ? null : this.shared(request.space).id;
        const all = this.contributions(space);
        return {
          reply: "record",
          member,
          name: this.nameOf(member),
          record: this.records(all.filter((c) => c.member === member)).get(member) ?? emptyRecord(),
          spaces: this.spaceRecords(member, all),
        };
      }
      case "record_export":
        return { reply: "record_statement", statement: JSON.stringify(this.statement(), null, 2) };
      case "record_verify":
        return { reply: "record_verified", ...this.verify(request.statement) };
      case "space_health": {
        const s = this.shared(request.space);
        const health = this.health(s.id);
        return {
          reply: "health",
          space: s.id,
          health,
          unanswered_titles: health.unanswered.map(([q]) => this.docs.get(q)?.title ?? ""),
          top_giver_names: health.top_givers.map(([m]) => this.nameOf(m)),
        };
      }
      case "confirm": {
        const d = this.get(request.question, "question");
        const a = d.answers.find((x) => x.id.startsWith(request.answer));
        if (!a) fail("not_found", `no answer ${request.answer}`);
        const shared = this.spaces.get(d.space);
        if (shared && shared.role === "reader") fail("refused", `readers do not write in ${shared.name}`);
        const at = this.time();
        a.confirmed_by = [[this.identity.member, at], ...a.confirmed_by.filter(([m]) => m !== this.identity.member)];
        a.fresh_since = at;
        d.updated_at = at;
        d.heads = this.newHeads();
        this.emit(d);
        return { reply: "done", id: d.id, changed: true, heads: d.heads };
      }
      case "answer_with_note": {
        const q = this.get(request.question, "question");
        const n = this.note(request.note);
        const shared = this.spaces.get(q.space);
        if (shared && shared.role === "reader") fail("refused", `readers do not write in ${shared.name}`);
        const id = this.addAnswer(q.id, this.identity.member, n.body.trim() === "" ? n.title : n.body, { from_note: n.id });
        q.updated_at = this.time();
        this.emit(q);
        if (this.spaces.get(n.space)?.role !== "reader") {
          n.answered_in.push([q.id, id]);
          n.updated_at = this.time();
          n.heads = this.newHeads();
          this.emit(n);
        }
        return { reply: "answered", question: q.id, id };
      }
      case "share_as_note": {
        const q = this.get(request.question, "question");
        const a = q.answers.find((x) => x.id.startsWith(request.answer));
        if (!a) fail("not_found", `no answer ${request.answer}`);
        const space = this.spaceOf(request.space);
        const shared = this.spaces.get(space);
        if (shared && shared.role === "reader") fail("refused", `readers do not write in ${shared.name}`);
        const id = this.add("note", q.title, a.body, q.tags, undefined, space);
        this.note(id).from_answer = [q.id, a.id];
        this.emit(this.note(id));
        if (a.author === this.identity.member) {
          a.shared_as = id;
          this.emit(q);
        }
        return { reply: "created", id };
      }
      case "network":
        return { reply: "network", ...structuredClone(this.net) };
      case "relay_add": {
        const addr = request.addr.trim();
        const m = /^\/.+\/p2p\/([A-Za-z0-9]+)$/.exec(addr);
        if (!m) fail("invalid", `"${addr}" is not a relay address: it looks like /ip4/203.0.113.10/tcp/4001/p2p/12D3KooW…`);
        if (!this.net.relays.some((r) => r.peer === m[1])) {
          this.net.relays.push({ peer: m[1], addr, state: "pending", detail: null, source: "configured" });
        }
        this.send({ event: "network_changed" });
        return { reply: "network", ...structuredClone(this.net) };
      }
      case "relay_remove": {
        const r = this.net.relays.find((x) => x.peer === request.relay || x.addr === request.relay);
        if (!r) fail("not_found", `no relay ${request.relay} is in use`);
        this.net.relays = this.net.relays.filter((x) => x !== r);
        this.send({ event: "network_changed" });
        return { reply: "network", ...structuredClone(this.net) };
      }
      case "attachment_limits": {
        const next = {
          max_file: request.max_file ?? this.limits.max_file,
          space_quota: request.space_quota ?? this.limits.space_quota,
          auto_fetch: request.auto_fetch ?? this.limits.auto_fetch,
        };
        if (request.auto_fetch == null && next.auto_fetch > next.max_file) next.auto_fetch = next.max_file;
        if (next.max_file === 0 || next.space_quota === 0) {
          fail("invalid", "the largest attachment and a space's quota must be more than 0 bytes");
        }
        if (next.auto_fetch > next.max_file) {
          fail(
            "invalid",
            `attachments fetched with their note (${next.auto_fetch} bytes) cannot be larger than the largest attachment (${next.max_file} bytes)`,
          );
        }
        this.limits = next;
        return { reply: "attachment_limits", ...this.limits };
      }
      default:
        return fail("invalid", `the mock does not do ${request.op}`);
    }
  }
}
