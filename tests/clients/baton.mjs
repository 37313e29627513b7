// Starting the real `baton` binary for the Node clients (the tests in this directory and
// bench-mcp.mjs). Not a test file: `node --test "tests/clients/*.test.mjs"` does not run it.
import { spawn } from "node:child_process";

/**
 * `baton serve --bind 127.0.0.1:0 --data-dir DATA_DIR ...args` with `env` over the process
 * environment (`RUST_LOG=warn` unless given). Returns `{ child, url }`: `url` resolves with the
 * base URL from the "baton listening on" line, or rejects when baton exits or has not reported
 * it within 60 s.
 */
export function serve(baton, dataDir, args = [], env = {}) {
  const child = spawn(baton, ["serve", "--bind", "127.0.0.1:0", "--data-dir", dataDir, ...args], {
    env: { ...process.env, RUST_LOG: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`baton did not start: ${out}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/baton listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`baton exited with ${code}: ${out}`)));
  });
  return { child, url };
}
