import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setTransport } from "../lib/api";
import { app } from "../lib/app.svelte";
import type { ListItem, Request, SpaceInfo, Status, SyncState } from "../lib/bindings";
import { answerView, memberInfo, MockNode } from "../lib/mockNode";
import FirstRun from "./FirstRun.svelte";
import NoteList from "./NoteList.svelte";
import QuestionDoc from "./QuestionDoc.svelte";
import StatusBar from "./StatusBar.svelte";
import Sidebar from "./Sidebar.svelte";
import SpacePage from "./SpacePage.svelte";
import NewSpaceDialog from "./NewSpaceDialog.svelte";
import InviteDialog from "./InviteDialog.svelte";
import JoinDialog from "./JoinDialog.svelte";

function useMock(): MockNode {
  const node = new MockNode();
  setTransport({
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      if (cmd === "execute") return structuredClone(node.execute(args?.request as Request)) as T;
      if (cmd === "init") return node.init(String(args?.name), String(args?.org)) as T;
      if (cmd === "app_state") return node.appState() as T;
      if (cmd === "network_state") return { state: "running", mdns: false } as T;
      if (cmd === "ticket_info") return node.ticketInfo(String(args?.ticket)) as T;
      if (cmd === "take_link") return null as T;
      return undefined as T;
    },
    listen: async () => () => {},
  });
  app.identity = node.identity;
  return node;
}

function status(peers: number): Status {
  return {
    home: "/h",
    member: "m",
    pid: 1,
    serving: true,
    notes: 1,
    questions: 2,
    db_bytes: 0,
    peer_id: "p",
    listen_addrs: [],
    peers: Array.from({ length: peers }, (_, i) => ({
      peer: `p${i}`,
      member: null,
      via: "direct" as const,
      relay: null,
      addrs: [],
      spaces: [],
      traffic: { frames_out: 0, frames_in: 0, bytes_out: 0, bytes_in: 0, round_trips: 0 },
    })),
    spaces: [],
    search: { docs: 0, pending: 0, rebuilding: false },
    reachability: "unknown",
    external_addrs: [],
    relays: [],
    relay_server: false,
  };
}

function notes(n: number): ListItem[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `n${i}`,
    kind: "note" as const,
    title: `Note ${i}`,
    tags: i % 2 ? ["odd"] : [],
    author: "m",
    space: "s",
    created_at: 0,
    updated_at: Date.now() - i * 60_000,
    answers: 0,
    accepted: false,
  }));
}

beforeEach(() => {
  app.note = null;
  app.question = null;
  app.view = "notes";
  app.spaceId = null;
  app.spaces = [];
  app.spaceDetail = null;
  app.dialog = null;
  app.network = { state: "running", mdns: false };
});

afterEach(() => {
  app.notes = [];
  app.notesLoaded = false;
});

describe("NoteList", () => {
  it("renders only the rows in view of 10,000 notes", async () => {
    app.notes = notes(10_000);
    app.notesLoaded = true;
    render(NoteList);
    const rows = screen.getAllByTestId("note-item");
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(40);
    expect(rows[0].getAttribute("data-id")).toBe("n0");
    expect(rows[0].querySelector('[data-testid="note-item-title"]')?.textContent).toBe("Note 0");
    const list = screen.getByTestId("note-list");
    expect(list.getAttribute("role")).toBe("listbox");
  });

  it("moves with the arrow keys and opens with Enter", async () => {
    app.notes = notes(5);
    app.notesLoaded = true;
    render(NoteList);
    const list = screen.getByTestId("note-list");
    list.focus();
    await tick();
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    await fireEvent.keyDown(list, { key: "Enter" });
    expect(app.note?.id).toBe("n2");
    const open = screen.getAllByTestId("note-item").find((r) => r.getAttribute("aria-current") === "true");
    expect(open?.getAttribute("data-id")).toBe("n2");
  });

  it("teaches when there are no notes", () => {
    app.notes = [];
    app.notesLoaded = true;
    render(NoteList);
    expect(screen.getByTestId("note-list").textContent).toContain("Write down what you just learned");
  });
});

