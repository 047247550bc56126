import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it } from "vitest";
import { setTransport } from "../lib/api";
import { app } from "../lib/app.svelte";
import type { Request } from "../lib/bindings";
import { MockNode } from "../lib/mockNode";
import HistoryPanel from "./HistoryPanel.svelte";
import TrashPage from "./TrashPage.svelte";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

function useMock(): MockNode {
  const node = new MockNode();
  setTransport({
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      if (cmd === "execute") return structuredClone(node.execute(args?.request as Request)) as T;
      return undefined as T;
    },
    listen: async () => () => {},
  });
  node.listeners.add((e) => app.onEvent(e));
  app.identity = node.identity;
  return node;
}

beforeEach(() => {
  app.view = "notes";
  app.spaceId = null;
  app.spaces = [];
  app.historyOpen = true;
  app.now = Date.now();
});

describe("HistoryPanel", () => {
  function seeded(node: MockNode): { id: string; grace: string } {
    const now = Date.now();
    const team = node.addSpace("Platform team", { sync: "up_to_date" });
    const grace = node.addMember(team, { name: "Grace Hopper", org: "Navy" });
    const id = node.add("note", "Deploy checklist", "1. build\n2. ship", ["ops"], now - 3 * DAY, team);
    node.remoteEdit(id, { body: "1. build\n2. smoke tests\n3. ship" }, grace, now - 2 * DAY);
    node.remoteEdit(id, { body: "1. build\n2. ship\n3. celebrate" }, node.identity.member, now - HOUR);
    return { id, grace };
  }

  it("lists versions by both authors newest first, shows one against now, and restores it after a confirm", async () => {
    const node = useMock();
    const { id } = seeded(node);
    render(HistoryPanel, { id });
    const rows = await screen.findAllByTestId("history-version");
    expect(rows.map((r) => r.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      expect.stringMatching(/^AE Ada Example .* ago .*now$/),
      expect.stringMatching(/^GH Grace Hopper 2 days ago \+/),
      expect.stringMatching(/^AE Ada Example 3 days ago Created$/),
    ]);
    // Keyboard: arrows move between versions.
    rows[0].focus();
    await fireEvent.keyDown(rows[0], { key: "ArrowDown" });
    expect(document.activeElement).toBe(rows[1]);

    await fireEvent.click(rows[1]);
    const diff = await screen.findByTestId("history-diff");
    expect(diff.textContent).toContain("−2. smoke tests");
    expect(diff.textContent).toContain("+3. celebrate");
    await fireEvent.click(screen.getByTestId("history-tab-then"));
    expect(screen.getByTestId("history-body").textContent).toBe("1. build\n2. smoke tests\n3. ship");

    await fireEvent.click(screen.getByTestId("history-restore"));
    await fireEvent.click(screen.getByTestId("history-restore-confirm"));
    await screen.findByTestId("history-restored");
    expect(node.docs.get(id)!.body).toBe("1. build\n2. smoke tests\n3. ship");
    // Nothing rewritten: the restore is a new version on top of the old ones.
    await fireEvent.click(screen.getByTestId("history-back"));
    await waitFor(() => expect(screen.getAllByTestId("history-version")).toHaveLength(4));
  });

  it("says when there is only one version, and Esc closes the panel", async () => {
    const node = useMock();
    const id = node.add("note", "Fresh", "just written", []);
    render(HistoryPanel, { id });
    await screen.findByTestId("history-empty");
    await fireEvent.keyDown(screen.getByTestId("history-panel"), { key: "Escape" });
    expect(app.historyOpen).toBe(false);
  });

  it("says what failed, in place, with a way to try again", async () => {
    useMock();
    render(HistoryPanel, { id: "nosuchnote" });
    const err = await screen.findByTestId("error");
    expect(err.textContent).toContain("Could not read the history");
    expect(screen.getByText("Try again")).toBeTruthy();
  });
});

describe("TrashPage", () => {
  it("lists deleted notes and questions with space, who and days left, and restores one", async () => {
    const node = useMock();
    const now = Date.now();
    const team = node.addSpace("Platform team", { sync: "up_to_date" });
    const bo = node.addMember(team, { name: "Bo Lindqvist" });
    const rota = node.add("note", "Pager rota", "Mon: Ada", [], now - 6 * DAY, team);
    node.remoteDelete(rota, bo, now - 2 * HOUR);
    const q = node.add("question", "Where do the logs go?", "", [], now - 40 * DAY, team);
    node.remoteDelete(q, node.identity.member, now - 28 * DAY);
    const gone = node.add("note", "Long gone", "", [], now - 90 * DAY);
    node.remoteDelete(gone, node.identity.member, now - 31 * DAY);
    app.spaces = (node.execute({ op: "space_list" }) as { items: typeof app.spaces }).items;

    render(TrashPage);
    const items = await screen.findAllByTestId("trash-item");
    expect(items.map((i) => i.getAttribute("data-id"))).toEqual([rota, q]);
    expect(items[0].textContent).toContain("Platform team");
    expect(items[0].textContent).toContain("by Bo Lindqvist");
    expect(items[0].textContent).toContain("30 days left");
    expect(items[1].textContent).toContain("by you");
    expect(screen.getAllByTestId("trash-days")[1].textContent).toBe("2 days left");

    await fireEvent.click(screen.getAllByTestId("trash-restore")[0]);
    await screen.findByTestId("trash-restored");
    expect(node.docs.get(rota)!.deleted).toBe(false);
    await waitFor(() => expect(screen.getAllByTestId("trash-item")).toHaveLength(1));
  });

  it("teaches when empty", async () => {
    useMock();
    render(TrashPage);
    await screen.findByTestId("trash-empty");
  });

  it("offers a reader no restore", async () => {
    const node = useMock();
    const space = node.addSpace("Read only", { role: "reader" });
    const n = node.add("note", "Theirs", "", [], Date.now() - DAY, space);
    node.remoteDelete(n, node.identity.member, Date.now() - HOUR);
    app.spaces = (node.execute({ op: "space_list" }) as { items: typeof app.spaces }).items;
    render(TrashPage);
    const restore = await screen.findByTestId("trash-restore");
    expect((restore as HTMLButtonElement).disabled).toBe(true);
  });
});
