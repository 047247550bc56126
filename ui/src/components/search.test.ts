// The search palette, the links under a note, and the import and export dialog, on the mock
// node (or a transport that holds replies back, to order them).

import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setTransport, type Transport } from "../lib/api";
import { app } from "../lib/app.svelte";
import type { Hit, Request } from "../lib/bindings";
import { MockNode } from "../lib/mockNode";
import Markdown from "./Markdown.svelte";
import NoteLinks from "./NoteLinks.svelte";
import Palette from "./Palette.svelte";
import VaultDialog from "./VaultDialog.svelte";

vi.mock("@tauri-apps/plugin-dialog", () => ({
  open: vi.fn(async () => "/home/ada/picked"),
}));

type Listener = (payload: unknown) => void;

/** A transport on `node`, recording every request; `hook` may answer a command first. */
function useNode(
  node: MockNode,
  hook?: (cmd: string, args: Record<string, unknown> | undefined) => Promise<unknown> | undefined,
): { requests: Request[]; emit: (event: string, payload: unknown) => void } {
  const requests: Request[] = [];
  const listeners = new Map<string, Set<Listener>>();
  const transport: Transport = {
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      const hooked = hook?.(cmd, args);
      if (hooked !== undefined) return (await hooked) as T;
      if (cmd === "execute") {
        const request = args?.request as Request;
        requests.push(request);
        return structuredClone(node.execute(request)) as T;
      }
      return undefined as T;
    },
    listen: async <T,>(event: string, handler: (payload: T) => void) => {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      const fn = (p: unknown) => handler(p as T);
      set.add(fn);
      return () => set.delete(fn);
    },
  };
  setTransport(transport);
  app.identity = node.identity;
  app.spaces = node.spaceInfos();
  return {
    requests,
    emit: (event, payload) => {
      for (const fn of listeners.get(event) ?? []) fn(payload);
    },
  };
}

function searches(requests: Request[]): Extract<Request, { op: "search" }>[] {
  return requests.filter((r): r is Extract<Request, { op: "search" }> => r.op === "search");
}

async function type(text: string): Promise<HTMLInputElement> {
  const input = screen.getByTestId("palette-input") as HTMLInputElement;
  await fireEvent.input(input, { target: { value: text } });
  return input;
}

beforeEach(() => {
  app.note = null;
  app.question = null;
  app.view = "notes";
  app.spaceId = null;
  app.spaces = [];
  app.dialog = null;
  app.overlay = "palette";
  app.searchAll = true;
  app.notes = [];
  app.questions = [];
});

afterEach(() => {
  vi.useRealTimers();
});

