// The one polling helper of the JavaScript tests (tests/clients, tests/browser), the
// counterpart of tests/common/wait.rs: look at a condition until it holds or a bound passes,
// then fail naming what was awaited. No test sleeps a fixed time and then asserts.

/**
 * Resolves with the first truthy value of `cond()` (sync or async), looked at every `every`
 * ms; rejects with "`what`: not within `ms` ms" (and the last value seen) once `ms` have
 * passed. It looks once more after the bound, so a bound never fails a condition that holds.
 */
export async function waitUntil(what, cond, ms = 30_000, every = 100) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}
