// The window's state: who we are, the spaces and which one is selected, the lists (of the
// selected space), the node's health and network, what is open, and the live updates that keep
// them current.

import * as api from "./api";
import type {
  Event as NodeEvent,
  Identity,
  InboxItem,
  ListItem,
  NetworkState,
  SpaceDetail,
  SpaceInfo,
  Status,
} from "./bindings";
import type { SaveState } from "./noteSession";
import { mergeNewest } from "./listMerge";
import { inboxToast } from "./people";

export type View =
  | "notes"
  | "questions"
  | "members"
  | "profile"
  | "inbox"
  | "people"
  | "person"
  | "settings"
  | "trash";
/** Views that are a page of their own, without the list pane. */
export const PAGE_VIEWS: readonly View[] = ["members", "profile", "inbox", "people", "person", "settings", "trash"];
/** Views that belong to no space: selecting a space leaves them for its notes. */
const GLOBAL_VIEWS: readonly View[] = ["profile", "inbox", "person", "settings", "trash"];
export type PreviewMode = "edit" | "preview" | "split";
export type Overlay = "shortcuts" | "palette" | null;
/** A dialog over the window: create a space, join one (with a ticket to start from), invite,
 * import a Markdown folder, export to one (the selected space, or every space). */
export type Dialog =
  | { kind: "new-space" }
  | { kind: "join"; ticket: string }
  | { kind: "invite" }
  | { kind: "import" }
  | { kind: "export"; all: boolean }
  | { kind: "answer-with-note"; note: string }
  | null;

/** A new item of the inbox, shown for a while at the window's corner. */
export interface Toast {
  id: number;
  key: string;
  title: string;
  body: string;
  question: string;
  space: string;
  answer: string | null;
}

/** How long a burst of events may last before lists are read again, in ms. */
export const LIST_REFRESH_MS = 100;
/** The same for the status bar's counts, which cost a little more. */
export const STATUS_REFRESH_MS = 400;
/** The same for the spaces and the open space's members: sync states change in bursts while
 * peers exchange. */
export const SPACES_REFRESH_MS = 200;
/** Window width from which the editor opens in split mode. */
export const SPLIT_MIN_WIDTH = 1400;
/** The same for the inbox, which the node computes from every space's routes. */
export const INBOX_REFRESH_MS = 300;
/** How often the inbox is read again without an event: routing rounds start as days pass. */
export const INBOX_POLL_MS = 5 * 60_000;
/** How long a toast stays, in ms. */
export const TOAST_MS = 10_000;
/** Most toasts shown at once (the newest). */
export const MAX_TOASTS = 3;
/** Rows read for the first screen: more than a 1600×1000 window shows. The notes list holds
 * only this many until it is scrolled near their end (see `AppModel.moreNotes`). */
export const FIRST_PAGE = 100;
/** How many times more notes each read for a list scrolled near its end asks for (100, 400,
 * 1,600…): few reads to reach any row, and an idle window holds only the first page (measured
 * on 10,000 notes: the whole list held costs 15 MB across the two processes). */
export const NOTES_GROWTH = 4;
/** Newest rows read to bring a list up to date after a burst of changes; more changed
 * documents than this read the whole list. */
export const UPDATE_ROWS = 50;

/** A change of one document. */
export type DocEvent = Extract<NodeEvent, { event: "document_changed" }>;
type DocListener = (e: DocEvent | null) => void;

function debounce(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}

export class AppModel {
  identity = $state<Identity | null>(null);
  notes = $state.raw<ListItem[]>([]);
  notesLoaded = $state(false);
  notesError = $state<string | null>(null);
  questions = $state.raw<ListItem[]>([]);
  questionsLoaded = $state(false);
  questionsError = $state<string | null>(null);
  status = $state.raw<Status | null>(null);
  /** Earned: "running" only after the node answered. */
  node = $state<"starting" | "running" | "stopped">("starting");
  /** The network, as the shell reports it. */
  network = $state.raw<NetworkState>({ state: "starting" });
  /** Every space, the personal one first. */
  spaces = $state.raw<SpaceInfo[]>([]);
  spacesError = $state<string | null>(null);
  /** The selected shared space's id; null for the personal space. Lists, new notes and new
   * questions are of this space. */
  spaceId = $state<string | null>(null);
  /** The selected space's members (read for the members view). */
  spaceDetail = $state.raw<SpaceDetail | null>(null);
  spaceDetailError = $state<string | null>(null);
  /** When each shared space was seen going offline while this window was open (ms): absent
   * when it is not offline, or was offline from the start (then nobody knows since when). */
  offlineSince = $state.raw<Record<string, number>>({});
  dialog = $state<Dialog>(null);

