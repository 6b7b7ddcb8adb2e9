// The control API of `fakemeta serve` (`/_fakemeta/...`): the only server the console talks to.

export const API = "/_fakemeta";

/** A failed call: the server's `error` text, or why the server could not be reached. */
export class ApiError extends Error {}

/** A JSON call to the control API; non-2xx answers throw `ApiError` with the server's reason. */
export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (exc) {
    throw new ApiError(`cannot reach fakemeta serve (${exc.message}): is it still running?`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch (exc) {
    data = null;
  }
  if (!response.ok) {
    const why = data && typeof data.error === "string" ? data.error : `HTTP ${response.status}`;
    throw new ApiError(`${method} ${API}${path}: ${why}`);
  }
  return data;
}