describe("Palette search", () => {
  it("shows the node's hits while typing, with the matches marked", async () => {
    const node = new MockNode();
    const pg = node.add("note", "Why we pin Postgres 15", "The planner change in Postgres 16 slowed reports.", ["postgres"]);
    node.add("note", "Deploy checklist", "build, test, ship");
    const { requests } = useNode(node);
    render(Palette);

    await type("postg");
    const hit = await screen.findByTestId("palette-hit");
    expect(hit.getAttribute("data-id")).toBe(pg);
    const title = within(hit).getByTestId("palette-hit-title");
    expect(title.textContent).toBe("Why we pin Postgres 15");
    expect(Array.from(title.querySelectorAll("mark")).map((m) => m.textContent)).toEqual(["Postg"]);
    const snippet = within(hit).getByTestId("palette-hit-snippet");
    expect(Array.from(snippet.querySelectorAll("mark")).map((m) => m.textContent)).toEqual(["Postg"]);
    expect(hit.textContent).toContain("#postgres");
    // The selection starts on the best hit, and the input says so.
    expect(hit.getAttribute("aria-selected")).toBe("true");
    expect(screen.getByTestId("palette-input").getAttribute("aria-activedescendant")).toBe(hit.id);
    expect(screen.getByTestId("palette-count").textContent).toBe("1 result");
    const last = searches(requests).at(-1);
    expect(last).toEqual({ op: "search", query: "postg", space: null, limit: 20 });
    // In its own space: no space chip.
    expect(within(hit).queryByTestId("palette-hit-space")).toBeNull();
  });

  it("asks once for a burst of keys", async () => {
    const node = new MockNode();
    node.add("note", "Deploy checklist", "build");
    const { requests } = useNode(node);
    render(Palette);
    await type("d");
    await type("de");
    await type("dep");
    await screen.findByTestId("palette-hit");
    expect(searches(requests).map((r) => r.query)).toEqual(["dep"]);
  });

  it("drops a reply that comes after a newer query's", async () => {
    const node = new MockNode();
    node.add("note", "Alpha plan", "");
    const held: { query: string; resolve: (v: unknown) => void }[] = [];
    useNode(node, (cmd, args) => {
      const request = args?.request as Request | undefined;
      if (cmd !== "execute" || request?.op !== "search") return undefined;
      return new Promise((resolve) => held.push({ query: request.query, resolve }));
    });
    render(Palette);
    const reply = (id: string, title: string) => ({
      reply: "hits",
      total: 1,
      items: [{ id, kind: "note", title, title_marks: [], space: node.identity.personal_space, space_name: "Personal", snippet: "", snippet_marks: [], tags: [], author: "m", updated_at: 0, score: 1 } satisfies Hit],
    });

    await type("al");
    await waitFor(() => expect(held.length).toBe(1));
    await type("alp");
    await waitFor(() => expect(held.length).toBe(2));
    // The newer query answers first, then the older one.
    held[1].resolve(reply("new", "For alp"));
    await waitFor(() => expect(screen.getByTestId("palette-hit").getAttribute("data-id")).toBe("new"));
    held[0].resolve(reply("old", "For al"));
    await new Promise((r) => setTimeout(r, 30));
    const shown = screen.getAllByTestId("palette-hit").map((h) => h.getAttribute("data-id"));
    expect(shown).toEqual(["new"]);
  });

  it("opens the selected hit with Enter, switching to its space", async () => {
    const node = new MockNode();
    const team = node.addSpace("Platform team", { sync: "up_to_date" });
    node.add("note", "Unrelated", "nothing");
    const id = node.add("note", "Runbook for the ingest worker", "restart it", [], undefined, team);
    useNode(node);
    render(Palette);
    const input = await type("ingest");
    const hit = await screen.findByTestId("palette-hit");
    expect(within(hit).getByTestId("palette-hit-space").textContent).toBe("Platform team");
    await fireEvent.keyDown(input, { key: "Enter" });
    expect(app.overlay).toBe(null);
    expect(app.spaceId).toBe(team);
    expect(app.view).toBe("notes");
    expect(app.note?.id).toBe(id);
  });

  it("opens a question hit on the questions page", async () => {
    const node = new MockNode();
    const q = node.add("question", "How do I rotate the TLS certificate?", "");
    useNode(node);
    render(Palette);
    const input = await type("rotate");
    await screen.findByTestId("palette-hit");
    await fireEvent.keyDown(input, { key: "Enter" });
    expect(app.view).toBe("questions");
    expect(app.question).toBe(q);
  });

  it("moves with the arrow keys", async () => {
    const node = new MockNode();
    node.add("note", "Deploy one", "", [], 1);
    const second = node.add("note", "Deploy two", "", [], 2);
    useNode(node);
    render(Palette);
    const input = await type("deploy");
    await waitFor(() => expect(screen.getAllByTestId("palette-hit")).toHaveLength(2));
    const first = screen.getAllByTestId("palette-hit")[0];
    expect(first.getAttribute("data-id")).toBe(second); // newest first (same title score)
    await fireEvent.keyDown(input, { key: "ArrowDown" });
    const active = screen.getAllByTestId("palette-hit").find((h) => h.getAttribute("aria-selected") === "true");
    expect(active).toBe(screen.getAllByTestId("palette-hit")[1]);
    expect(input.getAttribute("aria-activedescendant")).toBe(active?.id);
  });

  it("filters change the request: this space, and notes or questions", async () => {
    const node = new MockNode();
    node.add("note", "Deploy checklist", "");
    node.add("question", "How do we deploy on Fridays?", "");
    const { requests } = useNode(node);
    render(Palette);
    const input = await type("deploy");
    await waitFor(() => expect(screen.getAllByTestId("palette-hit")).toHaveLength(2));

    await fireEvent.click(screen.getByTestId("palette-scope-space"));
    await waitFor(() => expect(searches(requests).at(-1)?.space).toBe(node.identity.personal_space));
    expect(app.searchAll).toBe(false);

    await fireEvent.click(screen.getByTestId("palette-kind-question"));
    expect(input.value).toBe("deploy kind:question ");
    expect(screen.getByTestId("palette-kind-question").getAttribute("aria-pressed")).toBe("true");
    await waitFor(() => expect(screen.getAllByTestId("palette-hit")).toHaveLength(1));
    expect(screen.getByTestId("palette-hit").getAttribute("data-kind")).toBe("question");
    expect(searches(requests).at(-1)?.query).toBe("deploy kind:question");

    // Typed filters light the toggles too; Alt+N switches to notes.
    await fireEvent.keyDown(input, { key: "n", altKey: true });
    expect(input.value).toBe("deploy kind:note ");
    await waitFor(() => expect(screen.getByTestId("palette-hit").getAttribute("data-kind")).toBe("note"));
  });

  it("says when nothing matches, with a way out", async () => {
    const node = new MockNode();
    node.add("note", "Deploy checklist", "");
    useNode(node);
    app.searchAll = false;
    render(Palette);
    await type("zebra");
    const empty = await screen.findByTestId("palette-empty");
    expect(empty.textContent).toContain("No notes or questions match “zebra” in Personal.");
    expect(empty.textContent).toContain("all spaces");
  });

  it("shows a failed search inline and falls back to titles", async () => {
    const node = new MockNode();
    useNode(node, (cmd, args) => {
      const request = args?.request as Request | undefined;
      if (cmd === "execute" && request?.op === "search") return Promise.reject({ kind: "internal", message: "the index is damaged" });
      return undefined;
    });
    app.notes = [{ id: "n1", kind: "note", title: "Deploy checklist", tags: [], author: "m", space: "s", created_at: 0, updated_at: 0, answers: 0, accepted: false }];
    render(Palette);
    await type("deploy");
    const err = await screen.findByTestId("palette-error");
    expect(err.textContent).toContain("the index is damaged");
    const entry = screen.getAllByTestId("palette-entry").find((e) => e.getAttribute("data-id") === "n1");
    expect(entry?.textContent).toContain("Deploy checklist");
  });

  it("renders a peer's title and snippet as text, never as HTML", async () => {
    const node = new MockNode();
    node.add("note", "<img src=x onerror=alert(1)> evil", "<script>alert(2)</script> evil body");
    useNode(node);
    render(Palette);
    await type("evil");
    const hit = await screen.findByTestId("palette-hit");
    expect(hit.querySelector("img, script")).toBeNull();
    expect(within(hit).getByTestId("palette-hit-title").textContent).toBe("<img src=x onerror=alert(1)> evil");
    expect(within(hit).getByTestId("palette-hit-snippet").textContent).toContain("<script>alert(2)</script>");
  });

  it("keeps commands reachable: > lists them, and matching titles show in a group", async () => {
    const node = new MockNode();
    const { requests } = useNode(node);
    render(Palette);
    const input = await type("> export");
    const entries = screen.getAllByTestId("palette-entry").map((e) => e.getAttribute("data-id"));
    expect(entries).toEqual(["cmd:export-space", "cmd:export-all"]);
    await fireEvent.keyDown(input, { key: "ArrowDown" });
    await fireEvent.keyDown(input, { key: "Enter" });
    expect(app.dialog).toEqual({ kind: "export", all: true });
    expect(searches(requests)).toHaveLength(0);

    app.overlay = "palette";
    await type("import");
    expect(screen.getAllByTestId("palette-entry")[0].getAttribute("data-id")).toBe("cmd:import");
    expect(screen.getByText("Commands")).toBeTruthy();
  });
});