  view = $state<View>("notes");
  /** The note in the document pane: `id` null is a new draft; `key` changes on every open. */
  note = $state<{ key: number; id: string | null } | null>(null);
  question = $state<string | null>(null);
  asking = $state(false);
  unansweredOnly = $state(false);
  listCollapsed = $state(false);
  /** Whether the History panel shows beside the note editor (Ctrl+Shift+H). */
  historyOpen = $state(false);
  previewMode = $state<PreviewMode>("edit");
  overlay = $state<Overlay>(null);
  /** The save state of the note editor that last reported (`key` is its `note.key`). */
  save = $state<{ key: number; state: SaveState; error: string | null } | null>(null);
  /** The attachment being fetched from a member, as far as it is (null when none). */
  transfer = $state<{ hash: string; done: number; total: number; failed: boolean } | null>(null);
  /** Ticks every 30 s so that relative times move on. */
  now = $state(Date.now());
  /** Whether the palette searches every space (else only the selected one). */
  searchAll = $state(true);
  /** What the palette opens with (then cleared): a who query from a question page. */
  paletteQuery = $state("");
  /** The member whose page is open (view "person"). */
  personId = $state<string | null>(null);
  /** The answer to bring into view when its question opens (from the inbox). */
  answerFocus = $state<string | null>(null);
  /** The inbox, newest first. */
  inbox = $state.raw<InboxItem[]>([]);
  inboxUnread = $state(0);
  inboxLoaded = $state(false);
  inboxError = $state<string | null>(null);
  toasts = $state.raw<Toast[]>([]);
  /** The pointer or the focus is on the toasts: they stay until it leaves. */
  toastsHeld = false;

  unanswered = $derived(this.questions.filter((q) => !q.accepted).length);
  /** The selected space (the personal one until the spaces are read). */
  space = $derived<SpaceInfo | null>(
    this.spaces.find((s) => (this.spaceId === null ? s.personal : s.id === this.spaceId)) ?? null,
  );
  /** Shared spaces, in the node's order. */
  sharedSpaces = $derived(this.spaces.filter((s) => !s.personal));

  private keys = 0;
  private toastSeq = 0;
  /** Inbox keys already known (null until the first read: what is there at launch is not
   * announced). */
  private inboxKnown: Set<string> | null = null;
  private docListeners = new Map<string, Set<DocListener>>();
  private anyDocListeners = new Set<DocListener>();
  private flushers = new Set<() => unknown>();

  constructor() {
    api.onHealth((running) => {
      this.node = running ? "running" : "stopped";
    });
  }

  // ---- loading ------------------------------------------------------------------------

  /** Whether `space` (an id, as events carry it) is the selected space; before the identity is
   * known, only the personal space can be selected. */
  private isSelected(space: string): boolean {
    if (this.spaceId !== null) return space === this.spaceId;
    return this.identity === null || space === this.identity.personal_space;
  }

  /** Reads the notes of the selected space, the newest `limit` (all when absent). */
  async loadNotes(limit?: number): Promise<void> {
    const space = this.spaceId;
    try {
      const items = await api.noteList(limit, space);
      if (space !== this.spaceId) return; // another space was selected meanwhile
      this.notes = items;
      this.notesComplete = limit === undefined || items.length < limit;
      this.notesLimit = limit ?? null;
      this.notesError = null;
    } catch (e) {
      if (space !== this.spaceId) return;
      this.notesError = api.toApiError(e).message;
    } finally {
      if (space === this.spaceId) this.notesLoaded = true;
    }
  }

  async loadQuestions(limit?: number): Promise<void> {
    const space = this.spaceId;
    try {
      const items = await api.questions(false, limit, space);
      if (space !== this.spaceId) return;
      this.questions = items;
      this.questionsComplete = limit === undefined || items.length < limit;
      this.questionsError = null;
    } catch (e) {
      if (space !== this.spaceId) return;
      this.questionsError = api.toApiError(e).message;
    } finally {
      if (space === this.spaceId) this.questionsLoaded = true;
    }
  }

