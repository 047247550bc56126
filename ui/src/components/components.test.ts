import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setTransport } from "../lib/api";
import { app } from "../lib/app.svelte";
import type { ListItem, Request } from "../lib/bindings";
import { MockNode } from "../lib/mockNode";
import FirstRun from "./FirstRun.svelte";
import NoteList from "./NoteList.svelte";
import QuestionDoc from "./QuestionDoc.svelte";
import StatusBar from "./StatusBar.svelte";

function useMock(): MockNode {
  const node = new MockNode();
  setTransport({
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      if (cmd === "execute") return structuredClone(node.execute(args?.request as Request)) as T;
      if (cmd === "init") return node.init(String(args?.name), String(args?.org)) as T;
      if (cmd === "app_state") return node.appState() as T;
      return undefined as T;
    },
    listen: async () => () => {},
  });
  app.identity = node.identity;
  return node;
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
      { id: "a-mine", author: node.identity.member, body: "My answer", created_at: 1, accepted: false, thanked_by: [], score: 0 },
      { id: "a-other", author: "other-member-1234", body: "Use `certbot`", created_at: 2, accepted: false, thanked_by: [], score: 0 },
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
    app.status = { home: "/h", member: "m", pid: 1, serving: true, notes: 1, questions: 2, db_bytes: 0 };
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
});
