// The REST client: same-origin JSON with the session cookie; errors carry status and detail.
// The server's words are English for logs and API clients; a page shows `error.<code>` from
// its own catalog (errorText), and names a 422's fields by their labels on the page.
import { hasKey, t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.body = body; // the parsed response, e.g. a 422's per-field list in body.detail
  }

  /** What is wrong with one field of a 422 (`loc` ends with `field`), in the page's language, or null. */
  fieldMessage(field) {
    const items = this.body && Array.isArray(this.body.detail) ? this.body.detail : [];
    const hit = items.find((d) => Array.isArray(d.loc) && d.loc[d.loc.length - 1] === field);
    return hit ? issueMessage(hit) : null;
  }
}

function detailText(detail) {
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

export async function api(path, { method = "GET", body, headers = {}, redirectOn401 = true } = {}) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && redirectOn401) {
    location.assign(`/login.html?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
    throw new ApiError(401, "unauthorized");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!response.ok) throw new ApiError(response.status, detailText(data && data.detail !== undefined ? data.detail : data), data);
  return data;
}

/** All items of a paginated list endpoint ({items,total,limit,offset}). */
export async function apiAll(path, pageSize = 200) {
  const items = [];
  for (let offset = 0; ; offset += pageSize) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=${pageSize}&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) return items;
  }
}

function fieldLabel(name) {
  if (hasKey(`field.${name}`)) return t(`field.${name}`);
  const input = document.querySelector(`[name="${CSS.escape(name)}"], #${CSS.escape(name)}, #${CSS.escape(name.replaceAll("_", "-"))}`);
  const label = input && (input.labels?.[0] || document.querySelector(`label[for="${CSS.escape(input.id)}"]`));
  return label ? label.textContent.trim() : name;
}

/** One 422 item in words: the catalog's phrase for its `type` (our validators' codes or pydantic's), with its `ctx`. */
function issueMessage(issue) {
  const kind = hasKey(`error.validation.${issue.type}`) ? `error.validation.${issue.type}`
    : hasKey(`error.${issue.type}`) ? `error.${issue.type}` : "error.validation.other";
  return t(kind, issue.ctx && typeof issue.ctx === "object" ? issue.ctx : {});
}

/** What a person reads for a failed call: the catalog's text for the server's code, never raw English. */
export function errorText(error) {
  if (!(error instanceof ApiError)) return t("error.generic");
  const body = error.body && typeof error.body === "object" ? error.body : {};
  const issues = Array.isArray(body.detail) ? body.detail : [];
  if (error.status === 422 && issues.length && (body.code === "invalid" || !hasKey(`error.${body.code}`))) {
    return issues.slice(0, 5).map((issue) => {
      const loc = (issue.loc || []).filter((p) => typeof p === "string" && p !== "body" && p !== "query");
      const message = issueMessage(issue);
      return loc.length ? t("error.field", { field: fieldLabel(loc[loc.length - 1]), message }) : message;
    }).join(" ");
  }
  if (body.code && hasKey(`error.${body.code}`)) return t(`error.${body.code}`, body);
  return t("error.generic");
}

export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
