// One open note: its base, the user's unsaved changes, autosave and remote merges.
//
// Rules (see merge.ts for the text part):
// - A save sends the full title, body and tags with `base = base.heads`; the node refuses with
//   "conflict" when the note changed since. The reply's heads become the new base heads.
// - On a change elsewhere (a node event) or a conflict, the note is read again and the remote
//   change is merged into the editor: unsaved typing stays, the other edit is kept, and what is
//   still unsaved is saved again on top of it.
// - One save or refresh runs at a time (a serial queue); an event during a save is handled
//   after it, when the note's heads tell whether it was this window's own save.

import { ChangeSet, Text } from "@codemirror/state";
import type { Draft, NoteEdit, NoteView } from "./bindings";
import {
  type Base,
  type Range,
  effectiveTitle,
  normalizeBody,
  normalizeTitle,
  rebaseBody,
  sameHeads,
  textOf,
} from "./merge";
import { sameTags } from "./tags";

/** How long typing must pause before an autosave, in ms. */
export const SAVE_DEBOUNCE_MS = 500;

/** Conflicts in a row after which a save gives up until the next change (another writer that
 * never pauses; each retry merges first, so this is only a guard against a loop). */
export const MAX_CONFLICT_RETRIES = 5;

export type SaveState = "saved" | "saving" | "dirty" | "error";

/** The node operations a note session needs (api.ts in the app, a fake in tests). */
export interface NoteApi {
  noteNew(draft: Draft): Promise<string>;
  noteShow(id: string): Promise<NoteView>;
  noteEdit(id: string, edit: NoteEdit): Promise<{ heads: string[] }>;
}

/** The editor a session drives; absent once the editor closed (saves go on without it). */
export interface EditorHost {
  /** Applies a change that came from elsewhere (not the user's, not undoable) and marks the
   * ranges it inserted. */
  applyRemote(changes: ChangeSet, inserted: Range[]): void;
}

/** What a session tells its listeners after each change. */
export interface SessionChange {
  /** The title field was replaced by a remote title. */
  title: boolean;
  /** The tags were replaced by remote tags. */
  tags: boolean;
}

function errorOf(e: unknown): { kind: string; message: string } {
  if (typeof e === "object" && e !== null && "kind" in e && "message" in e) {
    return { kind: String(e.kind), message: String(e.message) };
  }
  return { kind: "internal", message: e instanceof Error ? e.message : String(e) };
}

const EMPTY_BASE: Base = { title: "", body: "", tags: [], heads: [] };

export class NoteSession {
  /** The note's id; null for a draft that is not stored yet. */
  id: string | null;
  /** What was last known to match the node. */
  base: Base;
  /** The editor's text. */
  doc: Text;
  /** The user's changes since base (base.body → doc). */
  pending: ChangeSet;
  /** The title field as typed. */
  title: string;
  /** The tags as applied. */
  tags: string[];
  state: SaveState;
  /** When the note last changed, as far as this window knows (ms). */
  updatedAt: number | null = null;
  /** Why the last save failed. */
  error: string | null = null;
  /** The note was deleted (here or elsewhere): nothing more is saved. */
  deleted = false;
  host: EditorHost | null = null;

  /** Changes since the body of the save in flight was taken. */
  private sinceSend: ChangeSet | null = null;
  private queue: Promise<void> = Promise.resolve();
  private saveQueued = false;
  private refreshQueued = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private conflicts = 0;
  private listeners = new Set<(c: SessionChange) => void>();
  private closed = false;

  private constructor(
    private api: NoteApi,
    id: string | null,
    base: Base,
    private debounceMs: number,
  ) {
    this.id = id;
    this.base = base;
    this.doc = textOf(base.body);
    this.pending = ChangeSet.empty(this.doc.length);
    this.title = base.title;
    this.tags = [...base.tags];
    this.state = id === null ? "dirty" : "saved";
  }