describe("NoteLinks", () => {
  it("lists links, unresolved targets and backlinks, and opens them", async () => {
    const node = new MockNode();
    const b = node.add("note", "Bravo", "Back to [[Alpha]].", [], 1);
    const a = node.add("note", "Alpha", "See [[Bravo]] and [[Nowhere]].", [], 2);
    const q = node.add("question", "Why [[Alpha]]?", "Because [[Alpha]].", [], 3);
    useNode(node);
    render(NoteLinks, { id: a });
    const out = await screen.findByTestId("link-out");
    expect(out.getAttribute("data-id")).toBe(b);
    expect(out.textContent).toContain("Bravo");
    expect(screen.getByTestId("link-unresolved").textContent).toContain("Nowhere");
    const back = screen.getAllByTestId("link-back").map((e) => e.getAttribute("data-id"));
    expect(back).toEqual([q, b]); // newest change first
    expect(screen.getByTestId("note-links").textContent).toContain("Linked from");

    await fireEvent.click(out);
    expect(app.note?.id).toBe(b);
    await fireEvent.click(screen.getAllByTestId("link-back")[0]);
    expect(app.view).toBe("questions");
    expect(app.question).toBe(q);
  });

  it("is one quiet line when nothing links either way", async () => {
    const node = new MockNode();
    const a = node.add("note", "Lonely", "No links.");
    useNode(node);
    render(NoteLinks, { id: a });
    const empty = await screen.findByTestId("note-links-empty");
    expect(empty.textContent).toContain("No other note links here yet");
    expect(screen.queryByTestId("links-out")).toBeNull();
  });

  it("reads the links again after a change elsewhere", async () => {
    const node = new MockNode();
    const a = node.add("note", "Alpha", "");
    useNode(node);
    render(NoteLinks, { id: a });
    await screen.findByTestId("note-links-empty");
    const c = node.add("note", "Charlie", "Links [[alpha]] in lower case.");
    app.onEvent({ event: "document_changed", id: c, space: node.identity.personal_space, kind: "note", deleted: false, remote: true });
    await waitFor(() => expect(screen.getByTestId("link-back").getAttribute("data-id")).toBe(c), { timeout: 2000 });
  });
});

