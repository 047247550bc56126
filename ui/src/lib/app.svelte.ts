// The window's state: who we are, the lists, the node's health, what is open, and the live
// updates that keep them current.

import * as api from "./api";
import type { Event as NodeEvent, Identity, ListItem, Status } from "./bindings";
import type { SaveState } from "./noteSession";
import { mergeNewest } from "./listMerge";

export type View = "notes" | "questions" | "profile";
export type PreviewMode = "edit" | "preview" | "split";
export type Overlay = "shortcuts" | "palette" | null;

/** How long a burst of events may last before lists are read again, in ms. */
export const LIST_REFRESH_MS = 100;
/** The same for the status bar's counts, which cost a little more. */
export const STATUS_REFRESH_MS = 400;
/** Window width from which the editor opens in split mode. */
export const SPLIT_MIN_WIDTH = 1400;
/** Rows read for the first screen: more than a 1600×1000 window shows. */
export const FIRST_PAGE = 100;
/** Newest rows read to bring a list up to date after a burst of changes; more changed
 * documents than this read the whole list. */
export const UPDATE_ROWS = 50;

type DocListener = (e: NodeEvent | null) => void;

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

  view = $state<View>("notes");
  /** The note in the document pane: `id` null is a new draft; `key` changes on every open. */
  note = $state<{ key: number; id: string | null } | null>(null);
  question = $state<string | null>(null);
  asking = $state(false);
  unansweredOnly = $state(false);
  listCollapsed = $state(false);
  previewMode = $state<PreviewMode>("edit");
  overlay = $state<Overlay>(null);
  /** The save state of the note editor that last reported (`key` is its `note.key`). */
  save = $state<{ key: number; state: SaveState; error: string | null } | null>(null);
  /** Ticks every 30 s so that relative times move on. */
  now = $state(Date.now());

  unanswered = $derived(this.questions.filter((q) => !q.accepted).length);

  private keys = 0;
  private docListeners = new Map<string, Set<DocListener>>();
  private flushers = new Set<() => void>();

  constructor() {
    api.onHealth((running) => {
      this.node = running ? "running" : "stopped";
    });
  }

  // ---- loading ------------------------------------------------------------------------

  async loadNotes(limit?: number): Promise<void> {
    try {
      this.notes = await api.noteList(limit);
      this.notesComplete = limit === undefined;
      this.notesError = null;
    } catch (e) {
      this.notesError = api.toApiError(e).message;
    } finally {
      this.notesLoaded = true;
    }
  }

  async loadQuestions(limit?: number): Promise<void> {
    try {
      this.questions = await api.questions(false, limit);
      this.questionsComplete = limit === undefined;
      this.questionsError = null;
    } catch (e) {
      this.questionsError = api.toApiError(e).message;
    } finally {
      this.questionsLoaded = true;
    }
  }

  /** Whether the list in memory is the whole list (not only the first screen's rows). */
  private notesComplete = false;
  private questionsComplete = false;
  /** Documents changed since each list was last brought up to date: id → deleted. */
  private changedNotes = new Map<string, boolean>();
  private changedQuestions = new Map<string, boolean>();

  /** Brings the notes up to date after the changes in `changedNotes`: the newest rows only,
   * unless the whole list is needed (see `mergeNewest`). */
  private async updateNotes(): Promise<void> {
    const changed = this.changedNotes;
    this.changedNotes = new Map();
    if (!this.notesComplete || changed.size > UPDATE_ROWS) return this.loadNotes();
    try {
      const newest = await api.noteList(UPDATE_ROWS);
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
    try {
      const newest = await api.questions(false, UPDATE_ROWS);
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
  listChanged(kind: NodeEvent["kind"], id: string, deleted: boolean): void {
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
      this.status = await api.status();
    } catch {
      // The node state shows the failure.
    }
  }

  async loadIdentity(): Promise<void> {
    try {
      this.identity = await api.whoami();
    } catch {
      // Kept as it was.
    }
  }

  /** The first screen's rows, asked for at launch together with the app state (so the window
   * does not wait for one before the other); `null` once used. */
  firstPage: Promise<void> | null = null;

  /** Reads the lists and counts; `firstPage` reads only the newest rows of each list, enough to
   * fill the window, so that the first screen paints without waiting for 10,000 rows. */
  async loadAll(firstPage?: number): Promise<void> {
    await Promise.all([
      this.loadNotes(firstPage),
      this.loadQuestions(firstPage),
      this.loadStatus(),
    ]);
  }

  private refreshNotes = debounce(() => void this.updateNotes(), LIST_REFRESH_MS);
  private refreshQuestions = debounce(() => void this.updateQuestions(), LIST_REFRESH_MS);
  private refreshStatus = debounce(() => void this.loadStatus(), STATUS_REFRESH_MS);
  private refreshIdentity = debounce(() => void this.loadIdentity(), LIST_REFRESH_MS);

  // ---- live updates -------------------------------------------------------------------

  /** A committed change: lists and counts are read again, the open document follows. */
  onEvent(e: NodeEvent): void {
    if (e.event !== "document_changed") return;
    if (e.kind === "profile") this.refreshIdentity();
    else this.listChanged(e.kind, e.id, e.deleted);
    this.refreshStatus();
    for (const fn of this.docListeners.get(e.id) ?? []) fn(e);
  }

  /** Events were missed: read everything again. */
  onLagged(): void {
    void this.loadAll();
    void this.loadIdentity();
    for (const set of this.docListeners.values()) for (const fn of set) fn(null);
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

  /** Registers a save to run when the window closes; returns the unregister. */
  onFlush(fn: () => void): () => void {
    this.flushers.add(fn);
    return () => this.flushers.delete(fn);
  }

  /** Saves whatever is unsaved (window closing). */
  flushAll(): void {
    for (const fn of this.flushers) fn();
  }

  // ---- navigation ---------------------------------------------------------------------

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

  openQuestion(id: string): void {
    this.view = "questions";
    this.asking = false;
    this.question = id;
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
