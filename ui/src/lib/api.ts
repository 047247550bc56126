// Every call into the desktop shell. The shell has seventeen commands (`app_state`, `init`,
// `execute`, `show_window`, `ui_painted`, `network_state`, `take_link`, `ticket_info`,
// `import_folder`, `export_folder`, `capture_settings`, `set_capture_shortcut`,
// `open_capture`, `hide_capture`, `attachment_image`, `attachment_open`, `attach_bytes`,
// `attach_clipboard_image`)
// and four events (`node-event`, `node-lagged`, `join-link`,
// `vault-progress`); nothing else in the UI calls `invoke` or `listen` (the folder picker is tauri-plugin-dialog's
// `open`, desktop notifications tauri-plugin-notification's `sendNotification`), so tests mock
// this module or `@tauri-apps/api/core`.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AppState,
  CaptureSettings,
  Draft,
  ErrorKind,
  Event as NodeEvent,
  ExpertInfo,
  ExportSummary,
  HealthView,
  Hit,
  Identity,
  ImportSummary,
  InboxItem,
  InviteInfo,
  Links,
  ListItem,
  NetStatus,
  AttachmentLimitsView,
  NetworkState,
  NoteEdit,
  NoteView,
  PeerInfo,
  PersonDetail,
  PersonInfo,
  ProfileEdit,
  Progress,
  QuestionView,
  RecordStatement,
  RecordView,
  Request,
  Response,
  Role,
  RouteInfo,
  SpaceDetail,
  SpaceInfo,
  Status,
  TicketInfo,
  TrashItem,
  UiMark,
  VersionDetail,
  VersionInfo,
} from "./bindings";

/** The import and export's types (tacit-vault's), for the callers of this module. */
export type { ExportSummary, FileNote, ImportSummary, Progress } from "./bindings";

/** A failed call, as the node or the shell explains it. */
export class ApiError extends Error {
  readonly kind: ErrorKind | "unexpected";

  constructor(kind: ErrorKind | "unexpected", message: string) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
  }

  /** The node behind the window has stopped (every request fails until the app restarts). */
  get stopped(): boolean {
    return this.kind === "stopped";
  }
}

/** Turns whatever a rejected `invoke` gave into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (typeof e === "object" && e !== null && "kind" in e && "message" in e) {
    return new ApiError(e.kind as ErrorKind, String(e.message));
  }
  if (e instanceof Error) return new ApiError("internal", e.message);
  return new ApiError("internal", String(e));
}

/** How the calls reach the shell; replaced only by the dev mock (VITE_TACIT_MOCK=1). */
export interface Transport {
  invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  listen<T>(event: string, handler: (payload: T) => void): Promise<UnlistenFn>;
}

const tauri: Transport = {
  invoke: (cmd, args) => invoke(cmd, args),
  listen: (event, handler) => listen(event, (e) => handler(e.payload as never)),
};

let transport: Transport = tauri;

/** Replaces the transport (the dev mock). */
export function setTransport(t: Transport): void {
  transport = t;
}

type HealthListener = (running: boolean) => void;
const health = new Set<HealthListener>();

/** Calls `fn(true)` after each request the node answered and `fn(false)` when one failed
 * because the node stopped. Returns the unsubscribe. */
