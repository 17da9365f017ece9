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

test("no stored session: a new participant", () => {
  assert.deepEqual(credentialsFor({}), { participant_id: null, token: null });
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
  assert.deepEqual(credentialsFor({ subject_id: "someone-else" }), { participant_id: null, token: null });
});

test("corrupt storage reads as no session", () => {
  localStorage.setItem("igym:session", "{not json");
  assert.equal(loadSession(), null);
});