describe("QuestionDoc", () => {
  function seed(node: MockNode, askedByMe: boolean) {
    const id = node.add("question", "How to rotate certs?", "Details **here**", ["tls"]);
    const doc = node.docs.get(id)!;
    if (!askedByMe) doc.author = "someone-else-0000";
    doc.answers.push(
      answerView({ id: "a-mine", author: node.identity.member, body: "My answer", created_at: 1 }),
      answerView({ id: "a-other", author: "other-member-1234", body: "Use `certbot`", created_at: 2 }),
    );
    return id;
  }

  it("lets the asker accept, and anyone thank others' answers but not their own", async () => {
    const node = useMock();
    const id = seed(node, true);
    render(QuestionDoc, { props: { id } });
    await screen.findByTestId("question-title");
    const answers = screen.getAllByTestId("answer");
    expect(answers.map((a) => a.getAttribute("data-id"))).toEqual(["a-mine", "a-other"]);
    const mine = answers[0];
    const other = answers[1];
    const thankMine = mine.querySelector<HTMLButtonElement>('[data-testid="thank"]')!;
    expect(thankMine.disabled).toBe(true);
    expect(thankMine.title).toMatch(/can't thank your own answer/);
    expect(other.querySelector('[data-testid="answer-text"]')?.innerHTML).toContain("<code>certbot</code>");

    await fireEvent.click(other.querySelector('[data-testid="thank"]')!);
    await waitFor(() =>
      expect(screen.getAllByTestId("answer")[1].querySelector('[data-testid="thank"]')?.textContent).toBe("Thanked"),
    );
    expect(screen.getAllByTestId("answer")[1].querySelector('[data-testid="thank-count"]')?.textContent).toBe("1");

    await fireEvent.click(screen.getAllByTestId("answer")[1].querySelector('[data-testid="accept"]')!);
    await waitFor(() => expect(screen.getAllByTestId("answer")[0].getAttribute("data-accepted")).toBe("true"));
    const first = screen.getAllByTestId("answer")[0];
    expect(first.getAttribute("data-id")).toBe("a-other");
    expect(first.textContent).toContain("Accepted");
    expect(first.querySelector('[data-testid="accept"]')).toBeNull();
  });

  it("shows no Accept button to someone who did not ask", async () => {
    const node = useMock();
    const id = seed(node, false);
    render(QuestionDoc, { props: { id } });
    await screen.findByTestId("question-title");
    expect(screen.queryAllByTestId("accept")).toEqual([]);
  });

  it("posts an answer with Ctrl+Enter and clears the box", async () => {
    const node = useMock();
    const id = seed(node, true);
    render(QuestionDoc, { props: { id } });
    const box = (await screen.findByTestId("answer-body")) as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: "Try **this**" } });
    await fireEvent.keyDown(box, { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(screen.getAllByTestId("answer").length).toBe(3));
    expect(box.value).toBe("");
    const answers = node.docs.get(id)!.answers;
    expect(answers[answers.length - 1].body).toBe("Try **this**");
  });
});

describe("FirstRun", () => {
  it("asks for a name, then starts", async () => {
    const node = useMock();
    node.state = "first_run";
    let started = false;
    render(FirstRun, { props: { home: "/h", onStarted: () => (started = true) } });
    await fireEvent.submit(screen.getByTestId("first-run"));
    expect(screen.getByTestId("error").textContent).toMatch(/name/);
    await fireEvent.input(screen.getByTestId("first-run-name"), { target: { value: "Grace" } });
    await fireEvent.input(screen.getByTestId("first-run-org"), { target: { value: "Navy" } });
    await fireEvent.click(screen.getByTestId("first-run-submit"));
    await waitFor(() => expect(started).toBe(true));
    expect(node.identity.profile.name).toBe("Grace");
  });
});