export function onHealth(fn: HealthListener): () => void {
  health.add(fn);
  return () => health.delete(fn);
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await transport.invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

type Reply<K extends Response["reply"]> = Extract<Response, { reply: K }>;

/** Runs one request on the node and checks that the reply is the one expected. */
export async function execute<K extends Response["reply"]>(
  request: Request,
  expect: K,
): Promise<Reply<K>> {
  let response: Response;
  try {
    response = await call<Response>("execute", { request });
  } catch (e) {
    const err = toApiError(e);
    if (err.stopped) for (const fn of health) fn(false);
    else for (const fn of health) fn(true);
    throw err;
  }
  for (const fn of health) fn(true);
  if (response === null || typeof response !== "object" || response.reply !== expect) {
    const got =
      response !== null && typeof response === "object" ? String(response.reply) : typeof response;
    throw new ApiError("unexpected", `expected a "${expect}" reply to ${request.op}, got "${got}"`);
  }
  return response as Reply<K>;
}

// ---- the shell ---------------------------------------------------------------------------

/** What the window should show. */
export function appState(): Promise<AppState> {
  return call<AppState>("app_state");
}

/** First run: creates the home and its profile. */
export function init(name: string, org: string): Promise<AppState> {
  return call<AppState>("init", { name, org });
}

let readySent = false;
let showSent = false;
/** The launch's marks so far (see `mark`). */
const marks: UiMark[] = [];

/** Notes a moment of the launch (the script ran, the app state came…): sent with `uiPainted`,
 * the shell logs them at debug level (`TACIT_LOG=debug`) as ms after the app started. */
export function mark(name: string): void {
  if (!readySent && typeof performance !== "undefined") marks.push({ name, at: performance.now() });
}

/** Asks the shell, once, to show the window: called when the first screen's data has been read,
 * before it is built, so that mapping the window overlaps with building it. Not earlier: the
 * answers to the UI wait while the shell maps the window. */
export function showWindow(): void {
  if (showSent) return;
  showSent = true;
  mark("show");
  call<void>("show_window").catch(() => undefined);
}

/** Called once the first screen is in the page: shows the window if that was not asked yet, and
 * once two frames have been drawn in it tells the shell that the first screen has painted, for
 * the launch figure it logs. */
export async function uiPainted(): Promise<void> {
  if (readySent) return;
  mark("rendered");
  readySent = true;
  try {
    // The frames below come once the window is shown.
    showWindow();
    await new Promise<void>((resolve) =>
      requestAnimationFrame(() => requestAnimationFrame(() => resolve())),
    );
    marks.push({ name: "two frames drawn", at: performance.now() });
    await call<void>("ui_painted", { marks, now: performance.now() });
  } catch {
    // Only a log line depends on it.
  }
}

/** Every committed change (from this window, the CLI, later peers). */
export function onNodeEvent(fn: (e: NodeEvent) => void): Promise<UnlistenFn> {
  return transport.listen<NodeEvent>("node-event", fn);
}

/** Events were missed: whatever is shown must be read again. */
export function onNodeLagged(fn: (missed: number) => void): Promise<UnlistenFn> {
  return transport.listen<number>("node-lagged", fn);
}

/** A `tacit://join/…` link is waiting (a second launch was given one): take it. */
export function onJoinLink(fn: () => void): Promise<UnlistenFn> {
  return transport.listen<null>("join-link", () => fn());
}

/** Whether the network runs, is starting, or failed (and why). */
export function networkState(): Promise<NetworkState> {
  return call<NetworkState>("network_state");
}

/** The join link the app was opened with (or handed since), once; null when none. */
export function takeLink(): Promise<string | null> {
  return call<string | null>("take_link");
}

/** Imports the Markdown files under `dir` into `space` (an id; the personal space when null);
 * progress arrives as `vault-progress` events meanwhile. */
export function importFolder(dir: string, space: string | null): Promise<ImportSummary> {
  return call<ImportSummary>("import_folder", { dir, space });
}

/** Exports `space` (every space when null) as Markdown files under `dir`; progress arrives as
 * `vault-progress` events meanwhile. */
export function exportFolder(dir: string, space: string | null): Promise<ExportSummary> {
  return call<ExportSummary>("export_folder", { dir, space });
}

/** The quick capture shortcut and whether the desktop gave it to Tacit. */
export function captureSettings(): Promise<CaptureSettings> {
  return call<CaptureSettings>("capture_settings");
}

/** Sets the quick capture shortcut ("" turns it off); refused when it is not a shortcut. */
export function setCaptureShortcut(shortcut: string): Promise<CaptureSettings> {
  return call<CaptureSettings>("set_capture_shortcut", { shortcut });
}

/** Opens the quick capture window (as its shortcut does). */
export function openCapture(): Promise<void> {
  return call<void>("open_capture");
}

/** Hides the quick capture window. */
export function hideCapture(): Promise<void> {
  return call<void>("hide_capture");
}

/** An image attached to a note, as a data URL for the preview (fetched from a member of the
 * note's space first when it is not on this machine); null when it is not an image the preview
 * shows inline (too large, or not an image). */
export function attachmentImage(note: string, name: string): Promise<string | null> {
  return call<string | null>("attachment_image", { note, name });
}

/** Opens a note's attachment with the system's handler (fetched first when needed). */
export function attachmentOpen(note: string, name: string): Promise<void> {
  return call<void>("attachment_open", { note, name });
}

/** Attaches the file at `path` (a file dropped on the window) to a note, without touching its
 * body; the reference to put in the body, `![[name]]`. */
export async function attachFile(note: string, path: string): Promise<string> {
  const r = await execute({ op: "attach", id: note, path, name: null, embed: false }, "attached");
  return r.reference;
}

/** Attaches bytes (a pasted image) to a note under `name`, without touching its body; the
 * reference to put in the body. */
export function attachBytes(note: string, name: string, data: Uint8Array): Promise<string> {
  return call<string>("attach_bytes", { note, name, data: Array.from(data) });
}

/** Attaches the image on the system clipboard to a note under `name` (as PNG): the reference to
 * put in the body, or null when the clipboard holds no image. For pastes that bring the page
 * nothing (WebKitGTK gives a page no clipboard images). */
export function attachClipboardImage(note: string, name: string): Promise<string | null> {
  return call<string | null>("attach_clipboard_image", { note, name });
}

/** How far the running import or export is (a few times a second at most). */
export function onVaultProgress(fn: (p: Progress) => void): Promise<UnlistenFn> {
  return transport.listen<Progress>("vault-progress", fn);
}

/** Asks for a folder with the system's folder chooser; null when cancelled. Throws where there
 * is no chooser (a browser, a missing portal): the person types the path instead. */
export async function pickFolder(title: string, defaultPath?: string): Promise<string | null> {
  const { open } = await import("@tauri-apps/plugin-dialog");
  const picked = await open({ directory: true, multiple: false, title, defaultPath });
  return typeof picked === "string" ? picked : null;
}

/** `text` (a member's question title, their name) as a desktop notification shows it as text:
 * notification servers that read markup (KDE's, dunst, mako: the freedesktop spec's subset of
 * HTML) would otherwise show a member's `<b>`, follow their `<a href>` and load their `<img>`.
 * Only `&`, `<` and `>` are escaped: without a `<` no tag can start, and the servers that show
 * text as it is would print `&apos;` for every apostrophe of an ordinary title. */
export function notificationText(text: string): string {
  return text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c] ?? c);
}

