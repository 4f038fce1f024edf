// Renderer build. Vite 8 transforms TSX with oxc; the automatic JSX runtime means no React
// import in every file and no @vitejs/plugin-react.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  // Relative asset URLs: the same build is loaded from file:// in Electron and over HTTP in web mode.
  base: "./",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/renderer", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
  logLevel: "warn",
});