  /** Whether the list in memory is the whole list (not only the first screen's rows). */
  private notesComplete = false;
  private questionsComplete = false;
  /** How many notes were asked for (null: all, or none read yet). */
  private notesLimit: number | null = null;
  /** A read of more notes is on its way. */
  private readingMore = false;

  /** How many notes a read that keeps the list as long as it is asks for: undefined (all) once
   * the whole list is held. */
  private notesShown(): number | undefined {
    return this.notesComplete ? undefined : (this.notesLimit ?? FIRST_PAGE);
  }

  /** The notes list was scrolled near the end of the rows held: reads more of them (see
   * `NOTES_GROWTH`), unless it holds them all. */
  async moreNotes(): Promise<void> {
    if (this.notesComplete || this.readingMore || !this.notesLoaded) return;
    this.readingMore = true;
    try {
      await this.loadNotes((this.notesLimit ?? FIRST_PAGE) * NOTES_GROWTH);
    } finally {
      this.readingMore = false;
    }
  }
  /** Documents changed since each list was last brought up to date: id → deleted. */
  private changedNotes = new Map<string, boolean>();
  private changedQuestions = new Map<string, boolean>();

  /** Brings the notes up to date after the changes in `changedNotes`: the newest rows only,
   * unless the whole list is needed (see `mergeNewest`). */
  private async updateNotes(): Promise<void> {
    const changed = this.changedNotes;
    this.changedNotes = new Map();
    if (!this.notesComplete || changed.size > UPDATE_ROWS) return this.loadNotes(this.notesShown());
    const space = this.spaceId;
    try {
      const newest = await api.noteList(UPDATE_ROWS, space);
      if (space !== this.spaceId) return;
      const merged = mergeNewest(this.notes, newest, changed);
      if (merged === null) return this.loadNotes();
      this.notes = merged;
      this.notesError = null;
    } catch (e) {
      this.notesError = api.toApiError(e).message;
    }
  }

  private async updateQuestions(): Promise<void> {
    const changed = this.changedQuestions;
    this.changedQuestions = new Map();
    if (!this.questionsComplete || changed.size > UPDATE_ROWS) return this.loadQuestions();
    const space = this.spaceId;
    try {
      const newest = await api.questions(false, UPDATE_ROWS, space);
      if (space !== this.spaceId) return;
      const merged = mergeNewest(this.questions, newest, changed);
      if (merged === null) return this.loadQuestions();
      this.questions = merged;
      this.questionsError = null;
    } catch (e) {
      this.questionsError = api.toApiError(e).message;
    }
  }

  /** Document `id` of `kind` changed (or was deleted): its list follows shortly, once for a
   * burst of changes. */
  listChanged(kind: DocEvent["kind"], id: string, deleted: boolean): void {
    if (kind === "note") {
      this.changedNotes.set(id, deleted);
      this.refreshNotes();
    } else if (kind === "question") {
      this.changedQuestions.set(id, deleted);
      this.refreshQuestions();
    }
  }

  async loadStatus(): Promise<void> {
    try {
      const status = await api.status();
      this.status = status;
      // The same answer tells the spaces' sync states: the status bar's peers and spaces agree.
      this.setSpaces(status.spaces);
    } catch {
      // The node state shows the failure.
    }
  }

  async loadNetwork(): Promise<void> {
    try {
      this.network = await api.networkState();
    } catch {
      // Kept as it was.
    }
  }

  /** Reads the spaces; when the selected one is gone (left, or removed elsewhere), the personal
   * space is selected. */
  async loadSpaces(): Promise<void> {
    try {
      this.setSpaces(await api.spaceList());
    } catch (e) {
      this.spacesError = api.toApiError(e).message;
    }
  }

  private setSpaces(spaces: SpaceInfo[]): void {
    const before = new Map(this.spaces.map((s) => [s.id, s.sync]));
    const since: Record<string, number> = {};
    for (const s of spaces) {
      if (s.personal || s.sync !== "offline") continue;
      const was = before.get(s.id);
      if (this.offlineSince[s.id] !== undefined) since[s.id] = this.offlineSince[s.id];
      else if (was !== undefined && was !== "offline") since[s.id] = Date.now();
    }
    this.offlineSince = since;
    this.spaces = spaces;
    this.spacesError = null;
    if (this.spaceId !== null && !spaces.some((s) => s.id === this.spaceId)) this.selectSpace(null);
  }