describe("VaultDialog", () => {
  it("imports: progress while it runs, then what it did, file by file", async () => {
    const node = new MockNode();
    let finish: (v: unknown) => void = () => {};
    let asked: Record<string, unknown> | undefined;
    const { emit } = useNode(node, (cmd, args) => {
      if (cmd !== "import_folder") return undefined;
      asked = args;
      return new Promise((resolve) => (finish = resolve));
    });
    render(VaultDialog, { mode: "import" });
    const start = screen.getByTestId("vault-start");
    expect(start.textContent).toContain("Import into Personal");

    await fireEvent.click(start);
    expect(screen.getByRole("alert").textContent).toContain("Choose the folder");
    expect(asked).toBeUndefined();

    await fireEvent.input(screen.getByTestId("vault-dir"), { target: { value: "/home/ada/notes" } });
    await fireEvent.click(screen.getByTestId("vault-start"));
    await waitFor(() => expect(asked).toEqual({ dir: "/home/ada/notes", space: null }));
    const progress = screen.getByTestId("vault-progress");
    expect(progress.textContent).toContain("Reading the folder…");
    emit("vault-progress", { done: 2, total: 5, path: "projects/plan.md" });
    await waitFor(() => expect(progress.textContent).toContain("2 of 5 files"));
    expect(progress.textContent).toContain("projects/plan.md");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("2");
    // Esc or ✕ does not lose the summary while it runs.
    await fireEvent.click(screen.getByTestId("dialog-close"));
    app.dialog = { kind: "import" };

    finish({
      created: 3,
      updated: 1,
      unchanged: 0,
      skipped: [{ path: "images/logo.png", reason: "not a Markdown file" }],
      failed: [{ path: "broken.md", reason: "not UTF-8 text" }],
      warnings: [],
    });
    const summary = await screen.findByTestId("vault-summary");
    expect(screen.getByTestId("vault-created").textContent).toBe("3 created");
    expect(screen.getByTestId("vault-updated").textContent).toBe("1 updated");
    expect(screen.getByTestId("vault-unchanged").textContent).toBe("0 unchanged");
    expect(screen.getByTestId("vault-failed").textContent).toContain("broken.md — not UTF-8 text");
    expect(screen.getByTestId("vault-skipped").textContent).toContain("images/logo.png — not a Markdown file");
    expect(summary.textContent).toContain("Imported into Personal");
    await fireEvent.click(screen.getByTestId("vault-done"));
    expect(app.dialog).toBe(null);
  });

  it("imports into the space chosen", async () => {
    const node = new MockNode();
    const team = node.addSpace("Platform team");
    let asked: Record<string, unknown> | undefined;
    useNode(node, (cmd, args) => {
      if (cmd !== "import_folder") return undefined;
      asked = args;
      return Promise.resolve({ created: 0, updated: 0, unchanged: 0, skipped: [], failed: [], warnings: [] });
    });
    render(VaultDialog, { mode: "import" });
    await fireEvent.change(screen.getByTestId("vault-space"), { target: { value: team } });
    await fireEvent.input(screen.getByTestId("vault-dir"), { target: { value: "/tmp/in" } });
    await fireEvent.click(screen.getByTestId("vault-start"));
    await screen.findByTestId("vault-summary");
    expect(asked).toEqual({ dir: "/tmp/in", space: team });
  });

  it("exports everything and says where to", async () => {
    const node = new MockNode();
    let asked: Record<string, unknown> | undefined;
    useNode(node, (cmd, args) => {
      if (cmd !== "export_folder") return undefined;
      asked = args;
      return Promise.resolve({ notes: 12, questions: 1, files: 13, dir: "/home/ada/export" });
    });
    render(VaultDialog, { mode: "export", all: true });
    await fireEvent.click(screen.getByTestId("vault-browse"));
    await waitFor(() => expect((screen.getByTestId("vault-dir") as HTMLInputElement).value).toBe("/home/ada/picked"));
    await fireEvent.click(screen.getByTestId("vault-start"));
    const summary = await screen.findByTestId("vault-summary");
    expect(asked).toEqual({ dir: "/home/ada/picked", space: null });
    expect(summary.textContent).toContain("Exported 12 notes and 1 question");
    expect(screen.getByTestId("vault-export-dir").textContent).toBe("/home/ada/export");
    expect(summary.textContent).toContain("13 files written");
  });

  it("exports only the selected space from 'this space'", async () => {
    const node = new MockNode();
    const team = node.addSpace("Platform team");
    let asked: Record<string, unknown> | undefined;
    useNode(node, (cmd, args) => {
      if (cmd !== "export_folder") return undefined;
      asked = args;
      return Promise.resolve({ notes: 1, questions: 0, files: 1, dir: "/tmp/out" });
    });
    app.spaceId = team;
    render(VaultDialog, { mode: "export" });
    expect(screen.getByTestId("vault-dialog").textContent).toContain("Writes Platform team as Markdown");
    await fireEvent.input(screen.getByTestId("vault-dir"), { target: { value: "/tmp/out" } });
    await fireEvent.click(screen.getByTestId("vault-start"));
    await screen.findByTestId("vault-summary");
    expect(asked).toEqual({ dir: "/tmp/out", space: team });
  });

  it("shows a failure in the dialog and keeps the form", async () => {
    const node = new MockNode();
    useNode(node, (cmd) => {
      if (cmd !== "export_folder") return undefined;
      return Promise.reject({ kind: "invalid", message: "/nope is not a folder" });
    });
    render(VaultDialog, { mode: "export" });
    await fireEvent.input(screen.getByTestId("vault-dir"), { target: { value: "/nope" } });
    await fireEvent.click(screen.getByTestId("vault-start"));
    const err = await screen.findByRole("alert");
    expect(err.textContent).toBe("The export stopped: /nope is not a folder");
    expect((screen.getByTestId("vault-start") as HTMLButtonElement).disabled).toBe(false);
  });
});

describe("wiki links in rendered Markdown", () => {
  it("open the note they name, by title or through the search", async () => {
    const node = new MockNode();
    const bravo = node.add("note", "Bravo", "");
    const charlie = node.add("note", "Charlie camp", "");
    useNode(node);
    app.notes = [{ id: bravo, kind: "note", title: "Bravo", tags: [], author: "m", space: node.identity.personal_space, created_at: 0, updated_at: 0, answers: 0, accepted: false }];
    render(Markdown, { source: "Go to [[bravo]], then [[Charlie camp|the camp]], not [[Nowhere]]." });
    const links = Array.from(document.querySelectorAll<HTMLAnchorElement>("a.wikilink"));
    expect(links.map((a) => a.textContent)).toEqual(["bravo", "the camp", "Nowhere"]);
    await fireEvent.click(links[0]);
    await waitFor(() => expect(app.note?.id).toBe(bravo));
    // Not in the list: the node finds it.
    await fireEvent.click(links[1]);
    await waitFor(() => expect(app.note?.id).toBe(charlie));
    await fireEvent.click(links[2]);
    await waitFor(() => expect(links[2].getAttribute("title")).toContain("No note is called “Nowhere”"));
    expect(app.note?.id).toBe(charlie);
  });
});
