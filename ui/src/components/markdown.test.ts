// Clicks in rendered Markdown: only the renderer's own chips open an attachment, and no link,
// middle click or context menu leads out of the app.

import { fireEvent, render } from "@testing-library/svelte";
import { afterEach, describe, expect, it } from "vitest";
import { setTransport } from "../lib/api";
import Markdown from "./Markdown.svelte";

/** The commands the preview sent to the shell. */
function useShell(): { calls: { cmd: string; args?: Record<string, unknown> }[] } {
  const calls: { cmd: string; args?: Record<string, unknown> }[] = [];
  setTransport({
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      calls.push({ cmd, args });
      return null as T;
    },
    listen: async () => () => {},
  });
  return { calls };
}

afterEach(() => {
  document.body.innerHTML = "";
});

describe("clicks in a member's note", () => {
  const source =
    '<div data-attachment="q3.docx">The whole note</div>\n\n' +
    '<a href="#" class="attachment-chip" data-attachment="payload.odt">Q3.pdf</a> ' +
    "[elsewhere](https://evil.example/) ![[report.pdf]]";

  it("open only the attachment the renderer made a chip for", async () => {
    const { calls } = useShell();
    const { container } = render(Markdown, { source, note: "n1" });
    const opened = () => calls.filter((c) => c.cmd === "attachment_open").map((c) => c.args?.name);
    await fireEvent.click(container.querySelector("div.prose > div")!);
    const forged = Array.from(container.querySelectorAll("a")).find((a) => a.textContent === "Q3.pdf")!;
    // Not followed (default prevented) and nothing opened.
    expect(await fireEvent.click(forged)).toBe(false);
    expect(opened()).toEqual([]);
    await fireEvent.click(container.querySelector("a.attachment-chip")!);
    expect(opened()).toEqual(["report.pdf"]);
  });

  it("follow no link on a click, a middle click or the context menu", async () => {
    useShell();
    const { container } = render(Markdown, { source, note: "n1" });
    const link = Array.from(container.querySelectorAll("a")).find((a) => a.textContent === "elsewhere")!;
    expect(link.getAttribute("title")).toBe("https://evil.example/");
    expect(await fireEvent.click(link)).toBe(false);
    expect(await fireEvent(link, new MouseEvent("auxclick", { bubbles: true, cancelable: true, button: 1 }))).toBe(false);
    expect(await fireEvent.contextMenu(link)).toBe(false);
    expect(await fireEvent.contextMenu(container.querySelector("div.prose")!)).toBe(false);
  });
});
