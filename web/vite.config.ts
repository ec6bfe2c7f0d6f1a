import { defineConfig, type Plugin } from "vite";

// socket.io-client carries one documentation address inside an error message; the built client
// names no outside address at all, so it is cut (the message still says what is wrong).
function noOutsideUrls(): Plugin {
  return {
    name: "peerrooms-no-outside-urls",
    renderChunk(code) {
      const cleaned = code.replace(/ ?\(more information here: https:\/\/socket\.io\/[^)]*\)/g, "");
      return cleaned === code ? null : { code: cleaned, map: null };
    },
  };
}

// The entry script blocks rendering until it has run, so the theme chosen on this device
// (theme.ts) is on the page before its first paint: a dark choice never flashes light. Vite
// writes the built page's script tag itself, so the attribute is added to what it wrote.
function renderBlockingEntry(): Plugin {
  return {
    name: "peerrooms-render-blocking-entry",
    transformIndexHtml: {
      order: "post",
      handler: (html) => html.replace('<script type="module" crossorigin', '<script type="module" blocking="render" crossorigin'),
    },
  };
}

// The dev server forwards the API and Socket.IO to a local `peerrooms serve`
// (PEERROOMS_DEV_SERVER, default http://127.0.0.1:8080).
const target = process.env.PEERROOMS_DEV_SERVER ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  plugins: [noOutsideUrls(), renderBlockingEntry()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    // Nothing inlined as data: URLs into scripts or styles; everything is a file under /assets.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      "/api": { target, changeOrigin: false },
      "/socket.io": { target, ws: true, changeOrigin: false },
    },
  },
});
