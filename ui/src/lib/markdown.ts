// Markdown to safe HTML: marked renders, DOMPurify sanitises. A single line break shows as one,
// as in Obsidian and Joplin (not joined into the paragraph's line). Links keep their href as a
// tooltip (the preview never navigates: see Markdown.svelte); remote images are not loaded
// (the CSP refuses them anyway), so they are shown as their alt text. `[[wiki links]]` become
// links carrying their target in `data-wiki` (Markdown.svelte opens the note they name).
// `![[file]]` embeds name a note's attachment: an image becomes an `<img data-attachment>`
// without a source (Markdown.svelte asks the shell for its bytes as a data URL), any other file
// a chip `<a data-attachment>` that opens it with the system's handler; `![[Note]]` (no file
// extension, or `.md`) stays a link to the note.

import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: true, async: false });

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}

/** The note a `[[target]]`, `[[target|label]]` or `[[target#heading]]` names, and its text. */
export function parseWikiLink(inner: string): { target: string; label: string } {
  const [ref, ...rest] = inner.split("|");
  const target = ref.split("#")[0].trim();
  const label = rest.length > 0 ? rest.join("|").trim() : ref.trim();
  return { target, label: label || target };
}

/** File extensions the preview shows inline as images. */
const IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "avif"];

/** The extension of a file name, lowercased ("" when none). */
function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** Whether `![[name]]` names an image the preview shows inline. */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extension(name));
}

/** Whether `![[name]]` names a file (an attachment) rather than a note. */
export function isAttachmentName(name: string): boolean {
  const ext = extension(name);
  return ext !== "" && ext !== "md" && ext !== "markdown";
}

marked.use({
  extensions: [
    {
      name: "embed",
      level: "inline",
      start: (src: string) => src.indexOf("![["),
      tokenizer(src: string) {
        const m = /^!\[\[([^\[\]\n]+)\]\]/.exec(src);
        if (!m) return undefined;
        const { target, label } = parseWikiLink(m[1]);
        if (target === "") return undefined;
        return { type: "embed", raw: m[0], target, label };
      },
      renderer(token) {
        const { target, label } = token as unknown as { target: string; label: string };
        const name = escapeHtml(target.split("/").pop() ?? target);
        if (!isAttachmentName(target)) {
          return `<a href="#" class="wikilink" data-wiki="${escapeHtml(target)}">${escapeHtml(label)}</a>`;
        }
        if (isImageName(target)) {
          return `<img class="attachment" data-attachment="${name}" alt="${name}">`;
        }
        return `<a href="#" class="attachment-chip" data-attachment="${name}">${name}</a>`;
      },
    },
    {
      name: "wikilink",
      level: "inline",
      start: (src: string) => src.indexOf("[["),
      tokenizer(src: string) {
        const m = /^\[\[([^\[\]\n]+)\]\]/.exec(src);
        if (!m) return undefined;
        const { target, label } = parseWikiLink(m[1]);
        if (target === "") return undefined;
        return { type: "wikilink", raw: m[0], target, label };
      },
      renderer(token) {
        const { target, label } = token as unknown as { target: string; label: string };
        return `<a href="#" class="wikilink" data-wiki="${escapeHtml(target)}">${escapeHtml(label)}</a>`;
      },
    },
  ],
});

let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = node.getAttribute("href");
      const wiki = node.getAttribute("data-wiki");
      const file = node.getAttribute("data-attachment");
      if (file) node.setAttribute("title", `Open “${file}”`);
      else if (wiki) node.setAttribute("title", `Open “${wiki}”`);
      else if (href) node.setAttribute("title", href);
      node.setAttribute("rel", "noopener noreferrer");
    }
    if (node.tagName === "IMG" && node.hasAttribute("data-attachment")) {
      node.removeAttribute("src"); // its bytes come from the shell, never from the text
    } else if (node.tagName === "IMG") {
      const src = node.getAttribute("src") ?? "";
      if (!src.startsWith("data:")) {
        node.removeAttribute("src");
        node.setAttribute("data-blocked", src);
      }
    }
  });
}

/** `md` as sanitised HTML, safe for `{@html}`. */
export function renderMarkdown(md: string): string {
  hook();
  const html = marked.parse(md) as string;
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "button", "textarea", "select", "iframe"],
    FORBID_ATTR: ["style"],
  });
}
