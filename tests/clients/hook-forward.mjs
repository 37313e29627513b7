// A Claude Code `command` hook that forwards its event to an HTTP endpoint, as an `http`
// hook would: `node hook-forward.mjs URL` reads the event JSON on stdin, POSTs it to URL
// with `Authorization: Bearer $BATON_TOKEN` and `X-Baton-Worker: $BATON_WORKER` from its
// environment, and prints the answer's body on stdout (which Claude Code reads as the hook's
// JSON output). Used for SessionStart, for which the pinned CLI refuses `http` hooks
// ("HTTP hooks are not supported for SessionStart", and Setup). A failed POST exits 1, a
// non-blocking hook error to Claude Code.
const url = process.argv[2];
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const headers = { "content-type": "application/json" };
if (process.env.BATON_TOKEN) headers.authorization = `Bearer ${process.env.BATON_TOKEN}`;
if (process.env.BATON_WORKER) headers["x-baton-worker"] = process.env.BATON_WORKER;
try {
  const res = await fetch(url, { method: "POST", headers, body: Buffer.concat(chunks) });
  const text = await res.text();
  if (!res.ok) {
    process.stderr.write(`hook-forward: HTTP ${res.status} from ${url}\n`);
    process.exit(1);
  }
  process.stdout.write(text);
} catch (e) {
  process.stderr.write(`hook-forward: ${url}: ${e.message}\n`);
  process.exit(1);
}
