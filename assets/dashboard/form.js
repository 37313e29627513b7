// The "Add task" form: builds a task spec from the fields, POSTs it to api/v1/tasks, and shows a
// refusal next to the field it names.
import { api } from './api.js';
import { scheduleRender, upsert } from './state.js';
import { $, clearError, notice, showError, splitList } from './util.js';

export function setupForm() {
  const form = $('[data-testid="add-task-form"]');
  const ferr = $('[data-testid="form-error"]');
  const fail = (err, field) => {
    ferr.textContent = err.message;
    ferr.hidden = false;
    showError(err);
    const name = field || err.field;
    const input = name && form.elements.namedItem(String(name).replace(/\[.*$/, '').replace(/^.*\./, ''));
    if (input && input.focus) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  };
  form.addEventListener('input', (e) => { if (e.target.removeAttribute) e.target.removeAttribute('aria-invalid'); });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    ferr.hidden = true;
    const val = (name) => form.elements.namedItem(name).value;
    const spec = { title: val('title').trim() };
    const id = val('id').trim();
    if (id) spec.id = id;
    if (val('description').trim()) spec.description = val('description');
    const intField = (name) => {
      const raw = val(name).trim();
      if (raw === '') return undefined;
      const n = Number(raw);
      if (!Number.isInteger(n)) throw Object.assign(new Error(`${name.replace('_', ' ')} must be an integer`), { code: 'invalid_input', field: name });
      return n;
    };
    try {
      const prio = intField('priority');
      if (prio !== undefined && prio !== 0) spec.priority = prio;
      const ma = intField('max_attempts');
      if (ma !== undefined) spec.max_attempts = ma;
      const to = intField('timeout_secs');
      if (to !== undefined) spec.timeout_secs = to;
      const tags = splitList(val('tags'));
      if (tags.length) spec.tags = tags;
      const deps = splitList(val('dependencies'));
      if (deps.length) spec.dependencies = deps;
      const payload = val('payload').trim();
      if (payload) {
        try { spec.payload = JSON.parse(payload); } catch (err) {
          throw Object.assign(new Error(`Payload is not valid JSON: ${err.message}`), { code: 'invalid_json', field: 'payload' });
        }
      }
    } catch (err) { fail(err); return; }
    const btn = $('[data-testid="add-task-submit"]');
    btn.disabled = true;
    try {
      const t = await api('api/v1/tasks', { method: 'POST', body: spec });
      if (t && t.id) upsert(t);
      clearError();
      notice(`Added ${t && t.id ? t.id : 'task'}`);
      form.reset();
      scheduleRender();
    } catch (err) {
      fail(err);
    } finally {
      btn.disabled = false;
    }
  });
}