describe("StatusBar", () => {
  it("tells the node state and the counts, and earns its dot", async () => {
    app.node = "starting";
    app.status = status(0);
    app.save = null;
    render(StatusBar, { props: { home: "/h" } });
    expect(screen.getByTestId("node-state").textContent).toContain("Node starting");
    expect(screen.getByTestId("counts").textContent?.trim()).toBe("1 note · 2 questions");
    expect(screen.queryByTestId("save-state")).toBeNull();
    app.node = "stopped";
    app.save = { key: 1, state: "error", error: "disk full" };
    await tick();
    expect(screen.getByTestId("node-state").textContent).toContain("Node stopped");
    expect(screen.getByTestId("save-state").getAttribute("data-state")).toBe("error");
    expect(screen.getByTestId("save-state").textContent).toBe("Not saved: disk full");
  });

  it("says when the search index is catching up, and only then", async () => {
    app.status = status(0);
    render(StatusBar, { props: { home: "/h" } });
    expect(screen.queryByTestId("search-state")).toBeNull();
    app.status = { ...status(0), search: { docs: 1200, pending: 0, rebuilding: true } };
    await tick();
    expect(screen.getByTestId("search-state").textContent).toContain("Indexing for search… 1200 so far");
    app.status = { ...status(0), search: { docs: 5000, pending: 3, rebuilding: false } };
    await tick();
    expect(screen.getByTestId("search-state").textContent).toContain("Indexing…");
    expect(screen.getByTestId("search-state").getAttribute("title")).toBe("3 recent changes are not searchable yet.");
    app.status = status(0);
    await tick();
    expect(screen.queryByTestId("search-state")).toBeNull();
  });
});

function spaceInfo(name: string, sync: SyncState, connected = 0, extra: Partial<SpaceInfo> = {}): SpaceInfo {
  return { id: `id-${name}`, name, personal: false, role: "owner", members: 3, connected, sync, stale_after_days: 182, ...extra };
}

const PERSONAL: SpaceInfo = { id: "id-personal", name: "Personal", personal: true, role: "owner", members: 1, connected: 0, sync: "local", stale_after_days: 182 };

describe("StatusBar sharing", () => {
  it("tells peers and the selected space's sync state in words, for every state", async () => {
    app.node = "running";
    app.save = null;
    app.status = status(2);
    app.spaces = [PERSONAL, spaceInfo("Team", "offline"), spaceInfo("Ops", "syncing", 1), spaceInfo("Pilot", "up_to_date", 2)];
    render(StatusBar, { props: { home: "/h" } });
    const sync = () => screen.getByTestId("sync-state");
    expect(screen.getByTestId("peers").textContent?.trim()).toBe("2 peers connected");
    expect(sync().textContent?.trim()).toBe("This device only");
    expect(sync().getAttribute("data-state")).toBe("local");

    app.spaceId = "id-Team";
    await tick();
    expect(sync().textContent?.replace(/\s+/g, " ").trim()).toBe("○ Team: Offline — no member connected");
    app.spaceId = "id-Ops";
    await tick();
    expect(sync().textContent).toContain("Syncing with 1 member…");
    expect(sync().getAttribute("data-state")).toBe("syncing");
    app.spaceId = "id-Pilot";
    await tick();
    expect(sync().textContent).toContain("Up to date with 2 members");
    expect(sync().textContent).toContain("✓");

    app.status = status(0);
    app.network = { state: "failed", error: "address in use" };
    await tick();
    expect(screen.getByTestId("peers").textContent?.trim()).toBe("Sharing is off");
    expect(sync().textContent).toContain("Offline — the network did not start");
    expect(sync().getAttribute("data-state")).toBe("offline");
    expect(screen.getByTestId("network-error").textContent).toBe("The network did not start: address in use");

    app.network = { state: "running", mdns: false };
    await tick();
    expect(screen.getByTestId("peers").textContent?.trim()).toBe("No peers connected");
  });
});