/** Shows a desktop notification (tauri-plugin-notification), asking for the permission once
 * where the system wants that. Nothing happens where there is no plugin or no permission (a
 * browser on the dev mock, tests): the in-app toast says the same. */
export async function notify(title: string, body: string): Promise<void> {
  try {
    const n = await import("@tauri-apps/plugin-notification");
    let granted = await n.isPermissionGranted();
    if (!granted) granted = (await n.requestPermission()) === "granted";
    if (granted) n.sendNotification({ title: notificationText(title), body: notificationText(body) });
  } catch {
    // No notifications here.
  }
}

/** What a ticket says (space, role, expiry), read locally before joining. */
export function ticketInfo(ticket: string): Promise<TicketInfo> {
  return call<TicketInfo>("ticket_info", { ticket });
}

// ---- requests ----------------------------------------------------------------------------

function identityOf(r: Reply<"identity">): Identity {
  return { member: r.member, personal_space: r.personal_space, profile: r.profile };
}

function strip<T extends { reply: unknown }>(r: T): Omit<T, "reply"> {
  const { reply: _reply, ...rest } = r;
  return rest;
}

export async function whoami(): Promise<Identity> {
  return identityOf(await execute({ op: "whoami" }, "identity"));
}

export async function profileSet(edit: ProfileEdit): Promise<Identity> {
  return identityOf(await execute({ op: "profile_set", edit }, "identity"));
}

/** A new note in `space` (an id; the personal space when null). */
export async function noteNew(draft: Draft, space: string | null = null): Promise<string> {
  return (await execute({ op: "note_new", draft, space }, "created")).id;
}

/** Notes of `space` (the personal space when null), newest change first; only the newest
 * `limit` when given. */
export async function noteList(limit?: number, space: string | null = null): Promise<ListItem[]> {
  return (await execute({ op: "note_list", limit: limit ?? null, space }, "list")).items;
}

export async function noteShow(id: string): Promise<NoteView> {
  return strip(await execute({ op: "note_show", id }, "note"));
}

export async function noteEdit(
  id: string,
  edit: NoteEdit,
): Promise<{ id: string; changed: boolean; heads: string[] }> {
  return strip(await execute({ op: "note_edit", id, edit }, "done"));
}

export async function noteRm(id: string): Promise<void> {
  await execute({ op: "note_rm", id }, "done");
}

/** A note's versions, newest first. */
export async function noteHistory(id: string): Promise<VersionInfo[]> {
  return (await execute({ op: "note_history", id }, "history")).items;
}

/** One past version of a note, with its body's diff against now. */
export async function noteVersion(id: string, version: string): Promise<VersionDetail> {
  return strip(await execute({ op: "note_version", id, version }, "version"));
}

/** Makes a note read as a past version again (a new change); whether anything changed. */
export async function noteRestore(id: string, version: string): Promise<boolean> {
  return (await execute({ op: "note_restore", id, version }, "done")).changed;
}

/** Deletes a question (it goes to the trash). */
export async function questionRm(id: string): Promise<void> {
  await execute({ op: "question_rm", id }, "done");
}

