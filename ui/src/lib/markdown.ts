// Markdown to safe HTML: marked renders, DOMPurify sanitises. Links keep their href as a
// tooltip (the preview never navigates: see Markdown.svelte); remote images are not loaded
// (the CSP refuses them anyway), so they are shown as their alt text. `[[wiki links]]` become
// links carrying their target in `data-wiki` (Markdown.svelte opens the note they name).

import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false, async: false });

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

marked.use({
  extensions: [
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
      if (wiki) node.setAttribute("title", `Open “${wiki}”`);
      else if (href) node.setAttribute("title", href);
      node.setAttribute("rel", "noopener noreferrer");
    }
    if (node.tagName === "IMG") {
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
