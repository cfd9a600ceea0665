// Read a stored RFC 5322 message (the outbox's `rendered` copy): headers with encoded words
// decoded, and the plain-text part of a multipart message. Pure functions; the caller puts the
// results into the page as text (never as HTML).

function bytesOf(binary) {
  return Uint8Array.from(binary, (c) => c.charCodeAt(0) & 0xff);
}

function decodeText(bytes, charset = "utf-8") {
  try {
    return new TextDecoder(charset || "utf-8").decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

function unQuotedPrintable(text, { underscores = false } = {}) {
  const source = (underscores ? text.replace(/_/g, " ") : text).replace(/=\r?\n/g, "");
  const binary = source.replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  // Characters above 0xff cannot come from a 7-bit body; keep them as they are.
  if ([...binary].some((c) => c.charCodeAt(0) > 0xff)) return null;
  return bytesOf(binary);
}

/** Decode RFC 2047 encoded words (`=?utf-8?q?…?=`, `=?utf-8?b?…?=`) in a header value. */
export function decodeWords(value) {
  return value
    .replace(/(\?=)\s+(=\?)/g, "$1$2")
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (word, charset, encoding, text) => {
      try {
        const bytes = encoding.toLowerCase() === "b" ? bytesOf(atob(text)) : unQuotedPrintable(text, { underscores: true });
        return bytes ? decodeText(bytes, charset) : word;
      } catch {
        return word;
      }
    });
}

/** Split one entity into lower-case headers (unfolded, decoded) and its raw body. */
export function parseEntity(raw) {
  const text = raw.replace(/\r\n/g, "\n");
  const at = text.indexOf("\n\n");
  const head = at < 0 ? text : text.slice(0, at);
  const body = at < 0 ? "" : text.slice(at + 2);
  const headers = {};
  for (const line of head.replace(/\n[ \t]+/g, " ").split("\n")) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    if (colon > 0 && !(name in headers)) headers[name] = decodeWords(line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** A parameter of a structured header: param('text/plain; charset="utf-8"', "charset") → "utf-8". */
export function param(value, name) {
  const match = new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, "i").exec(value || "");
  return match ? (match[1] ?? match[2]) : null;
}

function splitParts(body, boundary) {
  const delimiter = `--${boundary}`;
  const parts = [];
  let current = null;
  for (const line of body.split("\n")) {
    const bare = line.trimEnd();
    if (bare === delimiter || bare === `${delimiter}--`) {
      if (current !== null) parts.push(current.join("\n"));
      if (bare.endsWith("--")) return parts;
      current = [];
    } else if (current !== null) {
      current.push(line);
    }
  }
  if (current !== null) parts.push(current.join("\n"));
  return parts;
}

/** The decoded body of a single-part entity. */
export function decodeBody({ headers, body }) {
  const encoding = (headers["content-transfer-encoding"] || "7bit").toLowerCase();
  const charset = param(headers["content-type"], "charset") || "utf-8";
  if (encoding === "base64") return decodeText(bytesOf(atob(body.replace(/\s+/g, ""))), charset);
  if (encoding === "quoted-printable") {
    const bytes = unQuotedPrintable(body);
    return bytes ? decodeText(bytes, charset) : body;
  }
  return body; // 7bit / 8bit: the stored copy is already text
}

/** The first inline text/plain part of a message (depth-first), decoded; null if there is none. */
export function plainText(raw) {
  const entity = typeof raw === "string" ? parseEntity(raw) : raw;
  const type = (entity.headers["content-type"] || "text/plain").split(";")[0].trim().toLowerCase();
  const disposition = (entity.headers["content-disposition"] || "").toLowerCase();
  if (type.startsWith("multipart/")) {
    const boundary = param(entity.headers["content-type"], "boundary");
    if (!boundary) return null;
    for (const part of splitParts(entity.body, boundary)) {
      const text = plainText(parseEntity(part));
      if (text !== null) return text;
    }
    return null;
  }
  if (type === "text/plain" && !disposition.startsWith("attachment")) return decodeBody(entity).replace(/\n$/, "");
  return null;
}
