/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The desktop shell loads `ui/dist` into WebKitGTK (Tauri 2): relative asset paths, and a
// target that its JavaScriptCore understands.
export default defineConfig({
  base: "./",
  clearScreen: false,
  plugins: [svelte(), svelteTesting()],
  server: {
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: ["es2021", "safari15"],
    sourcemap: false,
    // One bundle read from local disk by the webview, not fetched over a network; the size is
    // mostly CodeMirror's Markdown support (which embeds HTML, CSS and JS highlighting).
    chunkSizeWarningLimit: 1024,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test-setup.ts"],
  },
});