describe("Sidebar spaces", () => {
  it("shows Personal first, then shared spaces with a sync glyph and words, and selects on click", async () => {
    const node = useMock();
    const team = node.addSpace("Team", { sync: "up_to_date" });
    node.spaces.get(team)!.members.push(memberInfo({ member: "x".repeat(52), name: "Grace", org: "Navy", role: "editor", joined_at: 1, connected: true }));
    await app.loadSpaces();
    render(Sidebar);
    const items = screen.getAllByTestId("space-item");
    expect(items.map((i) => i.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      "Personal",
      "Team ✓ up to date with 1 member",
    ]);
    expect(items[0].getAttribute("aria-current")).toBe("true");
    expect(screen.queryByTestId("nav-members")).toBeNull();
    await fireEvent.click(items[1]);
    expect(app.spaceId).toBe(team);
    expect(screen.getByTestId("selected-space").textContent).toBe("Team");
    expect(screen.getByTestId("nav-members").textContent).toContain("2");
    await fireEvent.click(screen.getByTestId("new-space"));
    expect(app.dialog).toEqual({ kind: "new-space" });
    await fireEvent.click(screen.getByTestId("join-space"));
    expect(app.dialog).toEqual({ kind: "join", ticket: "" });
  });
});

describe("space dialogs", () => {
  it("creates a space and selects it on its members page", async () => {
    const node = useMock();
    app.dialog = { kind: "new-space" };
    render(NewSpaceDialog);
    await fireEvent.click(screen.getByTestId("space-create"));
    expect(screen.getByTestId("error").textContent).toMatch(/name/);
    await fireEvent.input(screen.getByTestId("space-name-input"), { target: { value: "Platform team" } });
    await fireEvent.click(screen.getByTestId("space-create"));
    await waitFor(() => expect(app.dialog).toBeNull());
    const id = [...node.spaces.values()].find((s) => s.name === "Platform team")!.id;
    expect(app.spaceId).toBe(id);
    expect(app.view).toBe("members");
  });

  it("invites as editor for 7 days by default, then shows the ticket with Copy", async () => {
    const node = useMock();
    const sent: Request[] = [];
    const team = node.addSpace("Team");
    await app.loadSpaces();
    app.selectSpace(team);
    setTransport({
      invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
        if (cmd !== "execute") return undefined as T;
        sent.push(args?.request as Request);
        return structuredClone(node.execute(args?.request as Request)) as T;
      },
      listen: async () => () => {},
    });
    render(InviteDialog);
    expect((screen.getByTestId("invite-role-editor") as HTMLInputElement).checked).toBe(true);
    expect((screen.getByTestId("invite-expiry") as HTMLSelectElement).selectedOptions[0].textContent).toBe("7 days");
    await fireEvent.click(screen.getByTestId("invite-uses-one"));
    await fireEvent.click(screen.getByTestId("invite-create"));
    const field = (await screen.findByTestId("invite-ticket")) as HTMLTextAreaElement;
    expect(field.value).toMatch(/^tacit1/);
    expect(field.readOnly).toBe(true);
    expect(sent.find((r) => r.op === "space_invite")).toEqual({
      op: "space_invite",
      space: team,
      role: "editor",
      expires_in: 7 * 24 * 3600_000,
      uses: 1,
    });
    expect(screen.getByTestId("invite-note").textContent).toMatch(/running here and reachable/);
    let copiedText = "";
    Object.defineProperty(navigator, "clipboard", {
      value: { writeText: async (t: string) => void (copiedText = t) },
      configurable: true,
    });
    await fireEvent.click(screen.getByTestId("invite-copy"));
    await waitFor(() => expect(screen.getByTestId("invite-copied").textContent).toBe("Copied."));
    expect(copiedText).toBe(field.value);
  });

  it("joins by pasted ticket after showing the space and role, and selects the space", async () => {
    const node = useMock();
    // A peer's space that the ticket leads to.
    const peer = new MockNode();
    const pilot = peer.addSpace("Partner pilot", { sync: "up_to_date" });
    const ticket = peer.execute({ op: "space_invite", space: pilot, role: "reader", expires_in: null, uses: null });
    if (ticket.reply !== "ticket") throw new Error("no ticket");
    node.tickets = peer.tickets;
    node.reachable.set(pilot, { space: peer.spaces.get(pilot)!, docs: [] });
    await app.loadSpaces();
    app.dialog = { kind: "join", ticket: "" };
    render(JoinDialog, { props: { ticket: "" } });
    const submit = screen.getByTestId("join-submit") as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("join-ticket"), { target: { value: "hello" } });
    await waitFor(() => expect(screen.getByTestId("join-read-error").textContent).toMatch(/tacit1/));
    await fireEvent.input(screen.getByTestId("join-ticket"), { target: { value: `tacit://join/${ticket.ticket}` } });
    await waitFor(() => expect(screen.getByTestId("join-space-name").textContent).toBe("Partner pilot"));
    expect(screen.getByTestId("join-role").textContent).toBe("reader");
    expect(submit.disabled).toBe(false);
    await fireEvent.click(submit);
    await waitFor(() => expect(app.dialog).toBeNull());
    expect(app.spaceId).toBe(pilot);
    expect(app.spaces.map((s) => s.name)).toEqual(["Personal", "Partner pilot"]);
  });

  it("says what to do when the inviter cannot be reached", async () => {
    const node = useMock();
    const peer = new MockNode();
    const pilot = peer.addSpace("Partner pilot");
    const t = peer.execute({ op: "space_invite", space: pilot, role: "editor", expires_in: 3600_000, uses: 1 });
    if (t.reply !== "ticket") throw new Error("no ticket");
    node.tickets = peer.tickets; // but not reachable
    app.dialog = { kind: "join", ticket: t.ticket };
    render(JoinDialog, { props: { ticket: t.ticket } });
    await waitFor(() => expect((screen.getByTestId("join-submit") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByTestId("join-submit"));
    await waitFor(() => expect(screen.getByTestId("error").textContent).toMatch(/Could not reach the person who invited you/));
    expect(screen.getByTestId("error").textContent).toMatch(/running and reachable/);
    expect(app.dialog).not.toBeNull();
  });
});

