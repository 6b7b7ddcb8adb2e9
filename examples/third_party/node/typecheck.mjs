// A second opinion on fakemeta's payloads: type-check webhook POST bodies against
// whatsapp-api-js's own type for them (PostData, lib/types.d.ts) with the TypeScript compiler.
//
//   npm ci --prefix examples/third_party/node
//   node examples/third_party/node/typecheck.mjs payloads.json
//
// payloads.json holds a JSON array of whole POST bodies ({"object": ..., "entry": [...]}).
// Each becomes `const p<N>: PostData = <json>;` in a temporary .mts file, so that tsc checks
// every object literal directly, excess properties included: a field we send that the type
// lacks is reported. Prints {"checked": N, "errors": [{"index", "path", "message"}]} and
// exits 0 whenever tsc ran, type errors or not; bad input or a broken setup: one line on
// stderr and exit 2.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const TSC = join(HERE, "node_modules", "typescript", "bin", "tsc");
const HEADER = 'import type { PostData } from "whatsapp-api-js/types";\n';

function fail(message) {
  console.error(`typecheck.mjs: ${message}`);
  process.exit(2);
}

function readPayloads(file) {
  if (!file) fail("usage: node typecheck.mjs PAYLOADS.json");
  let data;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    fail(`cannot read ${file}: ${error.message}`);
  }
  if (!Array.isArray(data)) fail(`${file} must hold a JSON array of webhook payloads`);
  data.forEach((p, i) => {
    if (p === null || typeof p !== "object" || Array.isArray(p)) fail(`payload ${i} is not an object`);
  });
  return data;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

// Pretty-prints `value` one property or element per line, recording each line's JSON path,
// so that a diagnostic's line number names the field it is about.
function render(value, path, indent, lines, paths, prefix = "", suffix = "") {
  const pad = "  ".repeat(indent);
  const entries = Array.isArray(value)
    ? value.map((v, i) => [`${path}[${i}]`, "", v])
    : value !== null && typeof value === "object"
      ? Object.entries(value).map(([k, v]) => [
          IDENTIFIER.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`,
          `${JSON.stringify(k)}: `,
          v,
        ])
      : null;
  if (entries === null || entries.length === 0) {
    lines.push(pad + prefix + JSON.stringify(value) + suffix);
    paths.push(path);
    return;
  }
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  lines.push(pad + prefix + open);
  paths.push(path);
  entries.forEach(([p, key, v], i) =>
    render(v, p, indent + 1, lines, paths, key, i < entries.length - 1 ? "," : ""),
  );
  lines.push(pad + close + suffix);
  paths.push(path);
}

function source(payloads) {
  const lines = HEADER.trimEnd().split("\n");
  const owners = lines.map(() => ({ index: null, path: "" }));
  payloads.forEach((payload, index) => {
    const body = [];
    const paths = [];
    render(payload, "$", 0, body, paths, `const p${index}: PostData = `, ";");
    lines.push(...body);
    owners.push(...paths.map((path) => ({ index, path })));
  });
  return { text: lines.join("\n") + "\n", owners };
}

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    noEmit: true,
    target: "es2022",
    module: "nodenext",
    moduleResolution: "nodenext", // honours the package's "exports" and their "types" conditions
    skipLibCheck: true, // the library's own declarations are not what is being checked
    types: [],
  },
  files: ["payloads.mts"],
};

// `file(line,col): error TSnnnn: headline` then indented lines elaborating it.
const DIAGNOSTIC = /^(.*)\((\d+),(\d+)\): error (TS\d+): (.*)$/;

function diagnostics(output) {
  const found = [];
  for (const line of output.split(/\r?\n/)) {
    const match = DIAGNOSTIC.exec(line);
    if (match) found.push({ file: match[1], line: Number(match[2]), code: match[4], text: [match[5]] });
    else if (line.trim() && found.length) found.at(-1).text.push(line.trim());
    else if (line.trim()) found.push({ file: "", line: 0, code: "", text: [line.trim()] });
  }
  return found;
}

const payloads = readPayloads(process.argv[2]);
if (!existsSync(TSC)) fail(`no ${TSC}: run npm ci --prefix examples/third_party/node`);
const { text, owners } = source(payloads);
const dir = mkdtempSync(join(tmpdir(), "fakemeta-typecheck-"));
const link = join(dir, "node_modules");
let run;
try {
  writeFileSync(join(dir, "payloads.mts"), text);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
  // The temp dir resolves "whatsapp-api-js/types" through a link to this directory's node_modules.
  symlinkSync(join(HERE, "node_modules"), link, "junction");
  run = spawnSync(process.execPath, [TSC, "--project", dir, "--pretty", "false"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
} finally {
  try {
    unlinkSync(link); // the link only, never what it points to
  } catch {}
  rmSync(dir, { recursive: true, force: true });
}

if (run.error) fail(`cannot run ${TSC}: ${run.error.message}`);
const errors = [];
for (const d of diagnostics(run.stdout + run.stderr)) {
  const owner = d.file.endsWith("payloads.mts") ? owners[d.line - 1] : undefined;
  const message = `${d.code ? d.code + ": " : ""}${d.text.join(" ")}`;
  if (owner?.index == null) fail(`tsc failed outside the payloads: ${message}`);
  errors.push({ index: owner.index, path: owner.path, message });
}
if (run.status !== 0 && errors.length === 0) fail(`tsc exited ${run.status} without diagnostics`);
console.log(JSON.stringify({ checked: payloads.length, errors }));