  /** Reads the selected shared space's members. */
  async loadSpaceDetail(): Promise<void> {
    const space = this.spaceId;
    if (space === null) {
      this.spaceDetail = null;
      return;
    }
    try {
      const detail = await api.spaceShow(space);
      if (space !== this.spaceId) return;
      this.spaceDetail = detail;
      this.spaceDetailError = null;
    } catch (e) {
      if (space !== this.spaceId) return;
      this.spaceDetailError = api.toApiError(e).message;
    }
  }

  async loadIdentity(): Promise<void> {
    try {
      this.identity = await api.whoami();
    } catch {
      // Kept as it was.
    }
  }

  private inboxSeq = 0;

  /** Reads the inbox; items that arrived since the last read and ask for this member's
   * attention (a routed question, an answer) are announced by a toast and, when the window is
   * not in front, a desktop notification. */
  async loadInbox(): Promise<void> {
    const mine = ++this.inboxSeq;
    try {
      const { items, unread } = await api.inbox();
      if (mine !== this.inboxSeq) return;
      const known = this.inboxKnown;
      this.inboxKnown = new Set(items.map((i) => i.key));
      this.inbox = items;
      this.inboxUnread = unread;
      this.inboxError = null;
      if (known === null) return;
      for (const item of [...items].reverse()) {
        if (known.has(item.key) || item.seen) continue;
        const words = inboxToast(item);
        if (words === null) continue;
        this.toast(item, words.title, words.body);
        if (typeof document === "undefined" || !document.hasFocus()) void api.notify(words.title, words.body);
      }
    } catch (e) {
      if (mine !== this.inboxSeq) return;
      this.inboxError = api.toApiError(e).message;
    } finally {
      if (mine === this.inboxSeq) this.inboxLoaded = true;
    }
  }

  private toast(item: InboxItem, title: string, body: string): void {
    const t: Toast = {
      id: ++this.toastSeq,
      key: item.key,
      title,
      body,
      question: item.question,
      space: item.space,
      answer: item.answer,
    };
    this.toasts = [...this.toasts, t].slice(-MAX_TOASTS);
    const expire = () => {
      if (this.toastsHeld) setTimeout(expire, TOAST_MS / 4);
      else this.dismissToast(t.id);
    };
    setTimeout(expire, TOAST_MS);
  }

  dismissToast(id: number): void {
    if (this.toasts.some((t) => t.id === id)) this.toasts = this.toasts.filter((t) => t.id !== id);
    // Nothing left to hold (a removed element tells no pointer or focus leaving).
    if (this.toasts.length === 0) this.toastsHeld = false;
  }

  /** Opens what a toast is about (and marks it seen). */
  openToast(t: Toast): void {
    this.dismissToast(t.id);
    this.answerFocus = t.answer;
    this.openDoc({ id: t.question, kind: "question", space: t.space });
  }

  /** Marks inbox items seen: at once here, then on the node (which says so with an event). */
  async markSeen(keys: string[]): Promise<void> {
    const unseen = keys.filter((k) => this.inbox.some((i) => i.key === k && !i.seen));
    if (unseen.length === 0) return;
    // A read on its way holds these as not seen: it is dropped (the node's event after the
    // write below reads the inbox again).
    this.inboxSeq += 1;
    this.inbox = this.inbox.map((i) => (unseen.includes(i.key) ? { ...i, seen: true } : i));
    this.inboxUnread = Math.max(0, this.inboxUnread - unseen.length);
    try {
      await api.inboxSeen(unseen);
    } catch (e) {
      this.inboxError = api.toApiError(e).message;
      this.refreshInbox();
    }
  }

  /** The inbox items about question `id` are seen once it is open. */
  private markQuestionSeen(id: string): void {
    const keys = this.inbox.filter((i) => i.question === id && !i.seen).map((i) => i.key);
    if (keys.length > 0) void this.markSeen(keys);
  }

  /** Reads the inbox every few minutes (routing rounds start as days pass, with no event). */
  startInboxPoll(): () => void {
    const timer = setInterval(() => void this.loadInbox(), INBOX_POLL_MS);
    return () => clearInterval(timer);
  }

  /** The first screen's rows, asked for at launch together with the app state (so the window
   * does not wait for one before the other); `null` once used. */
  firstPage: Promise<void> | null = null;