/** Deleted notes and questions still restorable, of every space (or one), newest first. */
export async function trash(space: string | null = null): Promise<TrashItem[]> {
  return (await execute({ op: "trash", space }, "trash")).items;
}

/** Takes a note or question out of the trash. */
export async function restore(id: string): Promise<void> {
  await execute({ op: "restore", id }, "done");
}

export async function ask(draft: Draft, space: string | null = null): Promise<string> {
  return (await execute({ op: "ask", draft, space }, "created")).id;
}

export async function answer(question: string, body: string): Promise<string> {
  return (await execute({ op: "answer", question, body }, "answered")).id;
}

export async function accept(question: string, answerId: string): Promise<void> {
  await execute({ op: "accept", question, answer: answerId }, "done");
}

export async function thank(question: string, answerId: string): Promise<void> {
  await execute({ op: "thank", question, answer: answerId }, "done");
}

/** Questions of `space` (the personal space when null), newest change first; only the
 * newest `limit` when given. */
export async function questions(
  unanswered: boolean,
  limit?: number,
  space: string | null = null,
): Promise<ListItem[]> {
  return (await execute({ op: "questions", unanswered, limit: limit ?? null, space }, "list")).items;
}

export async function questionShow(id: string): Promise<QuestionView> {
  return strip(await execute({ op: "question_show", id }, "question"));
}

export async function status(): Promise<Status> {
  return strip(await execute({ op: "status" }, "status"));
}

// ---- spaces ------------------------------------------------------------------------------

/** Every space, the personal one first. */
export async function spaceList(): Promise<SpaceInfo[]> {
  return (await execute({ op: "space_list" }, "spaces")).items;
}

/** Creates a shared space (this member owns it). */
export async function spaceNew(name: string): Promise<{ id: string; name: string }> {
  return strip(await execute({ op: "space_new", name }, "space_created"));
}

export async function spaceShow(space: string): Promise<SpaceDetail> {
  const { reply: _reply, ...detail } = await execute({ op: "space_show", space }, "space");
  return detail;
}

/** A ticket inviting someone as `role`, valid for `expiresIn` ms (forever when null) and for
 * `uses` joins (any number when null). */
export async function spaceInvite(
  space: string,
  role: Role,
  expiresIn: number | null,
  uses: number | null,
): Promise<{ ticket: string; expires_at: number | null }> {
  return strip(
    await execute({ op: "space_invite", space, role, expires_in: expiresIn, uses }, "ticket"),
  );
}

/** Joins by ticket: reaches the inviter, joins, and waits for the first sync (seconds). */
export async function spaceJoin(ticket: string): Promise<{ id: string; name: string }> {
  return strip(await execute({ op: "space_join", ticket }, "space_created"));
}

export async function spaceRemove(space: string, member: string): Promise<SpaceDetail> {
  const { reply: _reply, ...detail } = await execute({ op: "space_remove", space, member }, "space");
  return detail;
}

/** Leaves a space: its members are told, and its copy on this device is deleted. */
export async function spaceLeave(space: string): Promise<void> {
  await execute({ op: "space_leave", space }, "space");
}

export async function peers(): Promise<PeerInfo[]> {
  return (await execute({ op: "peers" }, "peers")).items;
}

// ---- search and links --------------------------------------------------------------------

/** Notes and questions matching `query` (words, `"phrases"`, `tag:`, `kind:`, `space:`,
 * `author:`), best first; only `space`'s when given. `total` counts every match. */
export async function search(
  query: string,
  space: string | null = null,
  limit?: number,
): Promise<{ items: Hit[]; total: number }> {
  const { items, total } = await execute({ op: "search", query, space, limit: limit ?? null }, "hits");
  return { items, total };
}

/** A note's `[[wiki links]]` both ways: the notes it reaches, targets that name none, and the
 * notes and questions linking to it. */
export async function noteLinks(id: string): Promise<Links> {
  return strip(await execute({ op: "note_links", id }, "links"));
}

// ---- people and giving --------------------------------------------------------------------

/** Who knows about `topic` (tags `#tls`, words), best first, with the reasons; only members of
 * `space` when given (the personal space is refused: nobody else is in it). */
export async function who(topic: string, space: string | null = null, limit?: number): Promise<ExpertInfo[]> {
  return (await execute({ op: "who", topic, space, limit: limit ?? null }, "experts")).items;
}

/** The members of a shared space as people, most giving first. */
export async function people(space: string): Promise<PersonInfo[]> {
  return (await execute({ op: "people", space }, "people")).items;
}

/** One person, in every space this home shares with them. */
export async function person(member: string): Promise<PersonDetail> {
  return strip(await execute({ op: "person", member }, "person"));
}

