// The quick capture window's page: Enter saves a note to the chosen space (first line the title,
// inline #tags shown as they are typed), Shift+Enter is a new line, Escape hides the window.

import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { setTransport } from "../lib/api";
import type { Request } from "../lib/bindings";
import { MockNode } from "../lib/mockNode";
import Capture from "./Capture.svelte";

function useNode(node: MockNode): string[] {
  const shell: string[] = [];
  setTransport({
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      if (cmd === "execute") return structuredClone(node.execute(args?.request as Request)) as T;
      shell.push(cmd);
      return undefined as T;
    },
    listen: async () => () => {},
  });
  return shell;
}

describe("Quick capture", () => {
  it("saves a note to the chosen space on Enter, keeps Shift+Enter for new lines, hides on Escape", async () => {
    const node = new MockNode();
    const space = node.addSpace("Platform", { sync: "up_to_date" });
    node.addSpace("Partners read-only", { role: "reader" });
    const shell = useNode(node);
    render(Capture);
    const select = (await screen.findByTestId("capture-space")) as HTMLSelectElement;
    await screen.findByText("Platform");
    expect([...select.options].map((o) => o.textContent), "not the spaces it cannot write in").toEqual(["Personal", "Platform"]);
    await fireEvent.change(select, { target: { value: space } });

    const text = screen.getByTestId("capture-text") as HTMLTextAreaElement;
    await fireEvent.input(text, { target: { value: "Rotate the cert #ops" } });
    expect(screen.getByText("#ops")).toBeTruthy();
    expect(await fireEvent.keyDown(text, { key: "Enter", shiftKey: true }), "a new line, not a save").toBe(true);
    await fireEvent.keyDown(text, { key: "Enter" });
    expect((await screen.findByTestId("capture-saved")).textContent).toContain("Saved to Platform");
    const notes = node.execute({ op: "note_list", limit: null, space });
    expect(notes.reply === "list" && notes.items.map((n) => [n.title, n.tags])).toEqual([["Rotate the cert #ops", ["ops"]]]);
    expect(text.value).toBe("");

    await fireEvent.keyDown(text, { key: "Escape" });
    expect(shell).toContain("hide_capture");
  });
});
