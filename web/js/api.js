// The REST client: same-origin JSON with the session cookie; errors carry status and detail.
export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.body = body; // the parsed response, e.g. a 422's per-field list in body.detail
  }

  /** The server's message for one body field of a 422 (`loc` ends with `field`), or null. */
  fieldMessage(field) {
    const items = this.body && Array.isArray(this.body.detail) ? this.body.detail : [];
    const hit = items.find((d) => Array.isArray(d.loc) && d.loc[d.loc.length - 1] === field);
    return hit ? hit.msg : null;
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

export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
