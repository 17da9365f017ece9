import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { resetBrowser } from "./browser-stubs.mjs";
import { credentialsFor, loadSession, saveSession, subjectFrom, urlParams } from "../src/session.js";

beforeEach(() => resetBrowser());

const stored = { experiment_id: "e", participant_id: "abc", token: "T", subject: "abc" };

test("URL parameters are passed as strings; subject_id wins over PROLIFIC_PID", () => {
  resetBrowser("?PROLIFIC_PID=p&subject_id=s&x=1");
  assert.deepEqual(urlParams(), { PROLIFIC_PID: "p", subject_id: "s", x: "1" });
  assert.equal(subjectFrom(urlParams()), "s");
  assert.equal(subjectFrom({ PROLIFIC_PID: "p" }), "p");
  assert.equal(subjectFrom({}), null);
});

test("no stored session: the browser proposes an id and a token, the same until welcomed", () => {
  const first = credentialsFor({});
  assert.match(first.participant_id, /^[0-9a-f]{32}$/);
  assert.match(first.token, /^[0-9a-f]{64}$/);
  assert.deepEqual(credentialsFor({}), first);
  const named = credentialsFor({ PROLIFIC_PID: "p1" });
  assert.equal(named.participant_id, "p1");
  assert.deepEqual(credentialsFor({ PROLIFIC_PID: "p1" }), named);
  saveSession({ experiment_id: "e", participant_id: "p1", token: named.token, subject: "p1" });
  assert.deepEqual(credentialsFor({ PROLIFIC_PID: "p1" }), { participant_id: "p1", token: named.token });
});

test("the stored identity is presented when the URL names nobody or the same subject", () => {
  saveSession(stored);
  assert.deepEqual(loadSession(), stored);
  assert.deepEqual(credentialsFor({}), { participant_id: "abc", token: "T" });
  assert.deepEqual(credentialsFor({ subject_id: "abc" }), { participant_id: "abc", token: "T" });
  assert.deepEqual(credentialsFor({ PROLIFIC_PID: "abc" }), { participant_id: "abc", token: "T" });
});

test("a URL naming a different subject never gets the stored token", () => {
  saveSession(stored);
  const other = credentialsFor({ subject_id: "someone-else" });
  assert.equal(other.participant_id, "someone-else");
  assert.notEqual(other.token, "T");
});

test("corrupt storage reads as no session", () => {
  localStorage.setItem("igym:session", "{not json");
  assert.equal(loadSession(), null);
});