/** Whom a question is offered to, round by round. */
export async function questionRoutes(question: string): Promise<RouteInfo[]> {
  return (await execute({ op: "question_routes", question }, "routes")).items;
}

/** The inbox, newest first, and how many of its items are not seen yet. */
export async function inbox(): Promise<{ items: InboxItem[]; unread: number }> {
  const { items, unread } = await execute({ op: "inbox" }, "inbox");
  return { items, unread };
}

/** Marks inbox items as seen. */
export async function inboxSeen(keys: string[]): Promise<void> {
  await execute({ op: "inbox_seen", keys }, "following");
}

/** Follows a tag (questions on it land in the inbox); returns the tags followed. */
export async function follow(tag: string): Promise<string[]> {
  return (await execute({ op: "follow", tag }, "following")).tags;
}

export async function unfollow(tag: string): Promise<string[]> {
  return (await execute({ op: "unfollow", tag }, "following")).tags;
}

export async function following(): Promise<string[]> {
  return (await execute({ op: "following" }, "following")).tags;
}

/** A member's record (this member's when null), overall or in one space. */
export async function record(member: string | null = null, space: string | null = null): Promise<RecordView> {
  return strip(await execute({ op: "record", member, space }, "record"));
}

/** This member's record as a statement signed with its key (JSON text). */
export async function recordExport(): Promise<string> {
  return (await execute({ op: "record_export" }, "record_statement")).statement;
}

/** Checks a signed record statement: whose it is and what it says, or why it does not hold. */
export async function recordVerify(statement: string): Promise<RecordStatement> {
  return strip(await execute({ op: "record_verify", statement }, "record_verified"));
}

/** A space's health: who gives, how fast questions are answered, what waits. */
export async function spaceHealth(space: string): Promise<HealthView> {
  return strip(await execute({ op: "space_health", space }, "health"));
}

/** Confirms an answer as still right. */
export async function confirm(question: string, answerId: string): Promise<void> {
  await execute({ op: "confirm", question, answer: answerId }, "done");
}

/** Answers a question with a note: returns the new answer's id. */
export async function answerWithNote(question: string, note: string): Promise<string> {
  return (await execute({ op: "answer_with_note", question, note }, "answered")).id;
}

/** Makes a note of an answer in `space` (an id; the personal space when null): its id. */
export async function shareAsNote(question: string, answerId: string, space: string | null = null): Promise<string> {
  return (await execute({ op: "share_as_note", question, answer: answerId, space }, "created")).id;
}

// ---- network and space settings ------------------------------------------------------------

/** Reachability, external addresses and relays. */
export async function network(): Promise<NetStatus> {
  return strip(await execute({ op: "network" }, "network"));
}

/** Uses a relay (its multiaddr, ending in `/p2p/PEER_ID`). */
export async function relayAdd(addr: string): Promise<NetStatus> {
  return strip(await execute({ op: "relay_add", addr }, "network"));
}

/** Stops using a relay (its peer id or address). */
export async function relayRemove(relay: string): Promise<NetStatus> {
  return strip(await execute({ op: "relay_remove", relay }, "network"));
}

/** This home's limits on attachments, in bytes. */
export async function attachmentLimits(): Promise<AttachmentLimitsView> {
  return strip(
    await execute({ op: "attachment_limits", max_file: null, space_quota: null, auto_fetch: null }, "attachment_limits"),
  );
}

/** Changes the limits given (null: unchanged); kept in the home, in force at once. */
export async function setAttachmentLimits(change: {
  max_file?: number | null;
  space_quota?: number | null;
  auto_fetch?: number | null;
}): Promise<AttachmentLimitsView> {
  return strip(
    await execute(
      {
        op: "attachment_limits",
        max_file: change.max_file ?? null,
        space_quota: change.space_quota ?? null,
        auto_fetch: change.auto_fetch ?? null,
      },
      "attachment_limits",
    ),
  );
}

/** The open invitations of a space, newest first. */
export async function spaceInvites(space: string): Promise<InviteInfo[]> {
  return (await execute({ op: "space_invites", space }, "invites")).items;
}

/** Withdraws an invitation (owners only); returns the invitations still open. */
export async function spaceRevokeInvite(space: string, invite: string): Promise<InviteInfo[]> {
  return (await execute({ op: "space_revoke_invite", space, invite }, "invites")).items;
}

/** Changes this home's settings for a space. */
export async function spaceSettings(space: string, staleAfterDays: number | null): Promise<SpaceDetail> {
  const { reply: _reply, ...detail } = await execute(
    { op: "space_settings", space, stale_after_days: staleAfterDays },
    "space",
  );
  return detail;
}