  /** Reads the lists and counts: the questions whole, the notes as many as the list holds (a
   * page at a time, see `moreNotes`); `firstPage` reads only the newest rows of each list, enough
   * to fill the window, so that the first screen paints without waiting for 10,000 rows. */
  async loadAll(firstPage?: number): Promise<void> {
    // Each read's end is a launch mark (see `api.mark`; none after the first paint).
    const marked = (name: string, p: Promise<void>) => p.then(() => api.mark(name));
    await Promise.all([
      // The notes as many as the list holds (a page at a time, see `moreNotes`).
      marked("notes read", this.loadNotes(firstPage ?? this.notesShown())),
      marked("questions read", this.loadQuestions(firstPage)),
      marked("status read", this.loadStatus()),
      marked("spaces read", this.loadSpaces()),
      marked("network read", this.loadNetwork()),
      marked("inbox read", this.loadInbox()),
      ...(this.spaceId !== null ? [this.loadSpaceDetail()] : []),
    ]);
  }

  private refreshNotes = debounce(() => void this.updateNotes(), LIST_REFRESH_MS);
  private refreshQuestions = debounce(() => void this.updateQuestions(), LIST_REFRESH_MS);
  private refreshStatus = debounce(() => void this.loadStatus(), STATUS_REFRESH_MS);
  private refreshIdentity = debounce(() => void this.loadIdentity(), LIST_REFRESH_MS);
  private refreshSpaces = debounce(() => void this.loadSpaces(), SPACES_REFRESH_MS);
  private refreshDetail = debounce(() => void this.loadSpaceDetail(), SPACES_REFRESH_MS);
  refreshInbox = debounce(() => void this.loadInbox(), INBOX_REFRESH_MS);
  /** Peers and sync states: the status (which holds the spaces too) and the shell's network
   * state, read together so that the status bar never mixes two moments. */
  private refreshNetwork = debounce(
    () => void Promise.all([this.loadStatus(), this.loadNetwork()]),
    SPACES_REFRESH_MS,
  );

  // ---- live updates -------------------------------------------------------------------

  /** A committed change (here, by the CLI, or by a peer): the lists of the selected space and
   * the counts are read again, the open document follows; space and network changes re-read
   * the spaces, their members and the status bar. */
  onEvent(e: NodeEvent): void {
    switch (e.event) {
      case "document_changed":
        if (e.kind === "profile") this.refreshIdentity();
        else if (this.isSelected(e.space)) this.listChanged(e.kind, e.id, e.deleted);
        // Questions and answers make the inbox; profiles change who questions are routed to.
        if (e.kind !== "note") this.refreshInbox();
        this.refreshStatus();
        for (const fn of this.docListeners.get(e.id) ?? []) fn(e);
        for (const fn of this.anyDocListeners) fn(e);
        return;
      case "spaces_changed":
        this.refreshSpaces();
        if (e.space === this.spaceId) this.refreshDetail();
        this.refreshStatus();
        this.refreshInbox();
        return;
      case "network_changed":
        this.refreshNetwork();
        if (this.spaceId !== null) this.refreshDetail();
        return;
      case "inbox_changed":
        this.refreshInbox();
        return;
      case "attachment_progress":
        this.transfer = e.done >= e.total && !e.failed ? null : { hash: e.hash, done: e.done, total: e.total, failed: e.failed };
        return;
    }
  }

  /** Events were missed: read everything again. */
  onLagged(): void {
    void this.loadAll();
    void this.loadIdentity();
    for (const set of this.docListeners.values()) for (const fn of set) fn(null);
    for (const fn of this.anyDocListeners) fn(null);
  }

  /** Calls `fn` on each change of any document (and with null after missed events). */
  watchDocs(fn: DocListener): () => void {
    this.anyDocListeners.add(fn);
    return () => this.anyDocListeners.delete(fn);
  }

