// Traffic spread over many keys and users: KEYS_FILE (one API key per line, e.g. the file the benchmark runner
// writes) is shared by all VUs; each iteration takes the next key. Thresholds as in lib/common.js.
import http from 'k6/http';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import { CHAT_URL, MODEL, chatBody, chatParams, checkChat, env, makeOptions, waitReady } from './lib/common.js';

const keysFile = env('KEYS_FILE', '');
if (keysFile === '') throw new Error('KEYS_FILE is required (one API key per line)');

/** @type {string[]} */
const keys = new SharedArray('keys', () => open(keysFile).split('\n').map((l) => l.trim()).filter((l) => l !== ''));
if (keys.length === 0) throw new Error(`KEYS_FILE ${keysFile} has no keys`);

export const options = makeOptions();

const body = chatBody(MODEL, false);
/** @type {import('k6/http').Params[]} */
const params = keys.map((k) => chatParams(k));

export function setup() {
  return waitReady(keys[0], MODEL);
}

export default function () {
  const i = exec.scenario.iterationInTest % keys.length;
  checkChat(http.post(CHAT_URL, body, params[i]));
}