describe("SpacePage", () => {
  async function page(role: "owner" | "reader") {
    const node = useMock();
    const team = node.addSpace("Team", { role, sync: "offline" });
    node.spaces.get(team)!.members.push(memberInfo({ member: "g".repeat(52), name: "Grace Hopper", org: "Navy", role: "editor", joined_at: 1, connected: false }));
    await app.loadSpaces();
    app.selectSpace(team, "members");
    await app.loadSpaceDetail();
    render(SpacePage);
    await screen.findAllByTestId("member");
    return { node, team };
  }

  it("shows members with role, org and connection, and lets an owner remove one after a confirm", async () => {
    const { node, team } = await page("owner");
    expect(screen.getByTestId("space-title").textContent).toBe("Team");
    expect(screen.getByTestId("space-role").textContent).toBe("owner");
    expect(screen.getByTestId("space-sync-state").textContent).toContain("Offline — no member connected");
    const grace = screen.getAllByTestId("member").find((m) => m.textContent?.includes("Grace Hopper"))!;
    expect(grace.textContent).toContain("Navy");
    expect(grace.textContent).toContain("Editor");
    expect(grace.querySelector('[data-testid="member-presence"]')?.textContent?.trim()).toBe("not connected");
    const me = screen.getAllByTestId("member").find((m) => m.textContent?.includes("you"))!;
    expect(me.querySelector('[data-testid="member-remove"]')).toBeNull();
    expect(screen.getByTestId("invite")).toBeTruthy();
    await fireEvent.click(grace.querySelector('[data-testid="member-remove"]')!);
    expect(screen.getByRole("alertdialog").textContent).toMatch(/copy they already hold stays/);
    await fireEvent.click(screen.getByTestId("member-remove-confirm"));
    await waitFor(() => expect(screen.getAllByTestId("member").length).toBe(1));
    expect(node.spaces.get(team)!.removed.length).toBe(1);
  });

  it("offers a reader no Invite or Remove, and Leave says the copy here is deleted", async () => {
    const { node, team } = await page("reader");
    expect(screen.queryByTestId("invite")).toBeNull();
    expect(screen.queryAllByTestId("member-remove")).toEqual([]);
    await fireEvent.click(screen.getByTestId("leave"));
    expect(screen.getByRole("alertdialog").textContent).toMatch(/deleted from this device/);
    await fireEvent.click(screen.getByTestId("leave-confirm"));
    await waitFor(() => expect(app.spaceId).toBeNull());
    expect(node.spaces.has(team)).toBe(false);
  });
});