  /** Calls `fn` on each event about document `id` (and with null after missed events). */
  watchDoc(id: string, fn: DocListener): () => void {
    let set = this.docListeners.get(id);
    if (!set) {
      set = new Set();
      this.docListeners.set(id, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.docListeners.delete(id);
    };
  }

  /** Registers a save to run when the window closes (or before an action that reads what
   * was typed); returns the unregister. */
  onFlush(fn: () => unknown): () => void {
    this.flushers.add(fn);
    return () => this.flushers.delete(fn);
  }

  /** Saves whatever is unsaved (window closing). */
  flushAll(): void {
    for (const fn of this.flushers) void fn();
  }

  /** Saves whatever is unsaved and waits until that is done (before answering with a note). */
  async flushAndWait(): Promise<void> {
    await Promise.all([...this.flushers].map((fn) => fn()));
  }

  // ---- navigation ---------------------------------------------------------------------

  /** Selects a space (null: the personal one): its notes and questions are listed, what was
   * open closes. The members view of a shared space stays on. */
  selectSpace(id: string | null, view?: View): void {
    const personal = this.spaces.find((s) => s.personal)?.id ?? this.identity?.personal_space;
    const next = id === personal ? null : id;
    if (next !== this.spaceId) {
      this.spaceId = next;
      this.note = null;
      this.save = null;
      this.question = null;
      this.asking = false;
      this.notes = [];
      this.questions = [];
      this.notesLoaded = false;
      this.questionsLoaded = false;
      this.notesError = null;
      this.questionsError = null;
      this.notesComplete = false;
      this.notesLimit = null;
      this.questionsComplete = false;
      this.changedNotes = new Map();
      this.changedQuestions = new Map();
      this.spaceDetail = null;
      this.spaceDetailError = null;
      void this.loadNotes(FIRST_PAGE);
      void this.loadQuestions();
      if (next !== null) void this.loadSpaceDetail();
    }
    if (view) this.view = view;
    else if (GLOBAL_VIEWS.includes(this.view)) this.view = "notes";
  }

  /** Opens the join dialog, with a ticket (or a link) to start from. */
  startJoin(ticket = ""): void {
    this.overlay = null;
    this.dialog = { kind: "join", ticket };
  }

  openNote(id: string | null): void {
    this.view = "notes";
    if (id !== null && this.note?.id === id) return;
    this.note = { key: ++this.keys, id };
  }

  newNote(): void {
    this.view = "notes";
    this.note = { key: ++this.keys, id: null };
  }

  /** A draft was stored: it keeps its editor and now has an id. */
  noteCreated(key: number, id: string): void {
    if (this.note?.key === key) this.note = { key, id };
    this.listChanged("note", id, false);
  }

  closeNote(): void {
    this.note = null;
    this.save = null;
  }

  /** Opens a note or question of any space (a search hit, a link): its space is selected
   * first when it is not the selected one. */
  openDoc(doc: { id: string; kind: string; space: string }): void {
    const personal = this.spaces.find((s) => s.personal)?.id ?? this.identity?.personal_space;
    const selected = this.spaceId ?? personal;
    if (doc.space !== selected) this.selectSpace(doc.space);
    if (doc.kind === "note") this.openNote(doc.id);
    else if (doc.kind === "question") this.openQuestion(doc.id);
  }

  openQuestion(id: string): void {
    this.view = "questions";
    this.asking = false;
    this.question = id;
    this.markQuestionSeen(id);
  }

  /** Opens a note or question known only by its id (a link between an answer and a note): the
   * selected space's lists are looked in first, then every space's. False when no space here
   * holds it. */
  async openById(id: string, kind: "note" | "question"): Promise<boolean> {
    const here = (kind === "note" ? this.notes : this.questions).find((d) => d.id === id);
    if (here) {
      this.openDoc(here);
      return true;
    }
    const spaces = this.spaces.length > 0 ? this.spaces.map((s) => (s.personal ? null : s.id)) : [null];
    for (const space of spaces) {
      const items = kind === "note" ? await api.noteList(undefined, space) : await api.questions(false, undefined, space);
      const found = items.find((d) => d.id === id);
      if (found) {
        this.openDoc({ id, kind, space: found.space });
        return true;
      }
    }
    return false;
  }

  /** Opens a member's page. */
  openPerson(member: string): void {
    this.personId = member;
    this.view = "person";
    this.overlay = null;
  }

  /** Opens the palette with `query` typed (e.g. a who query). */
  openPalette(query = ""): void {
    this.paletteQuery = query;
    this.overlay = "palette";
  }

  startAsking(): void {
    this.view = "questions";
    this.asking = true;
  }

  cyclePreview(): void {
    const order: PreviewMode[] = ["edit", "split", "preview"];
    this.previewMode = order[(order.indexOf(this.previewMode) + 1) % order.length];
  }

  startClock(): () => void {
    const timer = setInterval(() => (this.now = Date.now()), 30_000);
    return () => clearInterval(timer);
  }
}

export const app = new AppModel();