  /** A session on a stored note. */
  static open(api: NoteApi, note: NoteView, debounceMs = SAVE_DEBOUNCE_MS): NoteSession {
    const base: Base = {
      title: note.title,
      body: normalizeBody(note.body),
      tags: [...note.tags],
      heads: [...note.heads],
    };
    const s = new NoteSession(api, note.id, base, debounceMs);
    s.updatedAt = note.updated_at;
    return s;
  }

  /** A new, empty draft: stored by the first save that has a title or body. */
  static draft(api: NoteApi, debounceMs = SAVE_DEBOUNCE_MS): NoteSession {
    return new NoteSession(api, null, { ...EMPTY_BASE }, debounceMs);
  }

  /** Calls `fn` after every change of state; returns the unsubscribe. */
  subscribe(fn: (c: SessionChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: SessionChange = { title: false, tags: false }): void {
    for (const fn of this.listeners) fn(c);
  }

  /** The body as it is now. */
  body(): string {
    return this.doc.toString();
  }

  /** Whether a draft has anything worth storing. */
  private hasContent(): boolean {
    return normalizeTitle(this.title) !== "" || this.body().trim() !== "";
  }

  /** Whether something differs from base. */
  dirty(): boolean {
    const body = this.body();
    return (
      body !== this.base.body ||
      effectiveTitle(this.title, body) !== this.base.title ||
      !sameTags(this.tags, this.base.tags)
    );
  }

  /** The user changed the editor's text. */
  userChanged(changes: ChangeSet): void {
    this.doc = changes.apply(this.doc);
    this.pending = this.pending.compose(changes);
    if (this.sinceSend) this.sinceSend = this.sinceSend.compose(changes);
    this.touch();
  }

  /** The user changed the title field. */
  setTitle(title: string): void {
    if (title === this.title) return;
    this.title = title;
    this.touch();
  }

  /** The user applied tags. */
  setTags(tags: string[]): void {
    if (tags.length === this.tags.length && tags.every((t, i) => t === this.tags[i])) return;
    this.tags = [...tags];
    this.touch();
  }

  private touch(): void {
    if (this.deleted || this.closed) return;
    this.conflicts = 0;
    if (this.state !== "saving") this.state = "dirty";
    this.emit();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save();
    }, this.debounceMs);
  }

  /** Saves now (blur, switching notes, closing the window). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return this.save();
  }

  /** Queues a save; several requests before it starts make one save. */
  save(): Promise<void> {
    if (this.saveQueued) return this.queue;
    this.saveQueued = true;
    this.queue = this.queue.then(() => {
      this.saveQueued = false;
      return this.doSave();
    });
    return this.queue;
  }

  /** Queues a read of the note and a merge of what changed elsewhere (on a node event). */
  refresh(): Promise<void> {
    if (this.refreshQueued) return this.queue;
    this.refreshQueued = true;
    this.queue = this.queue.then(() => {
      this.refreshQueued = false;
      return this.doRefresh();
    });
    return this.queue;
  }

  /** Waits until nothing is queued. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** The note was deleted (an event, or this window's delete). */
  markDeleted(): void {
    this.deleted = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.state = "error";
    this.error = "this note was deleted";
    this.emit();
  }

  /** After a deletion elsewhere: keep the text as a new note (stored by the next save). */
  keepAsNew(): void {
    const body = this.body();
    this.id = null;
    this.base = { ...EMPTY_BASE };
    this.pending = ChangeSet.of(body === "" ? [] : [{ from: 0, insert: body }], 0);
    this.deleted = false;
    this.error = null;
    this.touch();
  }

  /** The editor closed: saves still finish, nothing more is scheduled by typing. */
  close(): void {
    this.host = null;
    this.closed = true;
    this.listeners.clear();
  }

  private async doSave(): Promise<void> {
    if (this.deleted) return;
    const body = this.body();
    const title = effectiveTitle(this.title, body);
    const tags = [...this.tags];
    if (this.id === null && !this.hasContent()) {
      this.state = "dirty";
      this.emit();
      return;
    }
    if (this.id !== null && !this.dirty()) {
      this.pending = ChangeSet.empty(this.doc.length);
      this.state = "saved";
      this.error = null;
      this.emit();
      return;
    }
    this.state = "saving";
    this.emit();
    this.sinceSend = ChangeSet.empty(this.doc.length);
    try {
      if (this.id === null) {
        const id = await this.api.noteNew({ title, body, tags, aliases: [] });
        this.id = id;
        const view = await this.api.noteShow(id);
        const same = normalizeBody(view.body) === body;
        // Nobody else knew the id yet, so the stored body is ours; if not, an empty head set
        // makes the refresh below merge the difference.
        this.base = { title: view.title, body, tags: [...view.tags], heads: same ? view.heads : [] };
        if (!sameTags(view.tags, tags) && sameTags(this.tags, tags)) this.tags = [...view.tags];
        if (!same) void this.refresh();
      } else {
        const reply = await this.api.noteEdit(this.id, {
          title,
          body,
          tags,
          // The editor does not edit aliases: the node keeps them as they are.
          aliases: null,
          base: this.base.heads,
        });
        this.base = { title, body, tags, heads: reply.heads };
      }
      this.updatedAt = Date.now();
      this.pending = this.sinceSend ?? ChangeSet.empty(this.doc.length);
      this.sinceSend = null;
      this.conflicts = 0;
      this.error = null;
      if (this.dirty()) {
        this.state = "dirty";
        if (!this.closed) this.schedule();
        else void this.save();
      } else {
        this.state = "saved";
      }
      this.emit();
    } catch (e) {
      this.sinceSend = null;
      const err = errorOf(e);
      if (err.kind === "conflict" && this.conflicts < MAX_CONFLICT_RETRIES) {
        this.conflicts += 1;
        this.state = "dirty";
        this.emit();
        // Merge what changed elsewhere; the refresh saves again if anything is left.
        void this.refresh();
        return;
      }
      if (err.kind === "not_found") {
        this.markDeleted();
        return;
      }
      this.state = "error";
      this.error = err.message;
      this.emit();
    }
  }

  private async doRefresh(): Promise<void> {
    if (this.id === null || this.deleted) return;
    let view: NoteView;
    try {
      view = await this.api.noteShow(this.id);
    } catch (e) {
      const err = errorOf(e);
      if (err.kind === "not_found") this.markDeleted();
      return;
    }
    if (this.deleted || view.id !== this.id) return;
    if (sameHeads(view.heads, this.base.heads)) {
      // This window's own save, or nothing new; a conflict retry still needs a save.
      if (this.conflicts > 0 && this.dirty()) void this.save();
      return;
    }
    // From here to the end of the merge nothing awaits: the editor cannot change in between.
    const remoteBody = normalizeBody(view.body);
    const body = this.body();
    const keepTitle = effectiveTitle(this.title, body) !== this.base.title;
    const keepTags = !sameTags(this.tags, this.base.tags);
    const rebased = rebaseBody(this.base.body, this.pending, remoteBody);
    this.doc = rebased.remote.apply(this.doc);
    this.pending = rebased.pending;
    if (!keepTitle) this.title = view.title;
    if (!keepTags) this.tags = [...view.tags];
    this.base = {
      title: view.title,
      body: remoteBody,
      tags: [...view.tags],
      heads: [...view.heads],
    };
    this.updatedAt = view.updated_at;
    if (!rebased.remote.empty) this.host?.applyRemote(rebased.remote, rebased.inserted);
    if (this.dirty()) {
      this.state = "dirty";
      this.emit({ title: !keepTitle, tags: !keepTags });
      void this.save();
    } else {
      this.state = "saved";
      this.error = null;
      this.emit({ title: !keepTitle, tags: !keepTags });
    }
  }
}
