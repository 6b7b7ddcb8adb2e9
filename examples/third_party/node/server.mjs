// whatsapp-api-js's node:http middleware, set up the way its README and the middleware's own
// doc comment (lib/middleware/node-http.js) say, for `fakemeta check`.
//
//   npm ci --prefix examples/third_party/node
//   node examples/third_party/node/server.mjs --port 8080 --verify-token T --app-secret S
//   fakemeta check http://127.0.0.1:8080/ --verify-token T --app-secret S --rate-limit off
//
// Everything that answers Meta's handshake and deliveries is the library's (handle_get,
// handle_post -> WhatsAppAPI.get / post / verifyRequestSignature); this file only routes the
// webhook path to them exactly as the doc comment's examples do, and answers what the examples
// leave unanswered (other methods, other paths) so that no request hangs. It listens on
// 127.0.0.1 only and makes no network call: the handlers below never reply, and the Graph API
// token is a placeholder that is never used.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { WhatsAppAPI } from "whatsapp-api-js/middleware/node-http";
import { NodeNext } from "whatsapp-api-js/setup/node";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "verify-token": { type: "string" },
    "app-secret": { type: "string" },
    path: { type: "string", default: "/" },
  },
});
if (!values.port || !values["verify-token"] || !values["app-secret"]) {
  console.error("usage: server.mjs --port P --verify-token T --app-secret S [--path /]");
  process.exit(2);
}

const Whatsapp = new WhatsAppAPI(
  NodeNext({
    token: "fakemeta-placeholder-token",
    appSecret: values["app-secret"],
    webhookVerifyToken: values["verify-token"],
    v: "v23.0",
  }),
);

const received = [];
Whatsapp.on.message = ({ message }) => {
  received.push(message.id);
};
Whatsapp.on.status = ({ id }) => {
  received.push(id);
};

const server = createServer(async (request, response) => {
  const { pathname } = new URL(request.url, "http://127.0.0.1");
  if (pathname !== values.path) {
    response.statusCode = 404;
    response.end();
    return;
  }
  // POST: as the doc comment of handle_post shows.
  if (request.method === "POST") {
    response.statusCode = await Whatsapp.handle_post(request);
    response.end();
    return;
  }
  // GET: as the doc comment of handle_get shows.
  if (request.method === "GET") {
    try {
      response.statusCode = 200;
      response.end(Whatsapp.handle_get(request));
    } catch (e) {
      response.statusCode = e;
      response.end();
    }
    return;
  }
  // Not in the library's examples (they leave the request unanswered): ours.
  response.statusCode = 405;
  response.setHeader("Allow", "GET, POST");
  response.end();
});

server.listen(Number(values.port), "127.0.0.1", () => {
  console.log(`whatsapp-api-js webhook on http://127.0.0.1:${values.port}${values.path}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
